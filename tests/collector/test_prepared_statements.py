"""The write path's statements run on the driver's cursor (``store/prepared.py``) answer exactly as
``Connection.execute`` does, on SQLite and PostgreSQL: the same rows under the same keys, with values through
the same types (datetimes, JSON, booleans, floats), the same SQLAlchemy errors for bad input, a lost connection
invalidated, and the statements it cannot run as compiled handed to SQLAlchemy."""

from __future__ import annotations

import functools
import json
import tempfile
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    Column,
    Connection,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    event,
    select,
    text,
)
from sqlalchemy import exc as sa_exc

from plaudit_collector import pipeline
from plaudit_collector.store import copies, feedback_writes, prepared, projects, score_configs, score_rollup, trace_days
from plaudit_collector.store.db import Database
from plaudit_collector.store.feedback_sql import statements
from plaudit_collector.store.partitions import DAY_NS
from plaudit_collector.store.score_configs import STRICT
from plaudit_collector.store.tables.types import json_text
from plaudit_collector.store.value_lists import ADVISORY_LOCKS, rows_value

TRACE = "ab" * 16
START = 1_700_000_000_000_000_000


def _span(span_id: str, parent: str | None, days_later: int) -> dict[str, Any]:
    start = START + days_later * DAY_NS
    span: dict[str, Any] = {
        "traceId": TRACE,
        "spanId": span_id,
        "name": "chat",
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + 5_000_000),
        "attributes": [{"key": "plaudit.variant", "value": {"stringValue": "a"}}],
    }
    if parent:
        span["parentSpanId"] = parent
    return span


@pytest.fixture
def rated(db: Database) -> Database:
    """Two spans a day apart, rated (votes, a revote, a comment, a label, JSON metadata) by two authors."""
    spans = [_span("a000000000000001", None, 0), _span("a000000000000002", "a000000000000001", 1)]
    body = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}).encode()
    pipeline.ingest_traces(db, "default", body, content_type="application/json", encoding=None, limit=1 << 20)
    items: list[dict[str, Any]] = [
        {"trace_id": TRACE, "span_id": "a000000000000001", "name": "thumbs", "value": True, "author": "ann"},
        {"trace_id": TRACE, "span_id": "a000000000000002", "name": "thumbs", "value": False, "author": "ann"},
        {"trace_id": TRACE, "span_id": "a000000000000002", "name": "stars", "value": 4.5, "author": "bob"},
        {"trace_id": TRACE, "span_id": None, "name": "tone", "value": "curt", "metadata": {"k": [1, None, "é"]}},
        {"trace_id": TRACE, "span_id": "a000000000000001", "name": "thumbs", "value": False, "author": "ann"},
        {"trace_id": TRACE, "span_id": "a000000000000001", "name": "thumbs", "comment": 'a "note"\n😀'},
    ]
    score_configs.put_score_config(db, "default", "stars", {"type": "numeric", "min": 1, "max": 5, "strict": True})
    for number, item in enumerate(items):
        feedback_writes.store_feedback(db, "default", [{**item, "idempotency_key": f"key-{number}"}])
    return db


