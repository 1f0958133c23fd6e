"""OTLP/HTTP as the specification describes it: encodings, compression, partial success, limits, back-pressure."""

from __future__ import annotations

import gzip
import sqlite3
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

PB = {"content-type": "application/x-protobuf"}


def to_protobuf(doc: dict[str, Any]) -> bytes:
    """The same request as protobuf (ids converted from OTLP JSON hex to bytes)."""
    request = ExportTraceServiceRequest()
    for rs in doc["resourceSpans"]:
        out_rs = request.resource_spans.add()
        json_format.ParseDict({"resource": rs["resource"]}, out_rs)
        for ss in rs["scopeSpans"]:
            out_ss = out_rs.scope_spans.add()
            json_format.ParseDict({"scope": ss["scope"]}, out_ss)
            for span in ss["spans"]:
                plain = {k: v for k, v in span.items() if k not in ("traceId", "spanId", "parentSpanId", "links")}
                out = out_ss.spans.add()
                json_format.ParseDict(plain, out)
                out.trace_id = bytes.fromhex(span["traceId"])
                out.span_id = bytes.fromhex(span["spanId"])
                if span.get("parentSpanId"):
                    out.parent_span_id = bytes.fromhex(span["parentSpanId"])
    return request.SerializeToString()


def count_spans(http: httpx.Client, trace_id: str) -> int:
    response = http.get(f"/v1/traces/{trace_id}")
    return 0 if response.status_code == 404 else len(response.json()["spans"])


