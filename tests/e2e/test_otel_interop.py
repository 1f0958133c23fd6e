"""Any OpenTelemetry program can send spans; OTLP protobuf, JSON and gzip all decode the same."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import textwrap
from typing import Any

import httpx
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

PLAIN_OTEL_PROGRAM = textwrap.dedent(
    """
    import json, sys
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": "plain-otel"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=sys.argv[1] + "/v1/traces")))
    tracer = provider.get_tracer("plain")
    with tracer.start_as_current_span("agent-run") as root:
        with tracer.start_as_current_span("llm-call") as child:
            child.set_attribute("gen_ai.request.model", "gpt-test")
            child.set_attribute("gen_ai.usage.input_tokens", 12)
            child.set_attribute("gen_ai.usage.output_tokens", 34)
            with tracer.start_as_current_span("tool") as grandchild:
                pass
    provider.shutdown()
    ctx = {s: format(getattr(v.get_span_context(), "span_id"), "016x") for s, v in
           (("root", root), ("child", child), ("grandchild", grandchild))}
    ctx["trace_id"] = format(root.get_span_context().trace_id, "032x")
    print(json.dumps(ctx))
    assert "plaudit" not in sys.modules
    """
)


def test_plain_opentelemetry_program_spans_come_back_with_parent_links(collector: Any, http: httpx.Client) -> None:
    out = subprocess.run(
        [sys.executable, "-c", PLAIN_OTEL_PROGRAM, collector.url],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    ids = json.loads(out.stdout)
    trace = http.get(f"/v1/traces/{ids['trace_id']}").json()
    spans = {s["name"]: s for s in trace["spans"]}
    assert set(spans) == {"agent-run", "llm-call", "tool"}
    assert spans["agent-run"]["parent_span_id"] is None
    assert spans["llm-call"]["parent_span_id"] == ids["root"] == spans["agent-run"]["span_id"]
    assert spans["tool"]["parent_span_id"] == ids["child"]
    llm = spans["llm-call"]
    assert (llm["model"], llm["input_tokens"], llm["output_tokens"]) == ("gpt-test", 12, 34)
    assert llm["resource"]["service.name"] == "plain-otel"

    # feedback on one of those spans shows up in the leaderboard
    item = {"trace_id": ids["trace_id"], "span_id": ids["child"], "name": "correct", "value": 1}
    assert http.post("/v1/feedback", json=item).status_code == 201
    board = http.get("/v1/analytics/leaderboard", params={"score": "correct", "group_by": "model"}).json()
    assert [(r["group"], r["count"], r["mean"]) for r in board["rows"]] == [({"model": "gpt-test"}, 1, 1.0)]


def _exporter_spans() -> tuple[list[Any], Any]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "encoded"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("enc")
    with tracer.start_as_current_span("outer", attributes={"plaudit.variant": "B", "n": 3, "ok": True}):
        with tracer.start_as_current_span("inner", attributes={"ratio": 0.5, "tags": ["a", "b"]}) as inner:
            inner.add_event("step", {"i": 1})
    spans = list(exporter.get_finished_spans())
    provider.shutdown()
    return spans, encode_spans(spans)


def _otlp_json(message: Any) -> bytes:
    """OTLP's JSON encoding: like protobuf's JSON mapping but with hex trace and span ids."""
    doc = json_format.MessageToDict(message)
    for rs in doc["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for sp in ss["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in sp:
                        sp[key] = __import__("base64").b64decode(sp[key]).hex()
    return json.dumps(doc).encode()


def test_protobuf_json_and_gzip_bodies_decode_the_same(collector: Any, http: httpx.Client) -> None:
    spans, message = _exporter_spans()
    trace_id = format(spans[0].context.trace_id, "032x")
    proto = message.SerializeToString()
    bodies = [
        (proto, {"content-type": "application/x-protobuf"}),
        (_otlp_json(message), {"content-type": "application/json"}),
        (gzip.compress(proto), {"content-type": "application/x-protobuf", "content-encoding": "gzip"}),
    ]
    for body, headers in bodies:
        response = http.post("/v1/traces", content=body, headers=headers)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith(headers["content-type"])
    trace = http.get(f"/v1/traces/{trace_id}").json()
    assert len(trace["spans"]) == 2  # resent spans are idempotent: no duplicates
    by_name = {s["name"]: s for s in trace["spans"]}
    assert by_name["outer"]["variant"] == "B"
    assert by_name["outer"]["attributes"] == {"plaudit.variant": "B", "n": 3, "ok": True}
    assert by_name["inner"]["attributes"] == {"ratio": 0.5, "tags": ["a", "b"]}
    assert by_name["inner"]["events"][0]["name"] == "step"
    assert by_name["inner"]["parent_span_id"] == by_name["outer"]["span_id"]


def test_hand_written_otlp_json_from_the_spec(collector: Any, http: httpx.Client, corpus: Any) -> None:
    body = (corpus / "otlp" / "trace.json").read_bytes()
    response = http.post("/v1/traces", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text
    doc = json.loads(body)
    span = doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    trace = http.get(f"/v1/traces/{span['traceId'].lower()}").json()
    assert trace["spans"][0]["name"] == span["name"]
    assert trace["spans"][0]["span_id"] == span["spanId"].lower()