def _both(conn: Connection, statement: Any, params: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """(rows through the cursor, rows through SQLAlchemy)."""
    return prepared.rows(conn, statement, params), conn.execute(statement, params).all()


def _same(ours: list[Any], theirs: list[Any]) -> None:
    assert ours, "the statement should find rows here"
    assert [tuple(row) for row in ours] == [tuple(row) for row in theirs]
    assert [row._mapping for row in ours] == [dict(row._mapping) for row in theirs]
    for mine, sqlalchemy_row in zip(ours, theirs, strict=True):
        assert [type(value) for value in mine] == [type(value) for value in sqlalchemy_row]
        assert all(getattr(mine, key) == getattr(sqlalchemy_row, key) for key in sqlalchemy_row._fields)


def test_the_write_path_statements_read_as_sqlalchemy_reads_them(rated: Database) -> None:
    dialect = "postgresql" if rated.engine.dialect.name == "postgresql" else "sqlite"
    sql = statements(dialect)
    rollup = score_rollup._statements(dialect)
    spans = ["a000000000000001", "a000000000000002"]
    common = {"project": "default", "names": ["stars", "thumbs"], "authors": ["ann", "bob"], "traces": [TRACE]}
    with rated.engine.begin() as conn:
        keys = [f"key-{n}" for n in range(6)]
        _same(*_both(conn, sql.by_keys, {"project": "default", "keys": keys}))
        _same(*_both(conn, sql.current_by_span, {**common, "targets": spans}))
        _same(*_both(conn, sql.current_by_spans_of_traces, {**common, "targets": spans}))
        _same(*_both(conn, STRICT, {"project": "default"}))
        stored = prepared.rows(conn, sql.by_keys, {"project": "default", "keys": keys})
        pks = sorted({row.span_pk for row in stored if row.span_pk is not None})
        _same(*_both(conn, rollup.stored, {"pks": pks}))
        _same(*_both(conn, rollup.current, {"pks": pks}))
        # the score cells, looked up by (project, name, day, cell) rows
        cells = sorted({(r.project, r.name, r.day, r.cell) for r in prepared.rows(conn, rollup.stored, {"pks": pks})})
        _same(*_both(conn, rollup.locked, rows_value("keys", cells, len(cells[0]), dialect)))
        # the span lookup narrowed to the trace's days (PostgreSQL: literal bounds, rendered once)
        by_lists = {"project": "default", "traces": [TRACE], "spans": spans}
        by_pairs = rows_value("pairs", [("default", TRACE, span) for span in spans], 3, dialect)
        for roots, params in ((True, by_lists), (False, by_pairs)):
            query = trace_days.narrow(conn, copies._target_spans(dialect, roots), "default", [TRACE], built_once=True)
            _same(*_both(conn, query, params))
        if dialect == "postgresql":
            _same(*_both(conn, trace_days.DAYS, {"project": "default", "ids": [TRACE]}))
        # a statement finding nothing
        assert prepared.rows(conn, sql.by_keys, {"project": "default", "keys": ["absent"]}) == []


def test_inserts_and_updates_write_what_sqlalchemy_writes(db: Database) -> None:
    """One row, many rows (an executemany), none; the count of rows changed; awkward text intact."""
    table = Table("prepared_probe", MetaData(), Column("id", Integer, primary_key=True), Column("doc", String))
    awkward = ['quote \' and "double"', "back\\slash", "percent %s %(x)s", "é😀", "", "?"]
    with db.engine.begin() as conn:
        table.create(conn)
        insert = table.insert()
        assert prepared.run(conn, insert, [{"id": n, "doc": doc} for n, doc in enumerate(awkward)]) == len(awkward)
        assert prepared.run(conn, insert, [{"id": 100, "doc": "one"}]) == 1
        assert prepared.run(conn, insert, []) == 0
        stored = conn.execute(select(table.c.doc).order_by(table.c.id)).scalars().all()
        assert stored == [*awkward, "one"]
        update = table.update().where(table.c.id >= bindparam("low")).values(doc="changed")
        assert prepared.run(conn, update, {"low": 3}) == 4
        assert prepared.scalar(conn, select(table.c.doc).where(table.c.id == bindparam("id")), {"id": 3}) == "changed"
        assert prepared.scalar(conn, select(table.c.doc).where(table.c.id == bindparam("id")), {"id": -1}) is None
        table.drop(conn)


def test_a_statement_sqlalchemy_must_prepare_is_handed_to_it(db: Database) -> None:
    """A Python-side column default, or a parameter computed on each execution, is SQLAlchemy's execution
    context's work: such a statement runs there."""
    table = Table(
        "prepared_defaults", MetaData(), Column("id", Integer, primary_key=True), Column("doc", String, default="d")
    )
    with db.engine.begin() as conn:
        table.create(conn)
        prepared.run(conn, table.insert(), {"id": 1})
        assert conn.execute(select(table.c.doc)).scalar_one() == "d"
        # a value computed on each execution
        counter = iter(range(10))
        query = select(text("1")).where(bindparam("n", callable_=lambda: next(counter)) >= 0)
        for _ in range(3):
            assert prepared.scalar(conn, query) == 1
        assert next(counter) == 3
        table.drop(conn)


def test_a_missing_parameter_is_named(db: Database) -> None:
    query = select(text("1")).where(bindparam("wanted") == 1)
    with db.engine.connect() as conn:
        for run_it in (prepared.rows, Connection.execute):
            with pytest.raises(sa_exc.StatementError, match="'wanted'") as caught:
                run_it(conn, query, {})
            assert isinstance(caught.value.orig, sa_exc.InvalidRequestError)


def test_rows_sharing_a_timestamp_and_rows_not_store_their_own(db: Database) -> None:
    """A datetime bound to many rows (a request's rows share one) and distinct ones, alternating, in one
    executemany and one by one: each row stores its own."""
    table = Table("prepared_times", MetaData(), Column("id", Integer), Column("at", DateTime(timezone=True)))
    shared = datetime(2026, 1, 2, 3, 4, 5, 600_000, tzinfo=timezone.utc)
    own = [shared + timedelta(seconds=n) for n in range(4)]
    values = [shared, own[0], shared, shared, own[1], None, own[2], own[3], shared]
    with db.engine.begin() as conn:
        table.create(conn)
        prepared.run(conn, table.insert(), [{"id": n, "at": at} for n, at in enumerate(values)])
        for n, at in enumerate(values):
            prepared.run(conn, table.insert(), {"id": 100 + n, "at": at})
        stored = conn.execute(select(table.c.id, table.c.at).order_by(table.c.id)).all()
        table.drop(conn)
    utc = [None if at is None else at.replace(tzinfo=timezone.utc) for _, at in stored]
    assert utc == [*values, *values]


def test_parameters_left_out_take_their_defaults(db: Database) -> None:
    """A parameter with a value given when the statement was built is that value when a call leaves it out, and
    the call's own when given; one parameter, several, none."""
    both = select(bindparam("a", value=1) + bindparam("b", value=10))
    one = select(bindparam("only", value=5) * 2)
    with db.engine.connect() as conn:
        assert prepared.scalar(conn, both, {}) == 11
        assert prepared.scalar(conn, both, {"b": 20}) == 21
        assert prepared.scalar(conn, both, {"a": 2, "b": 30}) == 32
        assert prepared.scalar(conn, both, {"a": 3, "b": 30, "unused": 0}) == 33
        assert prepared.scalar(conn, one, {}) == 10
        assert prepared.scalar(conn, one, {"only": 4}) == 8
        assert prepared.scalar(conn, select(text("7")), {}) == 7


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        False,
        0,
        -5,
        10**30,
        1.5,
        float("nan"),
        "",
        'é😀 "q" \\ \n\t\x00',
        "\ud800",
        {"a": [1, None]},
        [True],
    ],
    ids=repr,
)
def test_json_columns_get_json_dumps_text(value: Any) -> None:
    """The engines' JSON serialiser writes what ``json.dumps`` writes, whatever the value (its scalars are
    written directly)."""
    assert json_text(value) == json.dumps(value)


