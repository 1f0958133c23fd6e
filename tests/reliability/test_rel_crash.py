"""Collector crash: ``kill -9`` mid-stream loses nothing that was acknowledged and never half-stores a batch.

Several client threads stream OTLP batches (whose spans also carry annotations, stored as feedback) and
feedback batches at a collector subprocess; the test kills it with SIGKILL once some batches were
acknowledged, audits the database while it is down, restarts it, lets the clients resend what was not
acknowledged, and audits again. A batch's spans and the feedback they carry are stored together or not at all.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span
from rel_helpers import CollectorProcess, db_count, db_rows

CLIENTS = 4
BATCHES = 20  # per client, of each kind
SPANS_PER_BATCH = 50
FEEDBACK_PER_BATCH = 10
CARRIED_PER_BATCH = 5  # OTLP annotations on the first spans of each OTLP batch


def trace_id(client: int, batch: int, kind: int) -> str:
    return f"{kind:02x}{client:06x}{batch:08x}".ljust(32, "a")


def otlp_batch(client: int, batch: int) -> bytes:
    tid = bytes.fromhex(trace_id(client, batch, 1))
    spans = [
        Span(
            trace_id=tid,
            span_id=(index + 1).to_bytes(8, "big"),
            name=f"c{client}-b{batch}-s{index}",
            start_time_unix_nano=1_700_000_000_000_000_000 + index,
            end_time_unix_nano=1_700_000_000_100_000_000 + index,
            attributes=[
                KeyValue(key="gen_ai.request.model", value=AnyValue(string_value="m1")),
                *(_annotation(index) if index < CARRIED_PER_BATCH else []),
            ],
        )
        for index in range(SPANS_PER_BATCH)
    ]
    request = ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=spans)])])
    return request.SerializeToString()


def _annotation(index: int) -> list[KeyValue]:
    """An OpenInference annotation on the span itself: feedback the span carries."""
    return [
        KeyValue(key="annotations.0.annotation.name", value=AnyValue(string_value="carried")),
        KeyValue(key="annotations.0.annotation.score", value=AnyValue(double_value=float(index))),
    ]


def feedback_batch(client: int, batch: int) -> dict[str, object]:
    tid = trace_id(client, batch, 2)
    return {
        "items": [
            {"trace_id": tid, "name": f"q{index}", "value": index % 5, "idempotency_key": f"{tid}-{index}"}
            for index in range(FEEDBACK_PER_BATCH)
        ]
    }


@dataclass
class Outcome:
    acked: set[str] = field(default_factory=set)  # trace ids of batches answered 2xx
    errors: list[str] = field(default_factory=list)  # 5xx other than 503 back-pressure
    lock: threading.Lock = field(default_factory=threading.Lock)


def client_loop(client: int, url: str, up: threading.Event, outcome: Outcome) -> None:
    """Send every batch until it is acknowledged, resending (same ids, same keys) after failures."""
    with httpx.Client(base_url=url, timeout=10) as http:
        for batch in range(BATCHES):
            for kind in (1, 2):
                tid = trace_id(client, batch, kind)
                while True:
                    up.wait()
                    try:
                        if kind == 1:
                            response = http.post(
                                "/v1/traces",
                                content=otlp_batch(client, batch),
                                headers={"Content-Type": "application/x-protobuf"},
                            )
                        else:
                            response = http.post("/v1/feedback", json=feedback_batch(client, batch))
                    except httpx.HTTPError:
                        time.sleep(0.05)  # the collector is gone: wait for it and resend
                        continue
                    if response.is_success:
                        with outcome.lock:
                            outcome.acked.add(tid)
                        break
                    if response.status_code in (429, 503):
                        time.sleep(float(response.headers.get("retry-after", "0.2")))
                        continue
                    with outcome.lock:
                        outcome.errors.append(f"{response.status_code} {response.text[:300]}")
                    break


def audit(db_url: str, acked: set[str]) -> tuple[dict[str, int], dict[str, int]]:
    """Rows per batch; every acknowledged batch must be whole, no batch may be partial, and an OTLP batch's
    spans are stored exactly when the feedback they carry is."""
    spans = dict(db_rows(db_url, "SELECT trace_id, COUNT(*) FROM spans GROUP BY trace_id"))
    feedback = dict(db_rows(db_url, "SELECT trace_id, COUNT(*) FROM feedback GROUP BY trace_id"))
    carried = {tid: n for tid, n in feedback.items() if tid.startswith("01")}
    posted = {tid: n for tid, n in feedback.items() if tid.startswith("02")}
    for tid in acked:
        table, expected = (spans, SPANS_PER_BATCH) if tid.startswith("01") else (posted, FEEDBACK_PER_BATCH)
        assert table.get(tid) == expected, f"acknowledged batch {tid} has {table.get(tid)} rows"
    assert set(spans.values()) <= {SPANS_PER_BATCH}, f"a span batch was half-stored: {spans}"
    assert set(posted.values()) <= {FEEDBACK_PER_BATCH}, f"a feedback batch was half-stored: {posted}"
    assert carried == dict.fromkeys(spans, CARRIED_PER_BATCH), "spans stored without their feedback, or the reverse"
    return spans, posted


def test_kill_9_mid_stream_loses_nothing_acknowledged(db_url: str, tmp_path: Path) -> None:
    collector = CollectorProcess(db_url, tmp_path).start()
    up = threading.Event()
    up.set()
    outcome = Outcome()
    threads = [
        threading.Thread(target=client_loop, args=(c, collector.url, up, outcome), daemon=True) for c in range(CLIENTS)
    ]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        while len(outcome.acked) < CLIENTS * BATCHES // 2 and time.monotonic() < deadline:
            time.sleep(0.005)
        up.clear()  # clients that fail now wait for the restart before resending
        collector.kill9()
        with outcome.lock:
            acked_before_crash = set(outcome.acked)
        assert acked_before_crash, "nothing was acknowledged before the crash"
        audit(db_url, acked_before_crash)

        collector.start()
        up.set()
        for thread in threads:
            thread.join(120)
        assert not any(thread.is_alive() for thread in threads)
        assert outcome.errors == []
        spans, feedback = audit(db_url, outcome.acked)
        assert len(spans) == len(feedback) == CLIENTS * BATCHES, "every batch arrives once the clients resend"
        assert db_count(db_url, "SELECT COUNT(*) FROM spans") == CLIENTS * BATCHES * SPANS_PER_BATCH
        assert db_count(db_url, "SELECT COUNT(*) FROM feedback") == CLIENTS * BATCHES * (
            FEEDBACK_PER_BATCH + CARRIED_PER_BATCH
        )
    finally:
        up.set()
        collector.stop()
