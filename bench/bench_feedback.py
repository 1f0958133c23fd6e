"""Feedback ingest: items accepted per second by a local collector, single items and batches of 100.

The collector is a ``plaudit serve`` subprocess, as users run it, so the client shares no interpreter with it.

Each figure is printed beside a baseline measured in the same run on the same database: a bare
SQLAlchemy insert of the same rows into the same table (one row per transaction for the single-item
case, ``executemany`` of 100 rows per transaction for batches). The ratio is what validation,
idempotency, vote replacement, HTTP and JSON cost on top of the database's own write speed. The
"HTTP floor" (the same route refusing a bad item) shows how much of a single item's cost is HTTP; beside it,
the CPU per request of this process (the client) and of the collector (read from ``/proc``), for the floor
and for a single item: about half of the floor is the client's own work.
The rated spans are stored first (ten to a trace, sent as OTLP), so every item is credited to its span and
moves the score rollup, as real ratings do; ``--orphans`` rates spans the collector never saw instead.
``--cells N`` first gives the rated score N cells of history (a day and dimension combination each, as a
year of ratings leaves them), which each write's cell lookup must find its one cell among.
Last, without HTTP: the CPU this process spends storing one rating through the collector's own write path
(``feedback_writes.store_feedback``, as the route calls it) beside a bare one-row insert transaction, and a
batch of 100 beside a bare ``executemany`` of its rows, medians of ``time.process_time`` (alternating).
The single items' ceiling is an estimate from two figures of the run: a request that cost the HTTP floor and then
one bare insert transaction, one after the other, the least a write acknowledged after its commit can cost.
Every round rates spans no round rated before, one vote per author and span, except the last ("batches,
revotes"): it rates the first batch round's spans again by the same authors, so each item replaces a vote
(the earlier one is kept as history and the span's score aggregate is moved). On PostgreSQL the batches
run again after an ``ANALYZE`` of the whole database ("batches, stats", new spans): the steady state of a
database that autovacuum has analysed. The first round runs on tables the collector analyses itself as they
grow (``store/young_tables.py``); before it did, that round measured plans made for near-empty tables.
Runs on a fresh SQLite file, then on PostgreSQL in a throwaway schema (``--skip-pg`` for SQLite only, ``--db``
for one given database). Targets: batches of 100 at >= 7,000 items/s, single items at >= 0.6x the HTTP floor.

    python bench/bench_feedback.py [--items 1000] [--batches 40] [--db URL] [--skip-pg] [--orphans] [--cells N]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from _common import collector_process, history_cells, pg_schema, process_cpu
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from plaudit_collector.store import feedback_writes
from plaudit_collector.store.db import Database
from plaudit_collector.store.tables import Feedback, utcnow

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CPU_BATCHES = 20
"""Batches of 100 timed in process (the store's CPU per batch), on spans of their own."""


def trace_of(i: int) -> str:
    """Ten rated spans to a trace."""
    return f"{0x4BF92F3577B34DA6A3CE929D00000000 + i // 10:032x}"


def wire_item(i: int) -> dict[str, Any]:
    return {
        "trace_id": trace_of(i),
        "span_id": f"{i + 1:016x}",
        "name": "thumbs",
        "value": i % 3 != 0,
        "comment": "fine" if i % 10 == 0 else None,
        "source": "end_user",
        "author": f"user-{i % 50}",
        "idempotency_key": uuid.uuid4().hex,
    }


def table_row(item: dict[str, Any], project: str) -> dict[str, Any]:
    return {
        "project": project,
        "target_type": "span",
        "trace_id": item["trace_id"],
        "span_id": item["span_id"],
        "name": item["name"],
        "kind": "boolean",
        "score": 1.0 if item["value"] else 0.0,
        "value": item["value"],
        "comment": item["comment"],
        "source": item["source"],
        "author": item["author"],
        "idempotency_key": item["idempotency_key"],
        "is_current": True,
        "created_at": utcnow(),
    }


class CpuShare:
    """CPU milliseconds per request of this process (the client) and of the collector (None without /proc)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.client: float = 0.0
        self.collector: float | None = None

    @contextlib.contextmanager
    def measure(self, requests: int) -> Iterator[None]:
        client, collector = time.process_time(), process_cpu(self.pid)
        yield
        self.client = (time.process_time() - client) * 1000 / requests
        after = process_cpu(self.pid)
        self.collector = None if after is None or collector is None else (after - collector) * 1000 / requests

    def __str__(self) -> str:
        collector = "?" if self.collector is None else f"{self.collector:.2f}"
        return f"client {self.client:.2f} ms, collector {collector} ms"


def bench_http(url: str, items: list[dict[str, Any]], batch: int, cpu: CpuShare | None = None) -> float:
    with httpx.Client(base_url=url, timeout=60) as http:
        http.get("/healthz")
        start = time.perf_counter()
        with cpu.measure(-(-len(items) // batch)) if cpu else contextlib.nullcontext():
            for offset in range(0, len(items), batch):
                chunk = items[offset : offset + batch]
                response = http.post("/v1/feedback", json=chunk[0] if batch == 1 else {"items": chunk})
                response.raise_for_status()
        return len(items) / (time.perf_counter() - start)


def store_spans(url: str, count: int) -> None:
    """Send the spans that items ``0..count-1`` rate, as OTLP protobuf in requests of 500 spans."""
    now = time.time_ns()
    with httpx.Client(base_url=url, timeout=120) as http:
        for offset in range(0, count, 500):
            request = ExportTraceServiceRequest()
            scope = request.resource_spans.add().scope_spans.add()
            for i in range(offset, min(offset + 500, count)):
                span = Span(
                    trace_id=bytes.fromhex(trace_of(i)),
                    span_id=bytes.fromhex(f"{i + 1:016x}"),
                    name="chat",
                    start_time_unix_nano=now - 10**9,
                    end_time_unix_nano=now,
                )
                value = AnyValue(string_value="a" if i % 2 else "b")
                span.attributes.append(KeyValue(key="plaudit.variant", value=value))
                scope.spans.append(span)
            body = request.SerializeToString()
            response = http.post("/v1/traces", content=body, headers={"Content-Type": "application/x-protobuf"})
            response.raise_for_status()


def bench_http_floor(url: str, count: int, cpu: CpuShare) -> float:
    """Requests per second the same route answers when it stores nothing (a 422): the HTTP cost alone."""
    with httpx.Client(base_url=url, timeout=60) as http:
        start = time.perf_counter()
        with cpu.measure(count):
            for _ in range(count):
                http.post("/v1/feedback", json={"trace_id": TRACE})
        return count / (time.perf_counter() - start)


def bench_bare(db: Database, items: list[dict[str, Any]], batch: int) -> float:
    table = Feedback.__table__  # type: ignore[attr-defined]
    rows = [table_row(item, "baseline") for item in items]
    start = time.perf_counter()
    for offset in range(0, len(rows), batch):
        with db.engine.begin() as conn:
            conn.execute(table.insert(), rows[offset : offset + batch])
    return len(rows) / (time.perf_counter() - start)


def store_cpu(db: Database, items: list[dict[str, Any]], batch: int) -> tuple[float, float]:
    """Median CPU milliseconds per request of ``batch`` ratings: the collector's write path in this process, and
    a bare insert of the same rows in one transaction (one row, or an ``executemany``), alternating so that
    both see the same machine. Each request rates spans of its own."""
    table = Feedback.__table__  # type: ignore[attr-defined]
    ours: list[float] = []
    bare: list[float] = []
    for offset in range(0, len(items), batch):
        chunk = items[offset : offset + batch]
        payload = [{**item, "idempotency_key": uuid.uuid4().hex} for item in chunk]
        started = time.process_time()
        feedback_writes.store_feedback(db, "default", payload)
        ours.append(time.process_time() - started)
        rows = [table_row({**item, "idempotency_key": uuid.uuid4().hex}, "baseline") for item in chunk]
        started = time.process_time()
        with db.engine.begin() as conn:
            conn.execute(table.insert(), rows)
        bare.append(time.process_time() - started)
    return statistics.median(ours) * 1000, statistics.median(bare) * 1000


def measure(url: str, items_count: int, batches: int, orphans: bool = False, cells: int = 0) -> list[str]:
    """One database's figures, each beside its baseline from this run; returns the lines to print."""
    bare_db = Database(url)
    rated = batches * 100
    # Each round rates spans of its own (a first vote by each author), except "revotes", which rates the
    # spans of the first batch round again by the same authors, so every item replaces a vote.
    rounds = [("single items", 0, items_count, 1), ("batches of 100", items_count, rated, 100)]
    with tempfile.TemporaryDirectory() as logs, collector_process(url, Path(logs)) as (collector, pid):
        bare_db.create_schema()
        try:
            history_cells(url, cells, "thumbs")
            if not orphans:
                store_spans(collector, items_count + 2 * rated + min(items_count, 300) + CPU_BATCHES * 100)
            results = []

            single_cpu, floor_cpu = CpuShare(pid), CpuShare(pid)

            def run(label: str, first: int, count: int, batch: int) -> None:
                items = [wire_item(i) for i in range(first, first + count)]  # fresh idempotency keys
                accepted = bench_http(collector, items, batch, single_cpu if batch == 1 else None)
                bare = bench_bare(bare_db, [{**it, "idempotency_key": uuid.uuid4().hex} for it in items], batch)
                results.append((label, accepted, bare))

            for label, first, count, batch in rounds:
                run(label, first, count, batch)
            if not url.startswith("sqlite"):
                # Autovacuum analyses tables about a minute after they grow, and the run above is shorter: its
                # plans were made for near-empty tables. Once more with statistics current, as a running
                # database has them.
                with bare_db.engine.connect() as conn:
                    conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
                run("batches, stats", items_count + rated, rated, 100)
            run("batches, revotes", items_count, rated, 100)
            floor = bench_http_floor(collector, items_count, floor_cpu)
            cpu_first = items_count + 2 * rated  # spans of their own here too
            cpu_items = [wire_item(i) for i in range(cpu_first, cpu_first + min(items_count, 300))]
            cpu, cpu_bare = store_cpu(bare_db, cpu_items, 1)
            batch_first = cpu_first + len(cpu_items)
            batch_items = [wire_item(i) for i in range(batch_first, batch_first + CPU_BATCHES * 100)]
            batch_cpu, batch_bare = store_cpu(bare_db, batch_items, 100)
        finally:
            bare_db.dispose()
    name = "SQLite" if url.startswith("sqlite") else "PostgreSQL"
    lines = [f"{name:<10} HTTP floor     {floor:9,.0f} requests/s answered with a 422 (no database work)"]
    lines.append(f"{name:<10} CPU per request: the floor: {floor_cpu}; a single item: {single_cpu}")
    for label, accepted, bare in results:
        lines.append(
            f"{name:<10} {label:<16} collector {accepted:9,.0f} items/s   bare insert {bare:9,.0f} rows/s   "
            f"ratio {accepted / bare:5.2f}x"
        )
    lines.append(
        f"{name:<10} store CPU per single item (in process, no HTTP) {cpu:6.2f} ms   "
        f"bare one-row insert {cpu_bare:6.2f} ms   ratio {cpu / cpu_bare:5.2f}x"
    )
    lines.append(
        f"{name:<10} store CPU per batch of 100 (in process, no HTTP) {batch_cpu:6.2f} ms   "
        f"bare executemany {batch_bare:6.2f} ms   ratio {batch_cpu / batch_bare:5.2f}x"
    )
    single, bare_single = results[0][1], results[0][2]
    ceiling = 1 / (1 / floor + 1 / bare_single)  # a refused request, then one bare insert transaction, in turn
    lines.append(
        f"{name:<10} single items' ceiling (estimate): a store costing one bare insert transaction would answer "
        f"{ceiling:,.0f} items/s, {ceiling / floor:4.2f}x the floor"
    )
    batched = ", ".join(f"{accepted:,.0f} items/s ({label})" for label, accepted, _ in results[1:])
    lines.append(
        f"{name:<10} single items at {single / floor:5.2f}x the HTTP floor (target >= 0.60); "
        f"batches {batched} (target >= 7,000)"
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000, help="single items to post")
    parser.add_argument("--batches", type=int, default=40, help="batches of 100 to post")
    parser.add_argument("--db", default=None, help="one database URL (default: a fresh SQLite file, then PostgreSQL)")
    parser.add_argument("--skip-pg", action="store_true", help="SQLite only")
    parser.add_argument("--orphans", action="store_true", help="rate spans that were never stored")
    parser.add_argument("--cells", type=int, default=0, help="cells of history the rated score has first")
    args, _unknown = parser.parse_known_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.db:
            urls: list[contextlib.AbstractContextManager[str]] = [_given(args.db)]
        else:
            urls = [_given(f"sqlite:///{Path(tmp) / 'bench.db'}")]
            if not args.skip_pg:
                urls.append(pg_schema())
        for context in urls:
            try:
                with context as url:
                    lines = measure(url, args.items, args.batches, args.orphans, args.cells)
            except Exception as exc:  # PostgreSQL unreachable: report and go on
                print(f"PostgreSQL skipped: {exc}")
                continue
            print("\n".join(lines), flush=True)


@contextlib.contextmanager
def _given(url: str) -> Iterator[str]:
    """``url`` itself, or for PostgreSQL a throwaway schema in that database (dropped afterwards)."""
    if not url.startswith("postgresql"):
        yield url
        return
    import psycopg

    admin = url.replace("postgresql+psycopg://", "postgresql://")
    schema = f"plaudit_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


if __name__ == "__main__":
    main()