def test_a_value_its_type_cannot_bind_fails_as_through_sqlalchemy(db: Database) -> None:
    """A JSON column given a set, or a document nested past Python's recursion limit: a StatementError where
    SQLAlchemy's type serialises the value (SQLite), the driver's own error where the driver does (psycopg)."""
    table = Table("prepared_json", MetaData(), Column("id", Integer), Column("doc", JSON))
    deep: list[Any] = []
    for _ in range(5000):
        deep = [deep]
    with db.engine.begin() as conn:
        table.create(conn)
    try:
        for value, cause in (({1, 2}, TypeError), (deep, RecursionError)):
            errors = []
            with db.engine.connect() as conn:
                for run_it in (prepared.run, Connection.execute):
                    errors.append(_error(functools.partial(run_it, conn, table.insert(), {"id": 1, "doc": value})))
                    conn.rollback()
                assert conn.execute(select(table.c.id)).all() == []
            ours, theirs = errors
            assert type(ours) is type(theirs), (ours, theirs)
            found = theirs.orig if isinstance(theirs, sa_exc.StatementError) else theirs
            assert isinstance(found, cause)
            if isinstance(theirs, sa_exc.StatementError):
                assert type(ours.orig) is type(theirs.orig)  # type: ignore[union-attr]
    finally:
        with db.engine.begin() as conn:
            table.drop(conn)


