"""Ingest throughput: spans/s end to end into SQLite and PostgreSQL, against a bare executemany baseline.

End to end: a ``plaudit serve`` subprocess receives OTLP/HTTP protobuf batches of 512 spans (about ten
attributes each, 500-character input and output) from client threads and answers once they are committed.
Baseline, measured in the same run: the same rows inserted into the same database with one plain
``executemany`` per batch (no HTTP, no decoding), which is the floor any collector pays for storage.
Targets: end to end >= 0.60 of the baseline on SQLite and >= 0.75 on PostgreSQL, and >= 15,000 spans/s into
SQLite on a 2-core machine.
Peak RSS is the collector process's high-water mark (VmHWM). ``--cells N`` first gives the project N span
cells of earlier days (a day and dimension combination each, as months of spans leave them), which each
batch must find its own cells among.

Usage: python bench/bench_ingest.py [--batches N] [--skip-pg] [--cells N]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import threading
import time
from pathlib import Path

import httpx
from _common import collector_process, history_cells, pg_schema
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

BATCH = 512
CLIENT_THREADS = 3
TEXT = "lorem ipsum dolor sit amet " * 20
RATIO_TARGETS = {"SQLite": 0.60, "PostgreSQL": 0.75}
"""End to end over the bare executemany: what HTTP, decoding, normalising, the rollup and the copies may cost."""


def _kv(key: str, value: object) -> KeyValue:
    if isinstance(value, bool):
        any_value = AnyValue(bool_value=value)
    elif isinstance(value, int):
        any_value = AnyValue(int_value=value)
    elif isinstance(value, float):
        any_value = AnyValue(double_value=value)
    else:
        any_value = AnyValue(string_value=str(value))
    return KeyValue(key=key, value=any_value)


def make_batches(count: int, seed: int = 7) -> list[bytes]:
    """``count`` serialized ExportTraceServiceRequests of BATCH spans each."""
    rng = random.Random(seed)
    now = time.time_ns()
    bodies = []
    for b in range(count):
        request = ExportTraceServiceRequest()
        rs = request.resource_spans.add()
        rs.resource.attributes.extend([_kv("service.name", "bench"), _kv("telemetry.sdk.language", "python")])
        ss = rs.scope_spans.add()
        ss.scope.name = "plaudit"
        trace_id = rng.randbytes(16)
        for i in range(BATCH):
            if i % 8 == 0:
                trace_id = rng.randbytes(16)
            start = now - (count - b) * 10**9 + i * 1000
            span = Span(
                trace_id=trace_id,
                span_id=rng.randbytes(8),
                name="chat gpt-4o-mini",
                kind=Span.SPAN_KIND_CLIENT,
                start_time_unix_nano=start,
                end_time_unix_nano=start + 250_000_000,
            )
            span.attributes.extend(
                [
                    _kv("gen_ai.operation.name", "chat"),
                    _kv("gen_ai.provider.name", "openai"),
                    _kv("gen_ai.request.model", rng.choice(["gpt-4o-mini", "gpt-4o", "claude-3-5-haiku"])),
                    _kv("gen_ai.usage.input_tokens", rng.randrange(10, 2000)),
                    _kv("gen_ai.usage.output_tokens", rng.randrange(10, 800)),
                    _kv("gen_ai.request.temperature", 0.2),
                    _kv("plaudit.prompt.name", "support-answer"),
                    _kv("plaudit.variant", rng.choice(["a", "b"])),
                    _kv("plaudit.input", TEXT[:500]),
                    _kv("plaudit.output", TEXT[-500:]),
                ]
            )
            ss.spans.append(span)
        bodies.append(request.SerializeToString())
    return bodies


def baseline(db_url: str, bodies: list[bytes]) -> float:
    """Spans/s of a bare executemany of the collector's own rows, one transaction per batch."""
    from plaudit_collector.ingest.spans import build_batch
    from plaudit_collector.store.db import Database
    from plaudit_collector.store.spans import insert_sql, received_value
    from plaudit_collector.store.tables import utcnow

    db = Database(db_url)
    db.prepare()
    received = received_value(db, utcnow())
    batches = []
    for body in bodies:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        batches.append(build_batch(request, "baseline", received=received).rows)
    sql = insert_sql(db.dialect)
    raw = db.engine.raw_connection()
    try:
        started = time.perf_counter()
        for rows in batches:
            cursor = raw.cursor()
            cursor.executemany(sql, rows)
            raw.commit()
            cursor.close()
        elapsed = time.perf_counter() - started
    finally:
        raw.close()
        db.dispose()
    return len(bodies) * BATCH / elapsed


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def end_to_end(db_url: str, bodies: list[bytes]) -> tuple[float, float]:
    """Spans/s through ``plaudit serve`` over HTTP, and the collector's peak RSS in MiB."""
    with tempfile.TemporaryDirectory() as logs, collector_process(db_url, Path(logs)) as (url, pid):
        headers = {"content-type": "application/x-protobuf"}
        with httpx.Client(base_url=url, timeout=60) as warm:  # first request pays imports and pool setup
            warm.post("/v1/traces", content=make_batches(1, seed=99)[0], headers=headers).raise_for_status()
        queue = list(enumerate(bodies))
        lock = threading.Lock()
        failures: list[str] = []

        def worker() -> None:
            with httpx.Client(base_url=url, timeout=60) as client:
                while True:
                    with lock:
                        if not queue:
                            return
                        _, body = queue.pop()
                    response = client.post("/v1/traces", content=body, headers=headers)
                    if response.status_code != 200:
                        failures.append(f"{response.status_code} {response.text[:200]}")

        threads = [threading.Thread(target=worker) for _ in range(CLIENT_THREADS)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        if failures:
            raise RuntimeError(f"{len(failures)} batches failed, first: {failures[0]}")
        rss = _peak_rss_mb(pid)
    return len(bodies) * BATCH / elapsed, rss


def _count(db_url: str, project: str) -> int:
    from sqlalchemy import text

    from plaudit_collector.store.db import Database

    db = Database(db_url)
    try:
        with db.engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM spans WHERE project = :p"), {"p": project}).scalar())
    finally:
        db.dispose()


def run(label: str, db_url: str, bodies: list[bytes], cells: int = 0) -> bool:
    history_cells(db_url, cells)
    base = baseline(db_url, bodies)
    e2e, rss = end_to_end(db_url, bodies)
    stored = _count(db_url, "default") - BATCH  # minus the warm-up batch
    ratio = e2e / base
    target = RATIO_TARGETS[label]
    print(
        f"{label:<10} baseline executemany {base:9,.0f} spans/s   end to end {e2e:9,.0f} spans/s   "
        f"ratio {ratio:5.2f} (target >= {target:.2f})   collector peak RSS {rss:6.1f} MiB   stored {stored:,}"
    )
    ok = ratio >= target and stored == len(bodies) * BATCH
    if label == "SQLite":
        print(f"{'':<10} SQLite end to end {e2e:,.0f} spans/s (target >= 15,000)")
        ok = ok and e2e >= 15_000
    return ok


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=60, help="batches of 512 spans per backend")
    parser.add_argument("--skip-pg", action="store_true")
    parser.add_argument("--cells", type=int, default=0, help="span cells of earlier days the project has first")
    args, _ = parser.parse_known_args()
    bodies = make_batches(args.batches)
    print(f"{args.batches} batches x {BATCH} spans, {sum(map(len, bodies)) / len(bodies) / 1024:.0f} KiB per batch")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        ok &= run("SQLite", f"sqlite:///{tmp}/bench.db", bodies, args.cells)
    if not args.skip_pg:
        try:
            with pg_schema() as url:
                ok &= run("PostgreSQL", url, bodies, args.cells)
        except Exception as exc:  # PostgreSQL unreachable: report and go on
            print(f"PostgreSQL  skipped: {exc}")
    print("targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
