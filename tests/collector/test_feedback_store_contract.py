"""The feedback store as other parts of the collector call it (OTLP-carried feedback uses
``insert_feedback`` with plain dicts), on SQLite and PostgreSQL: the stored columns analytics rely
on, one current vote under concurrent writers, and project isolation."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session as OrmSession

from plaudit_collector.store import feedback_reads, feedback_writes, score_configs, signing_keys
from plaudit_collector.store.db import Database
from plaudit_collector.store.tables import Feedback

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    database.create_schema()
    try:
        yield database
    finally:
        database.dispose()


def _rows(db: Database, project: str = "default") -> list[Feedback]:
    with OrmSession(db.engine) as session:
        return list(
            session.execute(select(Feedback).where(Feedback.project == project).order_by(Feedback.id)).scalars()
        )


def test_ingest_shaped_dicts_store_with_the_columns_analytics_read(db: Database) -> None:
    items: list[dict[str, Any]] = [
        {"trace_id": TRACE, "span_id": SPAN, "name": "thumbs", "value": False},  # minimal: other keys default
        {
            "trace_id": TRACE,
            "span_id": None,
            "name": "relevance",
            "value": 0.75,
            "comment": "ok",
            "correction": None,
            "source": "llm_judge",
            "author": "judge",
            "metadata": {"explanation": "close"},
            "idempotency_key": "otlp-1",
        },
        {"trace_id": TRACE, "span_id": SPAN, "name": "label", "value": "hallucinated", "source": "annotator"},
    ]
    ids = feedback_writes.insert_feedback(db, "default", items)
    assert len(ids) == 3 and ids == sorted(ids)
    assert feedback_writes.insert_feedback(db, "default", [items[1]]) == [ids[1]]  # idempotent
    rows = _rows(db)
    assert [(r.target_type, r.kind, r.score, r.label, r.source, r.is_current, r.deleted_at) for r in rows] == [
        ("span", "boolean", 0.0, None, "human", True, None),
        ("trace", "numeric", 0.75, None, "llm_judge", True, None),
        ("span", "categorical", None, "hallucinated", "annotator", True, None),
    ]
    assert rows[1].meta == {"explanation": "close"}


_AWKWARD: list[dict[str, Any]] = [
    {"value": None, "comment": "a comment on its own"},  # a note: JSON null in the value column
    {"value": 0.1 + 0.2, "metadata": {"z": 1, "a": [1.5, None, "é"], "b": {"c": True}}},
    {"value": 2**53 + 1, "comment": 'quotes " and \\ back\nslashes\t😀'},
    {"value": "hallucinated", "metadata": {}},
    {"value": False, "correction": "the right answer", "source": "annotator"},
]


def test_a_batch_stores_each_item_as_a_single_item_would(db: Database) -> None:
    """A batch takes another way into the database than a single item (on PostgreSQL, one statement that
    reads the rows from a JSON document); the stored columns are the same, JSON nulls and big numbers too."""

    def items(prefix: str) -> list[dict[str, Any]]:
        return [
            {
                "trace_id": TRACE,
                "span_id": f"{i + 1:016x}",
                "name": "q",
                "author": "a",
                "idempotency_key": f"{prefix}{i}",
                **extra,
            }
            for i, extra in enumerate(_AWKWARD)
        ]

    batch = feedback_writes.store_feedback(db, "batch", items("b"))
    singles = [feedback_writes.store_feedback(db, "single", [item])[0] for item in items("s")]
    strip = ("id", "idempotency_key", "created_at")
    assert [{k: v for k, v in r.items() if k not in strip} for r in batch] == [
        {k: v for k, v in r.items() if k not in strip} for r in singles
    ]
    assert [r.value for r in _rows(db, "batch")] == [r.value for r in _rows(db, "single")]
    assert [r.meta for r in _rows(db, "batch")] == [r.meta for r in _rows(db, "single")]
    assert batch[2]["value"] == 2**53 + 1 and batch[1]["value"] == 0.1 + 0.2


def test_a_stored_item_reads_the_same_from_the_reply_and_from_the_orm(db: Database) -> None:
    """The write's reply reads Core rows by mapping; the trace view and delete read ORM rows: one JSON form."""
    items = [
        {"trace_id": TRACE, "span_id": SPAN, "name": "pick", "value": "a", "other_trace_id": TRACE[::-1]},
        {"trace_id": TRACE, "span_id": None, "name": "stars", "value": 4, "comment": "ok", "metadata": {"k": [1]}},
        {"trace_id": TRACE, "span_id": SPAN, "name": "thumbs", "value": True, "author": "u"},
    ]
    replied = feedback_writes.store_feedback(db, "default", items)
    orm = [feedback_reads.feedback_dict(row) for row in _rows(db)]
    assert replied == orm
    assert list(replied[0]) == list(orm[0])  # the same keys, in the same order
    assert replied[0]["winner"] == "a" and replied[1]["winner"] is None
    assert all(row["created_at"].endswith("Z") and row["deleted_at"] is None for row in replied)
    deleted = feedback_writes.delete_feedback(db, "default", replied[2]["id"])
    assert deleted is not None and deleted["deleted_at"].endswith("Z") and deleted["is_current"] is False