def _error(run: Any) -> BaseException | None:
    """What ``run`` raises; None when it stores the value (SQLite keeps a NUL byte in text)."""
    try:
        run()
    except BaseException as exc:
        return exc
    return None


@pytest.mark.parametrize(
    "value",
    ["nul \x00 byte", "lone \ud800 surrogate", 2**63, -(2**63) - 1, 10**400],
    ids=["nul", "surrogate", "past-int64", "below-int64", "huge"],
)
def test_bad_input_fails_as_it_fails_through_sqlalchemy(db: Database, value: Any) -> None:
    """The same exception class either way, and the transaction can still be rolled back and the
    connection used again."""
    table = Table("prepared_bad", MetaData(), Column("id", Integer), Column("n", Integer), Column("doc", String))
    column = "doc" if isinstance(value, str) else "n"
    with db.engine.begin() as conn:
        table.create(conn)
    try:
        errors = []
        for run_it in (prepared.run, Connection.execute):
            with db.engine.connect() as conn:
                conn.begin()
                errors.append(_error(functools.partial(run_it, conn, table.insert(), {"id": 1, column: value})))
                conn.rollback()
                assert conn.execute(select(text("1"))).scalar_one() == 1
        ours, theirs = errors
        assert type(ours) is type(theirs), (ours, theirs)
        assert theirs is not None or (value == "nul \x00 byte" and db.engine.dialect.name == "sqlite")
        if isinstance(theirs, sa_exc.StatementError):
            assert type(ours.orig) is type(theirs.orig)  # type: ignore[attr-defined]
        with db.engine.connect() as conn:
            assert conn.execute(select(table.c.id)).all() == []  # nothing stored: rolled back
    finally:
        with db.engine.begin() as conn:
            table.drop(conn)


def test_a_duplicate_key_is_sqlalchemys_integrity_error(rated: Database) -> None:
    """``store_feedback`` retries on ``IntegrityError`` (a concurrent request stored the same key first)."""
    sql = statements(rated.engine.dialect.name)
    with rated.engine.connect() as conn:
        conn.begin()
        row = dict(prepared.rows(conn, sql.by_keys, {"project": "default", "keys": ["key-0"]})[0]._mapping)
        row = {key: value for key, value in row.items() if key != "id"}
        with pytest.raises(sa_exc.IntegrityError):
            prepared.rows(conn, sql.insert, {**row, "project": "default"})
        conn.rollback()


@pytest.mark.parametrize("together", [False, True], ids=["one", "together"])
def test_a_lost_postgresql_connection_is_invalidated_and_replaced(pg_url: str, together: bool) -> None:
    """The server ends the session mid-transaction: the statement (or statements read together) fails as
    SQLAlchemy reports a lost connection (the pool drops it), and the next checkout works."""
    database = Database(pg_url)
    query = select(text("1")).where(bindparam("x") == 1)
    try:
        with database.engine.connect() as conn:
            conn.begin()
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
            with database.engine.connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            with pytest.raises(sa_exc.OperationalError) as caught:
                if together:
                    prepared.rows_together(conn, [(query, {"x": 1}), (query, {"x": 1})])
                else:
                    prepared.rows(conn, query, {"x": 1})
            assert caught.value.connection_invalidated
            assert conn.invalidated
        with database.engine.connect() as conn:
            assert prepared.scalar(conn, select(text("2")).where(bindparam("x") == 1), {"x": 1}) == 2
            assert prepared.rows_together(conn, [(query, {"x": 1}), (query, {"x": 1})]) == [[(1,)], [(1,)]]
    finally:
        database.dispose()


