"""PostgreSQL day partitions: what reading a trace by id costs when many days are kept.

A read by trace id names no time, so on its own PostgreSQL plans and probes every day partition; the collector
first looks the trace's days up in ``trace_days`` and bounds ``start_ns`` by them, so only those partitions
are planned and read. Two schemas get the same spans spread over ``--days`` days: one at migration ``0007``
(one unpartitioned table, the baseline measured in the same run) and one at head (a partition per day).
Prints the median time of a trace read on each, through ``trace_days`` as the collector reads and without it
(what it cost before), and their ratios to the baseline; then the same for 512 traces at once (what ingest
looks up per batch to skip re-sent spans). Each twice: with plans cached as in a running collector (psycopg
prepares a repeated query) and planned on every read (a connection's first reads; planning every partition
is most of what an unbounded read cost).

    python bench/bench_partitions.py [--days 90] [--spans 90000] [--reads 200]
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import time
from collections.abc import Callable
from contextlib import ExitStack

from _common import pg_schema
from sqlalchemy import select
from sqlalchemy.engine import Connection

from plaudit_collector.store import partitions, trace_days
from plaudit_collector.store.db import Database
from plaudit_collector.store.spans import SPAN_TABLE

DAY = partitions.DAY_NS
_FILL = """INSERT INTO spans (project, trace_id, span_id, name, otel_kind, start_ns, end_ns, duration_ms,
 status_code, attributes, resource, events, links, received_at, cost_estimated)
SELECT 'default', md5(g::text), substr(md5((g * 7)::text), 1, 16), 'call', 'INTERNAL',
 %(base)s + (g %% %(days)s) * %(day)s + g, %(base)s + (g %% %(days)s) * %(day)s + g + 5000000, 5.0, 'OK',
 '{}'::jsonb, '{}'::jsonb, '[]'::jsonb, '[]'::jsonb, now(), false FROM generate_series(1, %(spans)s) g"""
_S = SPAN_TABLE.c


def _prepare(url: str, revision: str, days: int, spans: int) -> None:
    base = (time.time_ns() // DAY - days + 1) * DAY
    db = Database(url)
    db.upgrade(revision)
    if revision == "head":
        partitions.ensure(db, range(base // DAY, base // DAY + days))
    with db.engine.begin() as conn:
        conn.exec_driver_sql(_FILL, {"base": base, "days": days, "day": DAY, "spans": spans})
        if revision == "head":  # what ingest writes beside each span
            conn.exec_driver_sql(trace_days.BACKFILL)
            conn.exec_driver_sql("ANALYZE trace_days")
        conn.exec_driver_sql("ANALYZE spans")
    db.dispose()


def _median_read_ms(
    conn: Connection, reads: int, pick: Callable[[int], list[str]], *, named_days: bool = False, cached: bool = True
) -> float:
    """Median time of reading the traces ``pick(g)`` names by id, through ``trace_days`` (their days first,
    then only those days' partitions) when ``named_days``. ``cached``: as the collector runs, psycopg prepares
    a query it has run five times and PostgreSQL may keep its plan; else each read is planned (what the first
    reads on each new connection pay). One connection per schema for the whole run, as a pooled collector
    connection: a partition's first read on a connection also loads its catalog entries."""
    conn.connection.driver_connection.prepare_threshold = 5 if cached else None  # type: ignore[union-attr]
    times = []
    for g in range(1, 2 * reads, 2):
        traces = pick(g)
        started = time.perf_counter()
        query = select(_S.trace_id, _S.span_id, _S.name, _S.start_ns).where(
            _S.project == "default", _S.trace_id.in_(traces)
        )
        if named_days:
            bounds = trace_days.bounds(conn, "default", traces, _S.start_ns)
            query = query.where(bounds) if bounds is not None else query
        conn.execute(query).all()
        times.append(time.perf_counter() - started)
    conn.rollback()
    return statistics.median(times) * 1000


def _md5(value: object) -> str:
    return hashlib.md5(str(value).encode()).hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--spans", type=int, default=90_000)
    parser.add_argument("--reads", type=int, default=200)
    args = parser.parse_args()
    with ExitStack() as stack:
        plain, parted = stack.enter_context(pg_schema()), stack.enter_context(pg_schema())
        _prepare(plain, "0007_experiment_direction", args.days, args.spans)
        _prepare(parted, "head", args.days, args.spans)
        plain_db, parted_db = Database(plain), Database(parted)
        stack.callback(plain_db.dispose)
        stack.callback(parted_db.dispose)
        on_plain, on_parted = (
            stack.enter_context(plain_db.engine.connect()),
            stack.enter_context(parted_db.engine.connect()),
        )
        days = args.days
        picks: list[tuple[str, Callable[[int], list[str]]]] = [
            ("one trace by id (a trace page)", lambda g: [_md5(g)]),
            ("512 stored traces of a day (a re-sent batch)", lambda g: [_md5(g % days + days * i) for i in range(512)]),
            ("512 new traces (a fresh batch)", lambda g: [_md5(f"new{g}-{i}") for i in range(512)]),
        ]
        for label, pick in picks:
            for cached, how in ((True, "plans cached"), (False, "planned each read")):
                for _ in range(2):  # the second round reads warm caches on all three
                    base = _median_read_ms(on_plain, args.reads, pick, cached=cached)
                    named = _median_read_ms(on_parted, args.reads, pick, named_days=True, cached=cached)
                    unbounded = _median_read_ms(on_parted, args.reads, pick, cached=cached)
                print(
                    f"{label}, {how}, {args.spans:,} spans over {days} days, median of {args.reads}: "
                    f"unpartitioned {base:.2f} ms (baseline)   {days} day partitions through trace_days "
                    f"{named:.2f} ms (ratio {named / base:.1f}x)   without trace_days {unbounded:.2f} ms "
                    f"(ratio {unbounded / base:.1f}x)"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