def test_a_write_hands_back_what_a_later_read_finds(db: Database) -> None:
    """A write reads back only the ids of the rows it inserts and makes the rest from the values it inserted:
    single items and batches (each way into the database), merged revotes and a retried key all reply with
    what reading the rows again gives, key for key, JSON values included."""
    awkward = [*_AWKWARD, {"value": 3, "metadata": {"big": 2**70, "deep": [[{"x": -1.25e-7}]], "": "ü\u2028"}}]

    def items(prefix: str, span: int) -> list[dict[str, Any]]:
        return [
            {"trace_id": TRACE, "span_id": f"{span + i:016x}", "name": "q", "author": "a", **extra}
            | {"idempotency_key": f"{prefix}{i}"}
            for i, extra in enumerate(awkward)
        ]

    def store(batch: list[dict[str, Any]], singly: bool) -> list[dict[str, Any]]:
        if singly:
            replied = [feedback_writes.store_feedback(db, "default", [item])[0] for item in batch]
        else:
            replied = feedback_writes.store_feedback(db, "default", batch)
        by_id = {row.id: feedback_reads.feedback_dict(row) for row in _rows(db)}
        for mine in replied:
            assert mine == by_id[mine["id"]]
            assert list(mine) == list(by_id[mine["id"]])
        return replied

    first = store(items("batch", 1), singly=False)
    store(items("single", 101), singly=True)
    # the same authors again: each new row keeps what it leaves out of the vote it replaces
    merged = store(items("revote", 1), singly=False)
    merged += store(items("again", 101), singly=True)
    assert merged[0]["comment"] == "a comment on its own" and merged[0]["value"] is None
    assert len(_rows(db)) == 4 * len(awkward)
    retried = store(items("batch", 1), singly=False)  # the first rows, now replaced
    assert [row["id"] for row in retried] == [row["id"] for row in first]
    assert not any(row["is_current"] for row in retried)
    assert len(_rows(db)) == 4 * len(awkward)


def test_times_read_as_utc_with_a_z_whatever_zone_they_come_back_in() -> None:
    """SQLite gives naive times, PostgreSQL aware ones (its zone object, not ``timezone.utc``)."""
    iso = feedback_reads.iso_utc
    assert iso(None) is None
    assert iso(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05Z"
    assert iso(datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=timezone.utc)) == "2026-01-02T03:04:05.000006Z"
    assert iso(datetime(2026, 1, 2, 3, tzinfo=ZoneInfo("Etc/UTC"))) == "2026-01-02T03:00:00Z"
    assert iso(datetime(2026, 1, 2, 3, tzinfo=timezone(timedelta(hours=5)))) == "2026-01-01T22:00:00Z"
    assert iso(datetime(2026, 7, 1, tzinfo=ZoneInfo("Europe/Paris"))) == "2026-06-30T22:00:00Z"
    # the last time written is kept by identity: the same object again, then another, each reads as its own
    paris, naive = datetime(2026, 7, 1, tzinfo=ZoneInfo("Europe/Paris")), datetime(2026, 7, 1)
    assert [iso(paris), iso(paris), iso(naive), iso(paris)] == [
        "2026-06-30T22:00:00Z",
        "2026-06-30T22:00:00Z",
        "2026-07-01T00:00:00Z",
        "2026-06-30T22:00:00Z",
    ]