@pytest.mark.parametrize("encoding", ["identity", "gzip", "deflate", "raw-deflate"])
def test_protobuf_with_each_compression(http: httpx.Client, otlp: Any, encoding: str) -> None:
    trace_id = otlp.trace_id()
    body = to_protobuf(otlp.request([otlp.span("a", {"n": 1}, trace_id=trace_id), otlp.span("b", trace_id=trace_id)]))
    headers = dict(PB)
    if encoding == "gzip":
        body, headers["content-encoding"] = gzip.compress(body), "gzip"
    elif encoding == "deflate":
        body, headers["content-encoding"] = zlib.compress(body), "deflate"
    elif encoding == "raw-deflate":
        compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        body, headers["content-encoding"] = compressor.compress(body) + compressor.flush(), "deflate"
    response = http.post("/v1/traces", content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-protobuf"
    ExportTraceServiceResponse.FromString(response.content)
    assert count_spans(http, trace_id) == 2


def test_json_encoding_details(http: httpx.Client, otlp: Any) -> None:
    """Hex ids, enum ints, intValue as strings, resource and scope attributes kept."""
    trace_id = otlp.trace_id()
    span = otlp.span(
        "json",
        {"gen_ai.usage.input_tokens": 123456789, "gen_ai.usage.output_tokens": 12345678901, "flag": True, "ratio": 0.5},
        trace_id=trace_id,
        kind=3,
    )
    span["status"] = {"code": 2, "message": "boom"}
    doc = otlp.request([span], service="svc-json", scope="my.scope")
    doc["resourceSpans"][0]["scopeSpans"][0]["scope"]["attributes"] = otlp.attributes({"scope.attr": "x"})
    response = http.post("/v1/traces", json=doc)
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    (stored,) = http.get(f"/v1/traces/{trace_id}").json()["spans"]
    assert stored["kind"] == "CLIENT" and stored["status"] == "ERROR" and stored["status_message"] == "boom"
    assert stored["input_tokens"] == 123456789
    assert stored["output_tokens"] is None  # past what a token column holds: kept as an attribute only
    assert stored["attributes"]["gen_ai.usage.output_tokens"] == 12345678901
    assert stored["attributes"]["flag"] is True and stored["attributes"]["ratio"] == 0.5
    assert stored["resource"]["service.name"] == "svc-json" and stored["service_name"] == "svc-json"
    assert stored["resource"]["deployment.environment.name"] == "test"
    assert stored["scope"] == "my.scope"


@pytest.mark.parametrize("wire", ["json", "protobuf"])
def test_partial_success_rejects_only_the_malformed_spans(http: httpx.Client, otlp: Any, wire: str) -> None:
    trace_id = otlp.trace_id()
    good = otlp.span("good", trace_id=trace_id)
    bad = otlp.span("bad", trace_id=trace_id, span_id="00" * 8)
    if wire == "json":
        also_bad = otlp.span("bad-hex", trace_id="zz" * 16)
        response = http.post("/v1/traces", json=otlp.request([good, bad, also_bad]))
        body = response.json()["partialSuccess"]
        rejected, message = int(body["rejectedSpans"]), body["errorMessage"]
        assert rejected == 2
    else:
        response = http.post("/v1/traces", content=to_protobuf(otlp.request([good, bad])), headers=PB)
        parsed = ExportTraceServiceResponse.FromString(response.content)
        rejected, message = parsed.partial_success.rejected_spans, parsed.partial_success.error_message
        assert rejected == 1
    assert response.status_code == 200
    assert "span_id" in message
    assert count_spans(http, trace_id) == 1


def test_all_malformed_is_a_400_and_stores_nothing(http: httpx.Client, otlp: Any) -> None:
    response = http.post("/v1/traces", json=otlp.request([otlp.span("bad", span_id="abc")]))
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "span_id"


def test_resent_batch_changes_nothing(http: httpx.Client, otlp: Any) -> None:
    trace_id = otlp.trace_id()
    body = to_protobuf(otlp.request([otlp.span(f"s{i}", trace_id=trace_id) for i in range(5)]))
    for _ in range(3):
        assert http.post("/v1/traces", content=body, headers=PB).status_code == 200
    assert count_spans(http, trace_id) == 5


def test_empty_request_and_other_signals(http: httpx.Client) -> None:
    assert http.post("/v1/traces", content=b"", headers=PB).status_code == 200
    assert http.post("/v1/traces", json={}).status_code == 200
    metrics = http.post("/v1/metrics", content=b"", headers=PB)
    assert metrics.status_code == 200 and metrics.headers["content-type"] == "application/x-protobuf"
    assert http.post("/v1/metrics", json={"resourceMetrics": []}).json() == {}
    assert http.post("/v1/traces", content=b"{}", headers={"content-type": "text/plain"}).status_code == 415


@pytest.fixture
def small_collector(db_url: str) -> Iterator[Any]:
    from plaudit_collector.server import BackgroundServer
    from plaudit_collector.settings import CollectorSettings

    settings = CollectorSettings(db_url=db_url, max_otlp_bytes=4096, max_concurrent_ingests=1, ingest_wait_seconds=0.2)
    server = BackgroundServer(settings).start()
    try:
        yield server
    finally:
        server.stop()
        server.app.state.db.dispose()


def test_body_limit_and_zip_bomb(small_collector: Any, otlp: Any) -> None:
    big = to_protobuf(otlp.request([otlp.span("x", {"plaudit.input": "y" * 5000})]))
    with httpx.Client(base_url=small_collector.url) as client:
        too_big = client.post("/v1/traces", content=big, headers=PB)
        assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "body_too_large"
        bomb = gzip.compress(b"\0" * 100_000)
        inflated = client.post("/v1/traces", content=bomb, headers={**PB, "content-encoding": "gzip"})
        assert inflated.status_code == 413


@contextmanager
def spans_table_locked(db_url: str) -> Iterator[None]:
    """Another session holds the spans table, so a write into it waits: a real slow write."""
    if db_url.startswith("sqlite"):
        conn = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    import psycopg

    with psycopg.connect(db_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        conn.execute("LOCK TABLE spans IN SHARE ROW EXCLUSIVE MODE")
        yield
        conn.rollback()


def test_saturated_ingest_answers_503_with_retry_after(small_collector: Any, otlp: Any, db_url: str) -> None:
    """One slot: a request whose write is held up holds it; the next waits briefly, then gets 503."""
    body = to_protobuf(otlp.request([otlp.span("slow")]))
    with ThreadPoolExecutor(1) as pool:
        with spans_table_locked(db_url):
            first = pool.submit(httpx.post, f"{small_collector.url}/v1/traces", content=body, headers=PB, timeout=30)
            time.sleep(0.5)  # the first request is now inside its slot, waiting to write
            with httpx.Client(base_url=small_collector.url) as client:
                busy = client.post("/v1/traces", content=to_protobuf(otlp.request([otlp.span("fast")])), headers=PB)
            assert busy.status_code == 503
            assert busy.headers["retry-after"] == "2"
            assert busy.json()["error"]["code"] == "overloaded"
        assert first.result().status_code == 200, first.result().text
    with httpx.Client(base_url=small_collector.url) as client:
        assert (
            client.post("/v1/traces", content=to_protobuf(otlp.request([otlp.span("later")])), headers=PB).status_code
            == 200
        )


def test_logs_join_spans_and_carry_evaluations(http: httpx.Client, otlp: Any) -> None:
    trace_id, span_id, other = otlp.trace_id(), otlp.span_id(), otlp.span_id()
    logs = {
        "resourceLogs": [
            {
                "resource": {"attributes": otlp.attributes({"service.name": "svc"})},
                "scopeLogs": [
                    {
                        "scope": {"name": "genai"},
                        "logRecords": [
                            {
                                "timeUnixNano": "1700000000000000001",
                                "eventName": "gen_ai.user.message",
                                "traceId": trace_id,
                                "spanId": span_id,
                                "body": {
                                    "kvlistValue": {
                                        "values": [{"key": "content", "value": {"stringValue": "Hi there"}}]
                                    }
                                },
                            },
                            {
                                "timeUnixNano": "1700000000000000002",
                                "traceId": trace_id,
                                "spanId": span_id,
                                "attributes": otlp.attributes({"event.name": "gen_ai.choice"}),
                                "body": {
                                    "kvlistValue": {
                                        "values": [
                                            {
                                                "key": "message",
                                                "value": {
                                                    "kvlistValue": {
                                                        "values": [
                                                            {"key": "content", "value": {"stringValue": "Hello!"}}
                                                        ]
                                                    }
                                                },
                                            }
                                        ]
                                    }
                                },
                            },
                            {
                                "timeUnixNano": "1700000000000000003",
                                "eventName": "gen_ai.evaluation.result",
                                "traceId": trace_id,
                                "spanId": other,
                                "attributes": otlp.attributes(
                                    {"gen_ai.evaluation.name": "helpful", "gen_ai.evaluation.score.value": 0.75}
                                ),
                            },
                            {"timeUnixNano": "1700000000000000004", "body": {"stringValue": "plain app log"}},
                        ],
                    }
                ],
            }
        ]
    }
    # Logs before the span: joined when the trace is read.
    response = http.post("/v1/logs", json=logs)
    assert response.status_code == 200, response.text
    assert "not stored" in response.json()["partialSuccess"]["errorMessage"]
    spans = [
        otlp.span("chat", {"gen_ai.operation.name": "chat"}, trace_id=trace_id, span_id=span_id),
        otlp.span("judge me", trace_id=trace_id, span_id=other),
    ]
    assert http.post("/v1/traces", json=otlp.request(spans)).status_code == 200
    by_name = {s["name"]: s for s in http.get(f"/v1/traces/{trace_id}").json()["spans"]}
    chat = by_name["chat"]
    assert "Hi there" in chat["input"] and "Hello!" in chat["output"]
    assert [ev["name"] for ev in chat["events"]] == ["gen_ai.user.message", "gen_ai.choice"]
    assert [(fb["name"], fb["value"]) for fb in by_name["judge me"]["feedback"]] == [("helpful", 0.75)]
    # Logs re-sent after the span: nothing duplicated; the stored span now carries the content itself.
    assert http.post("/v1/logs", json=logs).status_code == 200
    chat = {s["name"]: s for s in http.get(f"/v1/traces/{trace_id}").json()["spans"]}["chat"]
    assert len(chat["events"]) == 2 and len(by_name["judge me"]["feedback"]) == 1
    # Protobuf logs are accepted too.
    request = ExportLogsServiceRequest()
    response = http.post("/v1/logs", content=request.SerializeToString(), headers=PB)
    assert response.status_code == 200
