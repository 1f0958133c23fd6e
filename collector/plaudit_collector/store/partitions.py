"""Day partitions of the PostgreSQL span and rollup tables (SQLite keeps plain tables).

On PostgreSQL ``spans`` is partitioned by range of ``start_ns`` and ``span_rollup`` by ``day``, one
partition per UTC day, named ``spans_pYYYYMMDD`` and ``span_rollup_pYYYYMMDD``. Retention then drops a
past day as a whole table instead of deleting its rows one by one (no dead tuples, no vacuum debt), and a
query bounded in time reads only the days it asks about.

A partition must exist before a row of its day is inserted, so ingest calls :func:`ensure` with the days of
a batch before the batch's transaction: a day already known to this process costs a set lookup; a new one
is created in its own short transaction, under an advisory lock so that collectors starting a day together
do not race. The retention sweeper (and startup) also create the next days ahead of time. There is no
default partition: a span of any day gets a partition of its own, so a day can always be created later.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from plaudit_collector.store import search_index

DAY_NS = 86_400 * 1_000_000_000
AHEAD_DAYS = 2
"""Days past today created in advance, so ingest at midnight never waits on DDL."""
PARTITIONED = {"spans": "start_ns", "span_rollup": "day"}
"""Each partitioned table and its partition key."""
_LOCK_ID = 0x706C617570  # "plaup": collectors creating partitions take turns on this advisory lock
_BOUND = re.compile(r"FROM \('?(-?\d+)'?\) TO \('?(-?\d+|MAXVALUE)'?\)")
_INT64_MAX = 2**63 - 1
_known: weakref.WeakKeyDictionary[Any, set[int] | None] = weakref.WeakKeyDictionary()
_guard = threading.Lock()


def day_of(ns: int) -> int:
    """The UTC day (days since 1970-01-01) a time in nanoseconds falls on."""
    return ns // DAY_NS


def partition_name(table: str, day: int) -> str:
    return f"{table}_p{datetime.fromtimestamp(day * 86_400, tz=timezone.utc):%Y%m%d}"


def _bounds(table: str, day: int) -> tuple[int, int]:
    """A day's range; the last day a 64-bit nanosecond time reaches ends past it (MAXVALUE in the DDL)."""
    if table != "spans":
        return day, day + 1
    return day * DAY_NS, min((day + 1) * DAY_NS, _INT64_MAX + 1)


def is_partitioned(conn: Connection, table: str = "spans") -> bool:
    """True when ``table`` (resolved through the search path) is a partitioned table."""
    found = conn.execute(
        text("SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(:t)"), {"t": table}
    ).first()
    return found is not None


def days(conn: Connection, table: str) -> dict[int, str]:
    """The partitions of ``table`` that cover exactly one day: day → partition name."""
    rows = conn.execute(
        text(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(:t)"
        ),
        {"t": table},
    ).all()
    out: dict[int, str] = {}
    for name, bound in rows:
        match = _BOUND.search(bound or "")
        if match is None:
            continue
        low = int(match.group(1))
        high = _INT64_MAX + 1 if match.group(2) == "MAXVALUE" else int(match.group(2))
        day = low // DAY_NS if table == "spans" else low
        if (low, high) == _bounds(table, day):
            out[day] = name
    return out


def lock(conn: Connection) -> None:
    """Take turns with other collectors creating or dropping partitions of this schema (until the transaction
    ends); collectors of other schemas in the database keep their own turns."""
    conn.execute(text("SELECT pg_advisory_xact_lock(:key # hashtext(current_schema()))"), {"key": _LOCK_ID})


def create(conn: Connection, wanted: Iterable[int]) -> set[int]:
    """Create the partitions of both tables for the ``wanted`` days that lack them; returns every day that
    now has its partitions. Takes the advisory lock for the rest of the caller's transaction."""
    lock(conn)
    have = {table: days(conn, table) for table in PARTITIONED}
    for day in sorted(set(wanted)):
        for table in PARTITIONED:
            if day in have[table]:
                continue
            low, high = _bounds(table, day)
            name = partition_name(table, day)
            upper = "MAXVALUE" if high > _INT64_MAX else str(high)
            conn.execute(text(f"CREATE TABLE {name} PARTITION OF {table} FOR VALUES FROM ({low}) TO ({upper})"))
            have[table][day] = name
    return set(have["spans"]) & set(have["span_rollup"])


def ensure(db: Any, span_days: Iterable[int]) -> None:
    """Make sure each day in ``span_days`` has its span and rollup partitions (PostgreSQL; no-op elsewhere,
    and on a database whose tables are not partitioned). Runs in its own transaction: call it before the
    transaction that inserts the rows."""
    if db.is_sqlite:
        return
    wanted = set(span_days)
    with _guard:
        known = _known.get(db, set())
    if known is None or wanted <= known:
        return
    with db.engine.begin() as conn:
        if not is_partitioned(conn):
            with _guard:
                _known[db] = None
            return
        made = create(conn, wanted | (known or set()))
    with _guard:
        _known[db] = made


def ensure_ahead(db: Any, now_ns: int, ahead: int = AHEAD_DAYS) -> None:
    """Create today's partitions and those of the next ``ahead`` days."""
    today = day_of(now_ns)
    ensure(db, range(today, today + ahead + 1))


def forget(db: Any) -> None:
    """Drop what this process believes exists (after partitions were dropped or the tables rebuilt)."""
    with _guard:
        _known.pop(db, None)


def drop(conn: Connection, day: int) -> None:
    """Drop the span and rollup partitions of ``day`` (the caller has removed what refers to them)."""
    for table in PARTITIONED:
        conn.execute(text(f"DROP TABLE IF EXISTS {partition_name(table, day)}"))


_PARTITION_TABLE = re.compile(r"(spans|span_rollup)_p\d{8}")
_WIDENED = {"uq_spans_project_trace_span"}
"""Unique constraints the partitioning widens by the partition key (the models declare SQLite's shape)."""


def compare_options(dialect: str) -> dict[str, Any]:
    """Alembic's schema comparison hooks for ``dialect``: compare everything but the search objects and, on
    PostgreSQL, the day partitions and the constraints partitioning widens, none of which the models declare
    (they declare SQLite's shape)."""

    def include_name(name: str | None, type_: str, parent: Any) -> bool:
        if dialect == "postgresql":
            if type_ == "table" and name and _PARTITION_TABLE.fullmatch(name):
                return False
            if type_ == "unique_constraint" and name in _WIDENED:
                return False
        return search_index.include_name(name, type_, parent)

    def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        return not (dialect == "postgresql" and type_ == "unique_constraint" and name in _WIDENED)

    return {"include_name": include_name, "include_object": include_object}