def test_a_batch_insert_carries_what_json_has_no_number_for(pg_url: str) -> None:
    """Rows inserted many at once keep NaN and infinities in float columns, times with their zone, and
    integers past 2**53 exactly (PostgreSQL reads them from one JSON document)."""
    from plaudit_collector.store.tables import utcnow
    from plaudit_collector.store.value_lists import insert_many

    db = Database(pg_url)
    db.create_schema()
    now = utcnow()
    base = {
        "project": "p",
        "target_type": "span",
        "trace_id": TRACE,
        "name": "q",
        "kind": "numeric",
        "value": 1,
        "source": "human",
        "is_current": True,
        "created_at": now,
        "metadata": None,
    }
    rows = [
        {
            **base,
            "span_id": "1",
            "idempotency_key": "k1",
            "span_experiment_probability": float("nan"),
            "span_start_ns": 2**63 - 1,
        },
        {
            **base,
            "span_id": "2",
            "idempotency_key": "k2",
            "span_experiment_probability": float("inf"),
            "span_start_ns": 2**53 + 1,
        },
        {
            **base,
            "span_id": "3",
            "idempotency_key": "k3",
            "span_experiment_probability": float("-inf"),
            "span_start_ns": -1,
        },
    ]
    try:
        with db.engine.begin() as conn:
            stored = sorted(insert_many(conn, Feedback.__table__, rows, returning=True), key=lambda r: r.span_id)
            # None in a JSON column is JSON null, as SQLAlchemy stores it, not SQL NULL
            kinds = conn.exec_driver_sql("SELECT DISTINCT jsonb_typeof(metadata) FROM feedback").scalars().all()
        with pytest.raises(ValueError), db.engine.begin() as conn:  # NaN inside a JSON value has no JSON form
            insert_many(conn, Feedback.__table__, [{**rows[0], "idempotency_key": "k4", "value": float("nan")}])
        with db.engine.connect() as conn:
            count = conn.exec_driver_sql("SELECT count(*) FROM feedback").scalar_one()
    finally:
        db.dispose()
    probability = [r.span_experiment_probability for r in stored]
    assert math.isnan(probability[0]) and probability[1:] == [math.inf, -math.inf]
    assert [r.span_start_ns for r in stored] == [2**63 - 1, 2**53 + 1, -1]
    assert {r.created_at for r in stored} == {now}
    assert [r.metadata for r in stored] == [None] * 3
    assert kinds == ["null"]
    assert count == 3


def test_a_batch_insert_keeps_json_values_whole_whichever_encoder_writes_them(pg_url: str) -> None:
    """orjson writes the batch's document unless a value needs the standard encoder (an integer past 64 bits);
    either way every value reads back as given, and a NaN deep inside a JSON value stores nothing."""
    from plaudit_collector.store.tables import utcnow
    from plaudit_collector.store.value_lists import _fast_doc, _values, insert_many

    db = Database(pg_url)
    db.create_schema()
    base = {"project": "p", "target_type": "span", "trace_id": TRACE, "name": "q", "kind": "numeric", "value": 1}
    base |= {"source": "human", "is_current": True, "created_at": utcnow(), "score": 0.1 + 0.2}
    nested = {"n": [1.5, {"deep": 0.1 + 0.2, "none": None}], "é": "ü\u2028", "max": 2**64 - 1, "min": -(2**63)}
    fast = [{**base, "span_id": str(i), "idempotency_key": f"f{i}", "metadata": nested} for i in range(3)]
    wide = [{**base, "span_id": "w", "idempotency_key": "w", "metadata": {"big": 2**70, "ok": [True, None]}}]
    deep_nan = {"a": [{"b": [float("nan")]}]}
    table = Feedback.__table__  # type: ignore[attr-defined]

    def fast_doc(rows: list[dict[str, Any]]) -> str | None:
        return _fast_doc(rows, _values(rows, tuple(rows[0])), table)

    assert fast_doc(fast) is not None and fast_doc(wide) is None
    assert fast_doc([{**fast[0], "metadata": deep_nan}]) is None
    assert fast_doc([{**fast[0], "metadata": {"t": (1, (float("inf"),))}}]) is None
    try:
        with db.engine.begin() as conn:
            stored = insert_many(conn, Feedback.__table__, fast, returning=True)
            stored += insert_many(conn, Feedback.__table__, wide, returning=True)
        with pytest.raises(ValueError), db.engine.begin() as conn:
            insert_many(conn, Feedback.__table__, [{**fast[0], "idempotency_key": "n", "metadata": deep_nan}] * 2)
        with db.engine.connect() as conn:
            count = conn.exec_driver_sql("SELECT count(*) FROM feedback").scalar_one()
    finally:
        db.dispose()
    by_key = {row.idempotency_key: row for row in stored}
    assert [by_key[f"f{i}"].metadata for i in range(3)] == [nested] * 3
    assert by_key["w"].metadata == {"big": 2**70, "ok": [True, None]}
    assert {row.score for row in stored} == {0.1 + 0.2}
    assert count == 4


