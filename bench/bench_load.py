"""Collector under load: 8 concurrent clients sending OTLP batches and feedback, analytics queried meanwhile.

For each backend (SQLite file, PostgreSQL) a collector subprocess is started and driven for
``--seconds`` (60 by default): prints requests/s, p50/p99 latency, peak collector RSS, the status codes
seen and the analytics latency, plus the ratio of 8-client throughput to a 1-client baseline measured
in the same run. Fails (exit 1) on any 5xx other than 503 with Retry-After.

    python bench/bench_load.py [--seconds 60] [--clients 8] [--backend sqlite|postgresql|all]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from _common import collector_process, pg_schema
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

SPANS_PER_BATCH = 100
FEEDBACK_PER_BATCH = 20
MODELS = ("m-small", "m-large", "m-mini")


def _kv(key: str, value: str | int) -> KeyValue:
    any_value = AnyValue(int_value=value) if isinstance(value, int) else AnyValue(string_value=value)
    return KeyValue(key=key, value=any_value)


def otlp_batch(client: int, seq: int) -> tuple[bytes, str]:
    """A realistic batch: one trace of LLM spans with model, variant, prompt and captured content."""
    trace_hex = f"{client:08x}{seq:016x}".ljust(32, "b")
    now = time.time_ns()
    spans = [
        Span(
            trace_id=bytes.fromhex(trace_hex),
            span_id=(index + 1).to_bytes(8, "big"),
            parent_span_id=b"" if index == 0 else (1).to_bytes(8, "big"),
            name="chat" if index else "answer",
            kind=Span.SPAN_KIND_CLIENT,
            start_time_unix_nano=now - 2_000_000,
            end_time_unix_nano=now,
            attributes=[
                _kv("gen_ai.request.model", MODELS[(seq + index) % len(MODELS)]),
                _kv("plaudit.variant", f"v{seq % 2}"),
                _kv("plaudit.prompt.name", "answer"),
                _kv("gen_ai.usage.input_tokens", 120 + index),
                _kv("plaudit.input", '{"question": "' + "why is the sky blue? " * 10 + '"}'),
                _kv("plaudit.output", '"' + "Because of Rayleigh scattering. " * 10 + '"'),
            ],
        )
        for index in range(SPANS_PER_BATCH)
    ]
    resource = Resource(attributes=[_kv("service.name", "load")])
    request = ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(resource=resource, scope_spans=[ScopeSpans(spans=spans)])]
    )
    return request.SerializeToString(), trace_hex


def feedback_batch(trace_hex: str) -> dict[str, Any]:
    return {
        "items": [
            {
                "trace_id": trace_hex,
                "span_id": (index + 1).to_bytes(8, "big").hex(),
                "name": "thumbs",
                "value": index % 3 != 0,
                "idempotency_key": f"{trace_hex}-{index}",
            }
            for index in range(FEEDBACK_PER_BATCH)
        ]
    }


def rss_bytes(pid: int) -> tuple[int, int]:
    """(current, peak) resident set size of a process, from /proc (Linux); (0, 0) elsewhere."""
    try:
        fields = dict(
            line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line
        )
        return int(fields["VmRSS"].split()[0]) * 1024, int(fields["VmHWM"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return 0, 0


def run_load(url: str, seconds: float, clients: int = 8, pid: int | None = None) -> dict[str, Any]:
    """Drive the collector at ``url``; returns throughput, latency, statuses, errors and peak RSS."""
    deadline = time.monotonic() + seconds
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: collections.Counter[int] = collections.Counter()
    errors: list[str] = []
    analytics_latencies: list[float] = []
    peak_rss = 0

    def record(response: httpx.Response, elapsed: float) -> None:
        with lock:
            latencies.append(elapsed)
            statuses[response.status_code] += 1
            bad_5xx = response.status_code >= 500 and response.status_code != 503
            if bad_5xx or (response.status_code in (429, 503) and "retry-after" not in response.headers):
                errors.append(f"{response.request.url.path}: {response.status_code} {response.text[:200]}")

    def client(index: int) -> None:
        seq = 0
        with httpx.Client(base_url=url, timeout=30) as http:
            while time.monotonic() < deadline:
                body, trace_hex = otlp_batch(index, seq)
                seq += 1
                requests: list[tuple[str, dict[str, Any]]] = [
                    ("/v1/traces", {"content": body, "headers": {"Content-Type": "application/x-protobuf"}}),
                    ("/v1/feedback", {"json": feedback_batch(trace_hex)}),
                ]
                for path, kwargs in requests:
                    while True:
                        started = time.perf_counter()
                        try:
                            response = http.post(path, **kwargs)
                        except httpx.HTTPError as exc:
                            with lock:
                                errors.append(f"transport error: {exc!r}")
                            return
                        record(response, time.perf_counter() - started)
                        if response.status_code not in (429, 503) or time.monotonic() >= deadline:
                            break
                        time.sleep(min(float(response.headers.get("retry-after", "1")), 1.0))

    def analyst() -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                try:
                    response = http.get("/v1/analytics/leaderboard", params={"score": "thumbs", "group_by": "model"})
                except httpx.HTTPError as exc:
                    with lock:
                        errors.append(f"leaderboard: no answer ({exc!r})")
                    continue
                with lock:
                    analytics_latencies.append(time.perf_counter() - started)
                    if response.status_code != 200:
                        errors.append(f"leaderboard: {response.status_code} {response.text[:200]}")
                time.sleep(0.25)

    def sampler() -> None:
        nonlocal peak_rss
        while time.monotonic() < deadline and pid is not None:
            peak_rss = max(peak_rss, rss_bytes(pid)[0])
            time.sleep(0.1)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    threads += [threading.Thread(target=analyst), threading.Thread(target=sampler)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    ordered = sorted(latencies) or [0.0]
    if pid is not None:
        peak_rss = max(peak_rss, rss_bytes(pid)[1])
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        "statuses": dict(statuses),
        "errors": errors,
        "analytics": len(analytics_latencies),
        "analytics_p99_ms": (sorted(analytics_latencies) or [0.0])[int(len(analytics_latencies) * 0.99) - 1] * 1000
        if analytics_latencies
        else 0.0,
        "peak_rss_mb": peak_rss / 2**20,
    }


def _print(label: str, result: dict[str, Any]) -> None:
    print(
        f"{label:<22} {result['rps']:8.1f} req/s  p50 {result['p50_ms']:7.1f} ms  p99 {result['p99_ms']:7.1f} ms  "
        f"peak RSS {result['peak_rss_mb']:6.1f} MiB  leaderboard x{result['analytics']} "
        f"(p99 {result['analytics_p99_ms']:.0f} ms)  statuses {result['statuses']}"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "all"), default="all")
    args, _ = parser.parse_known_args()
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        for backend in ("sqlite", "postgresql"):
            if args.backend not in (backend, "all"):
                continue
            with contextlib.ExitStack() as stack:
                db_url = f"sqlite:///{tmp}/load.db" if backend == "sqlite" else stack.enter_context(pg_schema())
                url, pid = stack.enter_context(collector_process(db_url, Path(tmp)))
                baseline = run_load(url, min(args.seconds / 4, 15.0), clients=1, pid=pid)
                result = run_load(url, args.seconds, clients=args.clients, pid=pid)
            _print(f"{backend} 1 client", baseline)
            _print(f"{backend} {args.clients} clients", result)
            print(f"{backend}: throughput {args.clients} clients / 1 client = {result['rps'] / baseline['rps']:.2f}x")
            for error in (baseline["errors"] + result["errors"])[:10]:
                print(f"  ERROR {error}")
            failed = failed or bool(baseline["errors"] or result["errors"])
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
