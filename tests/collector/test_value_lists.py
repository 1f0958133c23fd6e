"""Rows picked by a composite key bound as one value (``value_lists.rows_of``): the right rows on SQLite and
PostgreSQL, and on SQLite one index probe per key however many rows share the key's leading columns (a
feedback write looks its score's cells up this way, and a score gathers a cell per day and combination)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from plaudit_collector.store import prepared, score_rollup
from plaudit_collector.store.db import Database
from plaudit_collector.store.value_lists import rows_value

CELLS = 3000


def _fill(db: Database) -> None:
    rows = [{"project": "default", "name": "thumbs", "day": 20000 + n // 30, "cell": f"c{n}"} for n in range(CELLS)] + [
        {"project": "other", "name": "thumbs", "day": 20000, "cell": "c1"}
    ]
    zero = {"items": 1, "total": 1.0, "total_sq": 1.0, "ratings": 1, "nb_items": 0, "top_raters": 1, "raters": "[1,1]"}
    with db.engine.begin() as conn:
        conn.execute(score_rollup.CELLS.insert(), [{**row, **zero} for row in rows])
        conn.execute(text("ANALYZE"))  # the planner's view of a grown table: once analysed, SQLite scanned it


def test_rows_of_finds_the_keyed_rows_and_no_others(db: Database) -> None:
    _fill(db)
    dialect = db.engine.dialect.name
    locked = score_rollup._statements(dialect).locked
    keys: list[tuple[Any, ...]] = [
        ("default", "thumbs", 20001, "c31"),
        ("default", "thumbs", 20001, "c1"),  # a cell of that name, on another day
        ("default", "thumbs", 20099, "c2999"),
        ("default", "stars", 20001, "c31"),  # another score
        ("other", "thumbs", 20000, "c1"),
        ("default", "thumbs", 20001, "c31"),  # twice
    ]
    with db.engine.connect() as conn:
        found = prepared.rows(conn, locked, rows_value("keys", sorted(set(keys)), 4, dialect))
        assert [(r.project, r.name, r.day, r.cell) for r in found] == [
            ("default", "thumbs", 20001, "c31"),
            ("default", "thumbs", 20099, "c2999"),
            ("other", "thumbs", 20000, "c1"),
        ]
        assert prepared.rows(conn, locked, rows_value("keys", [], 4, dialect)) == []


def test_on_sqlite_each_key_probes_the_unique_index(db: Database) -> None:
    if db.engine.dialect.name != "sqlite":
        return  # PostgreSQL's plan for the IN over unnest probes the unique index already
    _fill(db)
    sql = str(score_rollup._statements("sqlite").locked.compile(dialect=db.engine.dialect))
    params = ('[["default","thumbs",20001,"c31"]]', "$[0]", "$[1]", "$[2]", "$[3]")
    with db.engine.connect() as conn:
        plan = [row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params)]
    assert any("(project=? AND name=? AND day=? AND cell=?)" in step for step in plan), plan
    assert not any(step.startswith("SCAN score_rollup") for step in plan), plan