def test_a_batch_insert_refuses_what_a_column_cannot_hold(pg_url: str) -> None:
    """Each value is cast to its column's type without the column's length: a string longer than its column is
    refused, as by a plain insert, never cut short, and nothing of the batch is stored. A key a later row lacks
    stores NULL; every column keeps its type (booleans, integers, floats, times, JSON)."""
    from sqlalchemy.exc import DBAPIError

    from plaudit_collector.store.tables import utcnow
    from plaudit_collector.store.value_lists import insert_many

    db = Database(pg_url)
    db.create_schema()
    now = utcnow()
    base = {"project": "p", "target_type": "span", "trace_id": TRACE, "name": "q", "kind": "numeric"}
    base |= {"source": "human", "is_current": False, "created_at": now, "value": {"a": [1, "x"]}, "score": 2.5}
    table = Feedback.__table__  # type: ignore[attr-defined]
    try:
        with pytest.raises(DBAPIError, match="too long"), db.engine.begin() as conn:
            insert_many(conn, table, [{**base, "idempotency_key": "a"}, {**base, "idempotency_key": "b" * 201}])
        with db.engine.begin() as conn:
            rows = [{**base, "idempotency_key": "c", "author": "ann"}, {**base, "idempotency_key": "d"}]
            stored = insert_many(conn, table, rows, returning=True)
    finally:
        db.dispose()
    by_key = {row.idempotency_key: row for row in stored}
    assert sorted(by_key) == ["c", "d"]
    assert (by_key["c"].author, by_key["d"].author) == ("ann", None)
    assert {(row.is_current, row.score, row.created_at) for row in stored} == {(False, 2.5, now)}
    assert [row.value for row in stored] == [{"a": [1, "x"]}] * 2


def test_strict_configs_apply_to_ingested_feedback_too(db: Database) -> None:
    score_configs.put_score_config(db, "default", "stars", {"type": "numeric", "min": 1, "max": 5, "strict": True})
    with pytest.raises(feedback_writes.FeedbackRejected) as caught:
        feedback_writes.insert_feedback(
            db,
            "default",
            [{"trace_id": TRACE, "name": "stars", "value": 3}, {"trace_id": TRACE, "name": "stars", "value": 9}],
        )
    assert (caught.value.index, caught.value.field, caught.value.rule) == (1, "value", "range")
    assert _rows(db) == []


def test_concurrent_vote_changes_leave_one_current_vote(db: Database) -> None:
    barrier = threading.Barrier(8)
    failures: list[BaseException] = []

    def vote(n: int) -> None:
        try:
            barrier.wait()
            for round_ in range(5):
                item = {
                    "trace_id": TRACE,
                    "span_id": SPAN,
                    "name": "thumbs",
                    "value": (n + round_) % 2 == 0,
                    "author": "alice",
                }
                feedback_writes.insert_feedback(db, "default", [item])
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=vote, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    rows = _rows(db)
    assert len(rows) == 40
    assert sum(r.is_current for r in rows) == 1


def test_projects_do_not_see_or_replace_each_others_feedback(db: Database) -> None:
    item = {"trace_id": TRACE, "span_id": SPAN, "name": "thumbs", "value": True, "author": "x", "idempotency_key": "k"}
    (a_id,) = feedback_writes.insert_feedback(db, "a", [item])
    (b_id,) = feedback_writes.insert_feedback(db, "b", [{**item, "value": False}])
    assert a_id != b_id
    assert [r.is_current for r in _rows(db, "a")] == [True]  # b's vote by "x" did not replace a's
    assert feedback_reads.get_feedback(db, "b", a_id) is None
    assert feedback_writes.delete_feedback(db, "b", a_id) is None
    assert feedback_reads.list_feedback(db, "a")["count"] == 1
    assert feedback_reads.find_orphans(db, "b")["count"] == 1


