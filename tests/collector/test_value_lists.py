"""Rows picked by a composite key (``value_lists.rows_of``): the right rows on SQLite and PostgreSQL, and on
SQLite one index probe per key however many rows share the key's leading columns. A feedback write looks its
score's cells up this way and ingest its span cells, and both tables gather a cell per day and combination."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import BigInteger, Column, MetaData, String, Table, select, text

from plaudit_collector.store import partitions, prepared, rollup, score_rollup
from plaudit_collector.store.db import Database
from plaudit_collector.store.value_lists import _JsonList, one_of, rows_value

CELLS = 3000
FIRST_DAY = 20000


def _fill(db: Database) -> None:
    """As many score cells and span cells, thirty a day, and one of another project; then analysed (once
    analysed, SQLite planned the old lookups as a scan of the whole table)."""
    days = range(FIRST_DAY, FIRST_DAY + CELLS // 30 + 1)
    partitions.ensure(db, days)
    keys = [("default", FIRST_DAY + n // 30, f"c{n}") for n in range(CELLS)] + [("other", FIRST_DAY, "c1")]
    scores = {
        "items": 1,
        "total": 1.0,
        "total_sq": 1.0,
        "ratings": 1,
        "nb_items": 0,
        "top_raters": 1,
        "raters": "[1,1]",
    }
    counts = dict.fromkeys(rollup.COUNTS, 0)
    with db.engine.begin() as conn:
        cells = [{"project": p, "name": "thumbs", "day": d, "cell": c, **scores} for p, d, c in keys]
        conn.execute(score_rollup.CELLS.insert(), cells)
        conn.execute(
            rollup.ROLLUP.insert(), [{"project": p, "day": d, "cell": c, **counts, "latency": "[]"} for p, d, c in keys]
        )
        conn.execute(text("ANALYZE"))


WANTED = [
    ("default", FIRST_DAY + 1, "c31"),
    ("default", FIRST_DAY + 1, "c1"),  # a cell of that name, on another day
    ("default", FIRST_DAY + 99, "c2999"),
    ("other", FIRST_DAY, "c1"),
    ("nobody", FIRST_DAY, "c1"),
]
FOUND = [("default", FIRST_DAY + 1, "c31"), ("default", FIRST_DAY + 99, "c2999"), ("other", FIRST_DAY, "c1")]


def test_the_score_cells_found_are_the_keyed_ones(db: Database) -> None:
    _fill(db)
    dialect = db.engine.dialect.name
    locked = score_rollup._statements(dialect).locked
    keys = [(p, name, d, c) for p, d, c in WANTED for name in ("thumbs", "stars")]
    keys.append(keys[0])  # bound twice, found once (a join on SQLite, an IN on PostgreSQL)
    with db.engine.connect() as conn:
        found = prepared.rows(conn, locked, rows_value("keys", keys, 4, dialect))
        assert [(r.project, r.name, r.day, r.cell) for r in found] == [(p, "thumbs", d, c) for p, d, c in FOUND]
        assert prepared.rows(conn, locked, rows_value("keys", [], 4, dialect)) == []


def test_the_span_cells_found_are_the_keyed_ones(db: Database) -> None:
    _fill(db)
    with db.engine.begin() as conn:
        found = rollup._locked(conn, db.engine.dialect.name, sorted(WANTED))
        assert sorted(found) == FOUND
        assert all((row.project, row.day, row.cell) == key and row.latency == "[]" for key, row in found.items())
        assert rollup._locked(conn, db.engine.dialect.name, []) == {}


def _plan(db: Database, statement: Any, params: tuple[Any, ...]) -> list[str]:
    sql = str(statement.compile(dialect=db.engine.dialect))
    with db.engine.connect() as conn:
        return [row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params)]


def test_on_sqlite_each_key_probes_the_unique_index(db: Database) -> None:
    if db.engine.dialect.name != "sqlite":
        return  # PostgreSQL probes the unique index (score cells) or the day's partition (span cells) already
    _fill(db)
    scores = _plan(db, score_rollup._statements("sqlite").locked, ("[]", "$[0]", "$[1]", "$[2]", "$[3]"))
    spans = _plan(db, rollup._by_keys("sqlite"), ("[]", "$[0]", "$[1]", "$[2]"))
    assert any("(project=? AND name=? AND day=? AND cell=?)" in step for step in scores), scores
    assert any("(project=? AND day=? AND cell=?)" in step for step in spans), spans
    assert not any(step.startswith(("SCAN score_rollup", "SCAN span_rollup")) for step in scores + spans)


def test_a_list_of_values_finds_awkward_ones(db: Database) -> None:
    """``one_of`` over text a JSON writer might get wrong (non-ASCII, quotes, backslashes, control characters) and
    over integers, through the prepared path; a list of none matches nothing."""
    texts = ["é😀", 'a "q" \\ b', "tab\tnew\nline", "plain"]
    probe = Table("value_probe", MetaData(), Column("k", String), Column("n", BigInteger))
    with db.engine.begin() as conn:
        probe.create(conn)
        conn.execute(probe.insert(), [{"k": k, "n": n * 1_000_000_007} for n, k in enumerate(texts)])
        by_text = select(probe.c.k).where(one_of(probe.c.k, "keys", db.dialect))
        assert sorted(prepared.rows(conn, by_text, {"keys": [*texts, "absent"]})) == sorted((k,) for k in texts)
        assert prepared.rows(conn, by_text, {"keys": []}) == []
        by_number = select(probe.c.k).where(one_of(probe.c.n, "numbers", db.dialect, integers=True))
        assert prepared.rows(conn, by_number, {"numbers": [3_000_000_021, 7]}) == [("plain",)]
        probe.drop(conn)


@pytest.mark.parametrize(
    "values",
    [["a", "é😀", 'q"\\'], [1, 2**63 - 1], [2**70], ["\ud800"], [1.5, float("nan")], [True, None], []],
    ids=repr,
)
def test_sqlite_value_lists_are_written_as_json_reads_them(values: list[Any]) -> None:
    """The JSON text SQLite's value lists are bound as: the same values as ``json.dumps`` writes, and the same
    text where the fast writer would differ (an integer past 64 bits, a lone surrogate, a NaN it writes as
    null)."""
    written = _JsonList().process_bind_param(values, None)
    if any(isinstance(v, float) or (isinstance(v, int) and abs(v) >= 2**63) for v in values) or "\ud800" in values:
        assert written == json.dumps(values)
    else:
        assert json.loads(written) == values


def test_a_batch_insert_casts_each_value_to_its_columns_type(pg_url: str) -> None:
    """A row's values are read from its JSON array and cast to each column's type without its modifiers: a
    timestamp with a precision keeps its time zone, a numeric is rounded to the column's scale, as a plain insert
    would store them."""
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import Numeric
    from sqlalchemy.dialects.postgresql import TIMESTAMP

    from plaudit_collector.store.value_lists import insert_many

    table = Table(
        "cast_probe",
        MetaData(),
        Column("id", BigInteger, primary_key=True),
        Column("label", String(5)),
        Column("amount", Numeric(6, 2)),
        Column("at", TIMESTAMP(timezone=True, precision=3)),
    )
    at = datetime(2026, 3, 1, 12, 30, 15, 123000, tzinfo=timezone(timedelta(hours=-5)))
    database = Database(pg_url)
    try:
        table.create(database.engine)
        with database.engine.begin() as conn:
            conn.exec_driver_sql("SET LOCAL timezone = 'Asia/Tokyo'")  # far from the value's own zone
            rows = [
                {"id": 1, "label": "ab", "amount": 1.005, "at": at},
                {"id": 2, "label": None, "amount": 7, "at": None},
            ]
            insert_many(conn, table, rows)
        with database.engine.connect() as conn:
            stored = conn.execute(select(table).order_by(table.c.id)).all()
    finally:
        database.dispose()
    assert [(row.label, str(row.amount)) for row in stored] == [("ab", "1.01"), (None, "7.00")]
    assert stored[0].at == at and stored[1].at is None
