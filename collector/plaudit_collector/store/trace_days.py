"""The UTC days each trace's spans start on (PostgreSQL), so a read by trace id prunes day partitions.

A lookup of spans by trace id names no time, so on the day-partitioned ``spans`` table PostgreSQL plans
every day's partition and probes each one's index: with 90 days kept, planning alone took 8 ms of an idle
machine against 0.4 ms for the whole read of an unpartitioned table (``bench/bench_partitions.py``). The
``trace_days`` table holds one row per (project, trace, day) that has spans. A reader looks the trace's days
up first (one primary-key probe), then reads the spans with those days' bounds on ``start_ns``: the planner
keeps only those partitions, and a trace with no row has no spans, so nothing else is read.

The rows are written by ingest in the transaction that stores the spans (:func:`record`), backfilled by
migration ``0013_trace_days`` and deleted with their day by retention. A row left behind for a day whose spans
are gone costs one empty probe, never a wrong answer; a missing one would hide spans, which is why every
writer of spans on PostgreSQL goes through :func:`record`. SQLite's spans are one table whose index a read
probes once: it keeps no rows, and its readers take no bounds (:func:`bounds` answers None).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import BigInteger, and_, bindparam, or_, select, text
from sqlalchemy.engine import Connection

from plaudit_collector.store import prepared
from plaudit_collector.store.partitions import DAY_NS, day_of
from plaudit_collector.store.tables import Span, TraceDay
from plaudit_collector.store.value_lists import one_of

TABLE = TraceDay.__table__  # type: ignore[attr-defined]
SPANS = Span.__table__  # type: ignore[attr-defined]
CHUNK = 1000
_RECORD = (
    "INSERT INTO trace_days (project, trace_id, day) "
    "SELECT * FROM unnest(CAST(%s AS TEXT[]), CAST(%s AS TEXT[]), CAST(%s AS INTEGER[])) ON CONFLICT DO NOTHING"
)
BACKFILL = (
    "INSERT INTO trace_days (project, trace_id, day) "
    f"SELECT DISTINCT project, trace_id, CAST(floor(start_ns::numeric / {DAY_NS}) AS INTEGER) FROM spans "
    "ON CONFLICT DO NOTHING"
)
"""Rows for every stored span (the migration, :func:`refill`)."""


def record(conn: Connection, rows: Sequence[tuple[Any, ...]], start_at: int) -> None:
    """PostgreSQL: note the days of span tuples (project, trace id, ..., start at ``start_at``) just stored.
    Sorted: two batches of the same traces wait on each other's keys in one order, never in a cycle."""
    keys = sorted({(r[0], r[1], day_of(r[start_at])) for r in rows})
    if keys:
        projects, traces, days = (list(column) for column in zip(*keys, strict=True))
        conn.exec_driver_sql(_RECORD, (projects, traces, days))


DAYS = select(TABLE.c.trace_id, TABLE.c.day).where(
    TABLE.c.project == bindparam("project"), one_of(TABLE.c.trace_id, "ids", "postgresql")
)
"""Built once: the (trace, day) rows of a list of traces (``project``, ``ids``: at most :data:`CHUNK`). A caller
may read it with other statements at once and hand the rows to :func:`narrow` (see :func:`by_trace`)."""


def days(conn: Connection, project: str, trace_ids: Iterable[str]) -> dict[str, set[int]]:
    """The days each of ``trace_ids`` has spans on; a trace with none is absent. The ids go as one array: a
    list of 500 parameters is planned anew each time, and planned as a scan of the whole table."""
    unique = sorted(set(trace_ids))
    found: list[Any] = []
    for start in range(0, len(unique), CHUNK):
        found += prepared.rows(conn, DAYS, {"project": project, "ids": unique[start : start + CHUNK]})
    return by_trace(found)


def by_trace(rows: Iterable[Any]) -> dict[str, set[int]]:
    """(trace, day) rows of :data:`DAYS` as the days of each trace."""
    out: dict[str, set[int]] = {}
    for trace_id, day in rows:
        out.setdefault(trace_id, set()).add(day)
    return out


def within(column: Any, day_set: Iterable[int]) -> Any:
    """``column`` (nanoseconds) on one of the days, consecutive days merged into one range: literal bounds
    the planner prunes partitions with."""
    return _within(column, _ranges(day_set))