def test_the_signing_secret_is_created_once_and_shared(db: Database, db_url: str) -> None:
    first = signing_keys.load_secret(db, None)
    other = Database(db_url)
    try:
        assert signing_keys.load_secret(other, None) == first
    finally:
        other.dispose()
    assert len(first) >= 32
    assert signing_keys.load_secret(db, "from-env") == b"from-env"


@pytest.mark.parametrize(
    "values",
    [
        ['a"b', "c\\d", "NULL", "null", "", " spaced ", "{x,y}", "é\n\t", "a,b", '\\"', "}{"],
        [f"{n:032x}" for n in range(100)],
        [],
    ],
    ids=["hostile", "hundred-keys", "empty"],
)
def test_a_bound_list_matches_exactly_its_values(db: Database, values: list[str]) -> None:
    """``one_of`` finds exactly the rows whose column is in the list, whatever the strings hold (PostgreSQL
    binds the list as the text of an array it quotes itself; SQLite as JSON), and integer lists keep 64-bit
    values and their sign; ``ADVISORY_LOCKS`` takes such keys."""
    from sqlalchemy import BigInteger, Column, MetaData, String, Table

    from plaudit_collector.store.value_lists import ADVISORY_LOCKS, one_of

    table = Table("bound_lists", MetaData(), Column("s", String), Column("n", BigInteger))
    table.create(db.engine)
    dialect = db.engine.dialect.name
    stored = ['a"b', "c\\d", "NULL", "", " spaced ", "{x,y}", "é\n\t", "a,b", '\\"', "}{", "other", "0" * 32]
    numbers = [-(2**63), -1, 0, 1, 2**53 + 1, 2**63 - 1]
    with db.engine.begin() as conn:
        conn.execute(table.insert(), [{"s": s, "n": n} for s, n in zip(stored, [*numbers, *range(6)], strict=True)])
        found = conn.execute(
            table.select().with_only_columns(table.c.s).where(one_of(table.c.s, "v", dialect)), {"v": values}
        )
        assert sorted(row.s for row in found) == sorted(set(stored) & set(values))
        with_null = conn.execute(table.select().where(one_of(table.c.s, "v", dialect)), {"v": [None, "other"]})
        assert [row.s for row in with_null] == ["other"]  # a NULL element matches nothing
        wanted = [-(2**63), 2**53 + 1, 2**63 - 1, 5]
        by_number = table.select().with_only_columns(table.c.n).where(one_of(table.c.n, "v", dialect, integers=True))
        assert sorted(row.n for row in conn.execute(by_number, {"v": wanted})) == sorted(wanted)
        if dialect == "postgresql":
            assert conn.execute(ADVISORY_LOCKS, {"keys": sorted(numbers)}).scalar_one() == len(numbers)
            held = conn.exec_driver_sql(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
            )
            assert held.scalar_one() == len(numbers)


def test_a_batch_replaces_the_votes_on_its_own_trace_and_span_pairs(db: Database) -> None:
    """A batch rating span 1 of trace A and span 2 of trace B replaces the votes there, and leaves the same
    author's votes on span 2 of trace A and span 1 of trace B current (PostgreSQL looks the current votes up
    by (trace, span) pair, SQLite by trace and by span)."""
    trace_a, trace_b = "a" * 32, "b" * 32
    span_1, span_2 = "1" * 16, "2" * 16

    def vote(trace: str, span: str, value: int) -> dict[str, Any]:
        return {"trace_id": trace, "span_id": span, "name": "q", "author": "u", "value": value}

    feedback_writes.store_feedback(db, "default", [vote(t, s, 1) for t in (trace_a, trace_b) for s in (span_1, span_2)])
    replaced = feedback_writes.store_feedback(db, "default", [vote(trace_a, span_1, 5), vote(trace_b, span_2, 5)])
    assert all(row["is_current"] for row in replaced)
    current = {(r.trace_id, r.span_id): r.value for r in _rows(db) if r.is_current}
    assert current == {(trace_a, span_1): 5, (trace_a, span_2): 1, (trace_b, span_1): 1, (trace_b, span_2): 5}
    assert len(_rows(db)) == 6