def test_plans_past_the_limit_are_dropped_and_made_again(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prepared, "MAX_PLANS", 2)
    monkeypatch.setattr(prepared, "_PLANS", {})
    queries = [select(text(str(n))).where(bindparam("x") == 1) for n in range(5)]
    with db.engine.connect() as conn:
        for _ in range(2):
            assert [prepared.scalar(conn, query, {"x": 1}) for query in queries] == [0, 1, 2, 3, 4]
            assert len(prepared._PLANS) <= 2


_ADVISORY_HELD = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")


def test_statements_read_together_answer_as_read_one_by_one(rated: Database) -> None:
    """The write path's first reads, read at once: each statement's rows, in order, as :func:`prepared.rows`
    gives them (values and types), including a statement finding nothing."""
    dialect = "postgresql" if rated.engine.dialect.name == "postgresql" else "sqlite"
    sql = statements(dialect)
    rollup = score_rollup._statements(dialect)
    with rated.engine.connect() as conn:
        conn.begin()
        keys = [f"key-{n}" for n in range(6)]
        pks = sorted({r.span_pk for r in prepared.rows(conn, sql.by_keys, {"project": "default", "keys": keys})})
        queries: list[tuple[Any, dict[str, Any]]] = [
            (STRICT, {"project": "default"}),
            (projects.STORES_CONTENT, {"name": "default"}),
            (sql.by_keys, {"project": "default", "keys": keys}),
            (sql.by_keys, {"project": "default", "keys": ["absent"]}),
            (rollup.stored, {"pks": [pk for pk in pks if pk is not None]}),
            (rollup.current, {"pks": [pk for pk in pks if pk is not None]}),
        ]
        together = prepared.rows_together(conn, queries)
        one_by_one = [prepared.rows(conn, statement, params) for statement, params in queries]
        conn.rollback()
    assert together == one_by_one and together[2] and together[3] == []
    for ours, theirs in zip(together, one_by_one, strict=True):
        assert [row._mapping for row in ours] == [row._mapping for row in theirs]
        assert [[type(v) for v in row] for row in ours] == [[type(v) for v in row] for row in theirs]


def test_statements_read_together_cost_postgresql_one_round_trip_and_run_in_turn(pg_url: str) -> None:
    """Three statements in a transaction already begun: one round trip (one ``ReadyForQuery`` from the server,
    in libpq's trace of the session), where one by one they cost three; the advisory locks the first takes
    are held when the next one runs."""
    database = Database(pg_url)
    trace = tempfile.NamedTemporaryFile(mode="w+", suffix=".trace")
    queries: list[tuple[Any, dict[str, Any]]] = [
        (ADVISORY_LOCKS, {"keys": [42, 41]}),
        (_ADVISORY_HELD, {}),
        (STRICT, {"project": "default"}),
    ]
    try:
        database.upgrade()
        with database.engine.connect() as conn:
            conn.begin()
            assert prepared.scalar(conn, _ADVISORY_HELD, {}) == 0  # the transaction is under way
            pgconn = conn.connection.dbapi_connection.pgconn  # type: ignore[union-attr]
            pgconn.trace(trace.fileno())
            locked, held, strict = prepared.rows_together(conn, queries)
            pgconn.untrace()
            trace.seek(0)
            together_trips = trace.read().count("ReadyForQuery")
            trace.truncate(0)
            pgconn.trace(trace.fileno())
            for statement, params in queries[1:]:
                prepared.rows(conn, statement, params)
            pgconn.untrace()
            trace.seek(0)
            one_by_one_trips = trace.read().count("ReadyForQuery")
            conn.rollback()
    finally:
        trace.close()
        database.dispose()
    assert (together_trips, one_by_one_trips) == (1, 2)
    assert [tuple(row) for row in locked] == [(2,)] and held[0][0] == 2 and strict == []  # one row: the keys locked