def _ranges(day_set: Iterable[int]) -> tuple[tuple[int, int], ...]:
    """Consecutive days merged: (first day, day after the last) for each run."""
    ranges: list[list[int]] = []
    for day in sorted(set(day_set)):
        if ranges and ranges[-1][1] == day:
            ranges[-1][1] = day + 1
        else:
            ranges.append([day, day + 1])
    return tuple((low, high) for low, high in ranges)


def _within(column: Any, ranges: tuple[tuple[int, int], ...]) -> Any:
    return or_(*(and_(column >= _literal(low * DAY_NS), column < _literal(high * DAY_NS)) for low, high in ranges))


def _literal(ns: int) -> Any:
    """A bound written into the SQL text: a plan PostgreSQL caches for a prepared statement (psycopg prepares
    a query after a few runs) then still holds the bound, and so only its partitions."""
    return bindparam(None, ns, type_=BigInteger, literal_execute=True)


def bounds(conn: Connection, project: str, trace_ids: Iterable[str], column: Any) -> Any | None:
    """What to add to a query of spans by trace id: None on SQLite (no bounds needed), ``false`` when no
    trace has spans (the caller may skip the query), else the traces' days on ``column``."""
    if conn.dialect.name == "sqlite":
        return None
    found = days(conn, project, trace_ids)
    if not found:
        return text("false")
    return within(column, set().union(*found.values()))


def refill(conn: Connection) -> None:
    """PostgreSQL: rewrite every row from the stored spans (``plaudit db rebuild``: spans written by a collector
    older than this table, or loaded straight into it)."""
    conn.execute(TABLE.delete())
    conn.exec_driver_sql(BACKFILL)


def narrow(
    conn: Connection,
    query: Any,
    project: str,
    trace_ids: Iterable[str],
    *,
    built_once: bool = False,
    known: dict[str, set[int]] | None = None,
) -> Any:
    """``query`` (of spans, by these trace ids) with the traces' days on ``spans.start_ns`` (PostgreSQL).

    ``built_once``: ``query`` is a statement the caller keeps (a hot path's), so the narrowed statement is
    kept too, one per set of days: a request then reuses it instead of building a new statement, which
    SQLAlchemy would key and read the columns of again (with the trace days' lookup built once too, a one-item
    feedback write took about a sixth less CPU). ``known``: the days of these traces, read already (from
    :data:`DAYS` for all of them or more: a trace it leaves out has no spans)."""
    if conn.dialect.name == "sqlite":
        return query
    if known is None:
        found = days(conn, project, trace_ids)
    else:
        found = {trace_id: known[trace_id] for trace_id in set(trace_ids) if trace_id in known}
    ranges = _ranges(set().union(*found.values())) if found else ()
    return (_kept_narrowed if built_once else _narrowed)(query, ranges)


def _narrowed(query: Any, ranges: tuple[tuple[int, int], ...]) -> Any:
    """``query`` narrowed to ``ranges`` of days (none: no trace has spans)."""
    return query.where(_within(SPANS.c.start_ns, ranges) if ranges else text("false"))


_kept_narrowed = functools.lru_cache(maxsize=256)(_narrowed)
""":func:`_narrowed` for statements built once: kept for the next request."""


def forget_day(conn: Connection, day: int) -> int:
    """PostgreSQL, in the transaction that drops ``day``'s partitions: its rows go with them."""
    return conn.execute(TABLE.delete().where(TABLE.c.day == day)).rowcount or 0


def forget_emptied(conn: Connection, spans_table: Any, keys: Iterable[tuple[str, str, int]]) -> None:
    """PostgreSQL, after deleting spans one by one: drop the (project, trace, day) rows among ``keys`` that
    have no span left on their day (a row left behind would only cost an empty probe). One read and one
    delete per project and day, each naming its day so that only its partition is read."""
    by_day: dict[tuple[str, int], set[str]] = {}
    for project, trace_id, day in keys:
        by_day.setdefault((project, day), set()).add(trace_id)
    s = spans_table
    for (project, day), traces in sorted(by_day.items()):
        wanted = sorted(traces)
        for start in range(0, len(wanted), CHUNK):
            chunk = wanted[start : start + CHUNK]
            left = conn.execute(
                select(s.c.trace_id)
                .distinct()
                .where(s.c.project == project, s.c.trace_id.in_(chunk), within(s.c.start_ns, [day]))
            ).scalars()
            gone = sorted(set(chunk) - set(left))
            if gone:
                conn.execute(
                    TABLE.delete().where(TABLE.c.project == project, TABLE.c.day == day, TABLE.c.trace_id.in_(gone))
                )
