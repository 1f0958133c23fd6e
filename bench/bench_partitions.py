"""PostgreSQL day partitions: what reading a trace by id costs when many days are kept.

A trace read names no time, so PostgreSQL probes the index of every day partition. Two schemas get the same
spans spread over ``--days`` days: one at migration ``0007`` (one unpartitioned table, the baseline measured
in the same run) and one at head (a partition per day). Prints the median time of a trace read on each and
their ratio.

    python bench/bench_partitions.py [--days 90] [--spans 90000] [--reads 200]
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import time
from contextlib import ExitStack

import psycopg
from _common import PG_URL, pg_schema

from plaudit_collector.store import partitions
from plaudit_collector.store.db import Database
from plaudit_collector.store.spans import RESEND_WINDOW_NS

DAY = partitions.DAY_NS
_FILL = """INSERT INTO spans (project, trace_id, span_id, name, otel_kind, start_ns, end_ns, duration_ms,
 status_code, attributes, resource, events, links, received_at, cost_estimated)
SELECT 'default', md5(g::text), substr(md5((g * 7)::text), 1, 16), 'call', 'INTERNAL',
 %(base)s + (g %% %(days)s) * %(day)s + g, %(base)s + (g %% %(days)s) * %(day)s + g + 5000000, 5.0, 'OK',
 '{}'::jsonb, '{}'::jsonb, '[]'::jsonb, '[]'::jsonb, now(), false FROM generate_series(1, %(spans)s) g"""


def _prepare(url: str, revision: str, days: int, spans: int) -> None:
    base = (time.time_ns() // DAY - days + 1) * DAY
    db = Database(url)
    db.upgrade(revision)
    if revision == "head":
        partitions.ensure(db, range(base // DAY, base // DAY + days))
    with db.engine.begin() as conn:
        conn.exec_driver_sql(_FILL, {"base": base, "days": days, "day": DAY, "spans": spans})
        conn.exec_driver_sql("ANALYZE spans")
    db.dispose()


def _median_read_ms(url: str, reads: int, per_read: int = 1, window: tuple[int, int] | None = None) -> float:
    """Median time of reading ``per_read`` traces by id in one query (1: a trace page; 512: what ingest
    looks up per batch), within ``window`` (start times) when given."""
    schema = url.rsplit("%3D", 1)[1]
    times = []
    with psycopg.connect(PG_URL.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f'SET search_path = "{schema}"')
        for g in range(1, 2 * reads, 2):
            traces = [hashlib.md5(str(g + 2 * i).encode()).hexdigest() for i in range(per_read)]
            where, params = "", ("default", traces)
            if window is not None:  # what ingest reads: the days around the batch
                where, params = " AND start_ns BETWEEN %s AND %s", ("default", traces, *window)
            started = time.perf_counter()
            conn.execute(
                "SELECT trace_id, span_id FROM spans WHERE project = %s AND trace_id = ANY(%s)" + where, params
            ).fetchall()
            times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


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
        for per_read, label in ((1, "one trace by id"), (512, "512 traces by id (an ingest batch)")):
            for _ in range(2):  # the second round reads warm caches on both
                base, ms = _median_read_ms(plain, args.reads, per_read), _median_read_ms(parted, args.reads, per_read)
            print(
                f"{label}, {args.spans:,} spans over {args.days} days, median of {args.reads}: "
                f"unpartitioned {base:.2f} ms (baseline)   {args.days} day partitions {ms:.2f} ms   "
                f"ratio {ms / base:.1f}x"
            )
        now = time.time_ns()
        window = (now - DAY - RESEND_WINDOW_NS, now + RESEND_WINDOW_NS)  # a batch of spans from the last day
        for _ in range(2):
            base = _median_read_ms(plain, args.reads, 512, window)
            ms = _median_read_ms(parted, args.reads, 512, window)
        print(
            f"512 traces by id within a week of the batch (what ingest reads): unpartitioned {base:.2f} ms "
            f"(baseline)   {args.days} day partitions {ms:.2f} ms   ratio {ms / base:.1f}x"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