def test_writes_travel_with_reads_in_order(db: Database) -> None:
    """Writes without rows (one row, an executemany, none) among reads: each read sees the writes before it, a
    write's place in the answer is an empty list, and the rows written are those :func:`prepared.run` writes.
    A statement SQLAlchemy must run (a Python-side default) runs in its turn."""
    table = Table("prepared_mixed", MetaData(), Column("id", Integer, primary_key=True), Column("doc", String))
    defaults = Table(
        "prepared_mixed_defaults",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("doc", String, default="d"),
    )
    count = select(text("count(*)")).select_from(table).where(table.c.id >= bindparam("low"))
    returning = table.insert().returning(table.c.id)
    with db.engine.begin() as conn:
        table.create(conn)
        defaults.create(conn)
        queries: list[tuple[Any, Any]] = [
            (table.insert(), [{"id": 1, "doc": "é😀"}, {"id": 2, "doc": "b"}]),
            (count, {"low": 0}),
            (table.insert(), [{"id": 3, "doc": "c"}]),
            (returning, {"id": 4, "doc": "d"}),
            (table.update().where(table.c.id == bindparam("key")).values(doc="changed"), {"key": 1}),
            (table.insert(), []),
            (count, {"low": 0}),
        ]
        assert prepared.rows_together(conn, queries) == [[], [(2,)], [], [(4,)], [], [], [(4,)]]
        prepared.run_together(conn, [(defaults.insert(), {"id": 1}), (table.delete().where(table.c.id == 4), {})])
        stored = conn.execute(select(table.c.id, table.c.doc).order_by(table.c.id)).all()
        assert stored == [(1, "changed"), (2, "b"), (3, "c")]
        assert conn.execute(select(defaults.c.doc)).scalars().all() == ["d"]
        table.drop(conn)
        defaults.drop(conn)


def test_a_new_rating_costs_postgresql_seven_round_trips(pg_url: str) -> None:
    """A first vote on a stored span, and a batch of them: the transaction's ``BEGIN`` and ``COMMIT`` and five
    round trips between (counted in libpq's trace as the server's ``ReadyForQuery``): the first reads with the
    vote's locks and the current votes, the span's copies, the rows written with the score aggregates' first
    reads, the score cells created and locked, and the cells moved with the new items written. A revote that
    leaves the score where it was (a note added) stops after the third. (Eleven and eight before they were
    grouped.)"""
    database = Database(pg_url)
    trace = tempfile.NamedTemporaryFile(mode="w+", suffix=".trace")

    @event.listens_for(database.engine, "checkout")
    def _traced(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        dbapi_connection.pgconn.trace(trace.fileno())

    @event.listens_for(database.engine, "checkin")
    def _untraced(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.pgconn.untrace()  # written out: libpq buffers its trace

    def round_trips(items: list[dict[str, Any]]) -> int:
        trace.seek(0)
        trace.truncate(0)
        feedback_writes.store_feedback(database, "default", items)
        trace.seek(0)
        session = trace.read()
        return session[session.index('"BEGIN"') :].count("ReadyForQuery")  # a ping after a rest comes before

    spans = [_span(f"{n + 1:016x}", None, 0) for n in range(101)]
    body = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}).encode()
    votes = [
        {"trace_id": TRACE, "span_id": f"{n + 1:016x}", "name": "thumbs", "value": True, "author": "ann"}
        for n in range(101)
    ]
    try:
        database.upgrade()
        pipeline.ingest_traces(database, "default", body, content_type="application/json", encoding=None, limit=1 << 20)
        assert round_trips(votes[:1]) == 7
        assert round_trips(votes[1:]) == 7
        assert round_trips([{**votes[0], "comment": "same vote, a note"}]) == 5
        with database.engine.connect() as conn:
            stored = conn.execute(text("SELECT items, total FROM score_rollup")).all()
    finally:
        trace.close()
        database.dispose()
    assert [tuple(row) for row in stored] == [(101, 101.0)]


def test_a_write_plans_its_lookups_once_and_only_in_its_transaction(pg_url: str) -> None:
    """PostgreSQL plans the statements of a feedback write once per connection (each statement the driver has
    prepared runs a generic plan, never one made for the request's values), and the setting ends with the write's
    transaction: the same connection's next transaction plans as the server's default says."""
    database = Database(pg_url)
    spans = [_span(f"{n + 1:016x}", None, 0) for n in range(3)]
    body = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}).encode()
    try:
        database.upgrade()
        pipeline.ingest_traces(database, "default", body, content_type="application/json", encoding=None, limit=1 << 20)
        with database.engine.connect() as conn:
            for n in range(12):  # the driver prepares a statement the sixth time it runs it
                vote = {"trace_id": TRACE, "span_id": f"{n % 3 + 1:016x}", "name": "thumbs", "value": n % 2 == 0}
                with conn.begin():
                    feedback_writes.store_items(
                        conn, "default", [feedback_writes.prepare({**vote, "author": f"u{n % 4}"})], lock=True
                    )
                    inside = conn.exec_driver_sql("SHOW plan_cache_mode").scalar()
            after = conn.exec_driver_sql("SHOW plan_cache_mode").scalar()
            plans = conn.exec_driver_sql(
                "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements"
            ).all()
            conn.rollback()
    finally:
        database.dispose()
    assert (inside, after) == ("force_generic_plan", "auto")
    written = [row for row in plans if "feedback" in row.statement or "span_scores" in row.statement]
    assert len(written) >= 4, plans
    assert all(row.custom_plans == 0 and row.generic_plans > 0 for row in written), written


def test_reads_on_a_requests_way_keep_the_connections_prepared_statements(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key lookup, a project's settings, a health check and the ping after a rest end their transaction with a
    COMMIT: a ROLLBACK would make psycopg deallocate every statement the connection's writes had prepared.
    Analytics, whose reads end with a ROLLBACK, read through a pool of their own."""
    from plaudit_collector.store import db as db_module
    from plaudit_collector.store.score_names import list_scores

    database = Database(pg_url)
    spans = [_span(f"{n + 1:016x}", None, 0) for n in range(3)]
    body = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}).encode()

    def prepared_here() -> int:
        with database.reading() as conn:
            return int(conn.exec_driver_sql("SELECT count(*) FROM pg_prepared_statements").scalar_one())

    try:
        database.upgrade()
        pipeline.ingest_traces(database, "default", body, content_type="application/json", encoding=None, limit=1 << 20)
        database.engine.dispose()  # from here one connection, handed back and forth: the pool holds no other
        for n in range(8):
            vote = {"trace_id": TRACE, "span_id": f"{n % 3 + 1:016x}", "name": "thumbs", "value": True}
            feedback_writes.store_feedback(database, "default", [{**vote, "author": f"u{n}"}])
        before = prepared_here()
        assert projects.resolve_key(database, projects.KEY_PREFIX + "unknown") is None
        assert projects.project_settings(database, "default").name == "default"
        assert projects.has_active_keys(database) is False
        database.check()
        monkeypatch.setattr(db_module, "PING_AFTER_IDLE", 0.0)  # the next checkout pings
        database.check()
        assert [score["name"] for score in list_scores(database, "default")["scores"]] == ["thumbs"]
        after = prepared_here()
        assert database.engine.pool.checkedin() == 1
    finally:
        database.dispose()
    assert before >= 5 and after == before


_FINE = select(text("1")).where(bindparam("x") == 1)


def _together_and_alone(db: Database, bad: Any, params: dict[str, Any]) -> list[BaseException | None]:
    """What ``bad`` raises read together with good statements, then alone through ``Connection.execute``; after
    each, the transaction rolls back and the connection reads together again."""
    errors = []
    with db.engine.connect() as conn:
        for run_it in (
            lambda: prepared.rows_together(conn, [(_FINE, {"x": 1}), (bad, params), (_FINE, {"x": 1})]),
            lambda: conn.execute(bad, params),
        ):
            conn.begin()
            errors.append(_error(run_it))
            conn.rollback()
            assert prepared.rows_together(conn, [(_FINE, {"x": 1}), (_FINE, {"x": 1})]) == [[(1,)], [(1,)]]
            conn.rollback()
    return errors


def test_a_statement_failing_among_others_fails_as_through_sqlalchemy(db: Database) -> None:
    """A statement that fails mid-way (a table that is not there): SQLAlchemy's exception class, as the same
    statement gives through ``Connection.execute``."""
    ours, theirs = _together_and_alone(db, text("SELECT id FROM no_such_table WHERE id = :id"), {"id": 1})
    assert isinstance(theirs, sa_exc.DBAPIError) and type(ours) is type(theirs), (ours, theirs)
    assert "no_such_table" in str(ours)


def test_a_value_that_cannot_be_bound_among_others_fails_as_through_sqlalchemy(db: Database) -> None:
    """A set for a JSON parameter: SQLAlchemy's StatementError where its type serialises the value (SQLite),
    the driver's own TypeError where the driver does (psycopg), as through ``Connection.execute``."""
    unbindable = select(text("1")).where(bindparam("doc", type_=JSON).is_not(None))
    ours, theirs = _together_and_alone(db, unbindable, {"doc": {1, 2}})
    assert type(ours) is type(theirs), (ours, theirs)
    cause = theirs.orig if isinstance(theirs, sa_exc.StatementError) else theirs
    assert isinstance(cause, TypeError)


def test_a_postgresql_batch_of_ratings_makes_eleven_round_trips(pg_url: str) -> None:
    """A batch of first votes on stored spans, from ``BEGIN`` to ``COMMIT``: its reads that do not depend on
    each other go together (seventeen round trips when each went alone)."""
    database = Database(pg_url)
    trace = tempfile.NamedTemporaryFile(mode="w+", suffix=".trace")
    try:
        database.upgrade()
        spans = [_span(f"b00000000000000{n}", None, 0) for n in range(1, 4)]
        body = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}).encode()
        pipeline.ingest_traces(database, "default", body, content_type="application/json", encoding=None, limit=1 << 20)
        items = [
            {"trace_id": TRACE, "span_id": span["spanId"], "name": "thumbs", "value": n % 2 == 0, "author": f"u{n}"}
            | {"comment": "why" if n == 0 else None, "idempotency_key": f"trip-{n}"}
            for n, span in enumerate(spans * 3)
        ]

        @event.listens_for(database.engine, "checkout")
        def _traced(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
            dbapi_connection.pgconn.trace(trace.fileno())

        @event.listens_for(database.engine, "checkin")
        def _untraced(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.pgconn.untrace()

        stored = feedback_writes.store_feedback(database, "default", items)
        trace.seek(0)
        trips = trace.read().count("ReadyForQuery")
    finally:
        trace.close()
        database.dispose()
    assert len(stored) == 9 and all(row["is_current"] for row in stored)
    assert trips <= 11, trips


def test_the_span_lookup_narrowed_by_days_read_beforehand_is_the_one_it_reads_itself(rated: Database) -> None:
    """A write reads its traces' days with its first statements and hands them to ``trace_days.narrow``: the
    statement is the same one ``narrow`` builds from its own read; days for more traces change nothing; a
    trace the days leave out has no spans to credit. SQLite keeps no days: the lookup is never narrowed."""
    statement = copies._target_spans(rated.engine.dialect.name)
    params = {"project": "default", "traces": [TRACE], "spans": ["a000000000000001", "a000000000000002"]}

    def narrow(conn: Connection, known: dict[str, set[int]] | None) -> Any:
        return trace_days.narrow(conn, statement, "default", [TRACE], built_once=True, known=known)

    with rated.engine.begin() as conn:
        if rated.engine.dialect.name == "sqlite":
            assert narrow(conn, None) is statement and narrow(conn, {}) is statement
            return
        read = trace_days.by_trace(prepared.rows(conn, trace_days.DAYS, {"project": "default", "ids": [TRACE]}))
        own, given = narrow(conn, None), narrow(conn, read)
        assert given is own and narrow(conn, {**read, "ff" * 16: {1}}) is own
        assert len(prepared.rows(conn, given, params)) == 2
        assert prepared.rows(conn, narrow(conn, {}), params) == []
    assert len(set().union(*read.values())) == 2
