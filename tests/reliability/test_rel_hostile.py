"""Hostile input: whatever arrives, the collector answers a clear 4xx (or stores safely) and never a 5xx.

Hypothesis drives the pure decoders (OTLP protobuf and JSON, feedback validation) and, over real HTTP,
feedback and OTLP JSON built from text that includes NUL and lone surrogates; the named cases go over real
HTTP to a real collector with small body limits, and check that a refused request stored nothing at all.
Every HTTP case runs against SQLite and PostgreSQL.
"""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span
from rel_helpers import db_count

from plaudit_collector.api.routes.feedback import parse_items
from plaudit_collector.errors import ApiError
from plaudit_collector.ingest import decode as otlp
from plaudit_collector.server import BackgroundServer
from plaudit_collector.settings import CollectorSettings
from plaudit_collector.wire import load_json

MAX_OTLP = 256 * 1024
MAX_FEEDBACK = 64 * 1024
PROTOBUF = {"Content-Type": "application/x-protobuf"}
TID = "5b8efff798038103d269b633813fc60c"
SQL = ["' OR '1'='1", "x'; DROP TABLE spans; --", '"; DELETE FROM feedback; --', "1 UNION SELECT * FROM spans"]

hostile_text = st.text(st.characters(exclude_categories=()), max_size=40)
"""Any code point, NUL and lone surrogates included."""
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | hostile_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(hostile_text, inner, max_size=4),
    max_leaves=20,
)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


def span(index: int = 1, trace_id: bytes | None = None, **fields: Any) -> Span:
    return Span(
        trace_id=trace_id if trace_id is not None else bytes.fromhex(TID),
        span_id=index.to_bytes(8, "big"),
        name=f"s{index}",
        start_time_unix_nano=fields.pop("start", 1_700_000_000_000_000_000),
        end_time_unix_nano=fields.pop("end", 1_700_000_001_000_000_000),
        **fields,
    )


def request_of(*spans: Span) -> bytes:
    return ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=list(spans))])]
    ).SerializeToString()


# --- property tests on the decoders --------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=2048))
def test_any_bytes_as_otlp_protobuf_decode_or_give_400(data: bytes) -> None:
    try:
        request = otlp.parse_request(data, otlp.PROTOBUF)
        for resource_spans in request.resource_spans:
            otlp.attributes(resource_spans.resource.attributes)
            for scope_spans in resource_spans.scope_spans:
                for pb_span in scope_spans.spans:
                    otlp.attributes(pb_span.attributes)
    except ApiError as exc:
        assert exc.status == 400


@FUZZ
@given(json_values)
def test_any_json_as_otlp_decodes_or_gives_4xx(doc: Any) -> None:
    try:
        otlp.parse_request(json.dumps(doc).encode(), otlp.JSON)
    except ApiError as exc:
        assert 400 <= exc.status < 500


@FUZZ
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "trace_id": st.one_of(st.just(TID), hostile_text, st.integers()),
            "span_id": st.one_of(st.none(), st.just("00f067aa0ba902b7"), hostile_text),
            "name": st.one_of(hostile_text, st.integers()),
            "value": json_values,
            "comment": st.one_of(st.none(), hostile_text),
            "source": st.one_of(st.just("human"), hostile_text),
            "author": st.one_of(st.none(), hostile_text),
            "metadata": json_values,
            "idempotency_key": st.one_of(st.none(), hostile_text),
            "extra": json_values,
        },
    )
)
def test_any_feedback_item_validates_or_gives_4xx(item: dict[str, Any]) -> None:
    for body in (item, {"items": [item]}):
        try:
            parsed_items = parse_items(load_json(json.dumps(body).encode()))
        except ApiError as exc:
            assert 400 <= exc.status < 500 and exc.field
        else:
            items = parsed_items[0] if isinstance(parsed_items, tuple) else parsed_items
            for parsed in items:
                value = parsed.value
                assert not (isinstance(value, float) and not math.isfinite(value))
                assert parsed.trace_id is None or len(parsed.trace_id) == 32
                stored = json.dumps(parsed.model_dump(), ensure_ascii=False)  # NUL and surrogates never get past
                stored.encode("utf-8")
                assert "\x00" not in stored


# --- named hostile requests over HTTP ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile(module_db_url: str) -> Iterator[tuple[httpx.Client, str]]:
    settings_ = CollectorSettings(db_url=module_db_url, max_otlp_bytes=MAX_OTLP, max_feedback_bytes=MAX_FEEDBACK)
    server = BackgroundServer(settings_).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            yield http, module_db_url
    finally:
        server.stop()
        server.app.state.db.dispose()


@pytest.fixture(scope="module")
def known_bug_collector(process_collector: tuple[httpx.Client, str]) -> httpx.Client:
    """Inputs that once caused 500s go to a collector in its own process: should one regress, the traceback
    logged by an in-process server thread would race pytest's own traceback formatting in CPython 3.11."""
    return process_collector[0]


def rows(db_url: str) -> tuple[int, int]:
    return db_count(db_url, "SELECT COUNT(*) FROM spans"), db_count(db_url, "SELECT COUNT(*) FROM feedback")


def refused(hostile: tuple[httpx.Client, str], method: str, path: str, **kwargs: Any) -> httpx.Response:
    """Send; the answer must be a 4xx with the error shape, and nothing may have been stored."""
    http, db = hostile
    before = rows(db)
    response = http.request(method, path, **kwargs)
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    error = response.json()["error"]
    assert error["code"] and error["message"]
    assert rows(db) == before, "a refused request stored something"
    return response


def _field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field, encoded by hand: the generated classes refuse to build past
    their own nesting limit, and a hostile client is not bound by it."""
    out = bytearray()
    for value in ((number << 3) | 2, len(payload)):
        while value > 0x7F:
            out.append((value & 0x7F) | 0x80)
            value >>= 7
        out.append(value)
    return bytes(out) + payload


def nested_request(trace_id: bytes, depth: int, kind: str) -> bytes:
    value = _field(1, b"leaf")  # AnyValue.string_value
    for _ in range(depth):
        if kind == "kvlist":  # AnyValue.kvlist_value -> KeyValueList.values -> KeyValue{key, value}
            value = _field(6, _field(1, _field(1, b"k") + _field(2, value)))
        else:  # AnyValue.array_value -> ArrayValue.values
            value = _field(5, _field(1, value))
    attribute = _field(9, _field(1, b"deep") + _field(2, value))  # Span.attributes
    span_bytes = span(depth, trace_id=trace_id).SerializeToString() + attribute
    return _field(1, _field(2, _field(2, span_bytes)))  # request.resource_spans.scope_spans.spans


def test_oversized_bodies_get_413(hostile: tuple[httpx.Client, str]) -> None:
    refused(hostile, "POST", "/v1/traces", content=b"\0" * (MAX_OTLP + 1), headers=PROTOBUF)
    chunks = iter([b"\0" * 65536] * (MAX_OTLP // 65536 + 2))  # no Content-Length: counted while streaming
    assert refused(hostile, "POST", "/v1/traces", content=chunks, headers=PROTOBUF).status_code == 413
    bomb = gzip.compress(request_of(span(1, attributes=[KeyValue(key="a", value=AnyValue(string_value="x" * 10**6))])))
    assert len(bomb) < MAX_OTLP
    response = refused(hostile, "POST", "/v1/traces", content=bomb, headers={**PROTOBUF, "Content-Encoding": "gzip"})
    assert response.status_code == 413
    big = {"trace_id": TID, "name": "n", "value": 1, "comment": "c" * MAX_FEEDBACK}
    assert refused(hostile, "POST", "/v1/feedback", json=big).status_code == 413


@pytest.mark.parametrize("kind", ["kvlist", "array"])
def test_deeply_nested_attribute_values_are_refused_or_stored_safely(
    hostile: tuple[httpx.Client, str], kind: str
) -> None:
    http, _db = hostile
    tid = bytes.fromhex(TID[:-2] + ("aa" if kind == "kvlist" else "ab"))
    for depth in (50, 99, 120, 1000):
        body = nested_request(tid, depth, kind)
        response = http.post("/v1/traces", content=body, headers=PROTOBUF)
        assert response.status_code in (200, 400), (depth, response.status_code, response.text[:200])
    assert http.get(f"/v1/traces/{tid.hex()}").status_code in (200, 404)
    assert http.get("/v1/traces").status_code == 200


def test_huge_attribute_counts_and_values_are_bounded(hostile: tuple[httpx.Client, str]) -> None:
    http, _db = hostile
    tid = bytes.fromhex(TID[:-2] + "ac")
    many = [KeyValue(key=f"k{i}", value=AnyValue(int_value=i)) for i in range(20_000)]
    long_value = [KeyValue(key="plaudit.output", value=AnyValue(string_value="y" * 200_000))]
    response = http.post("/v1/traces", content=request_of(span(1, trace_id=tid, attributes=many)), headers=PROTOBUF)
    assert response.status_code in (200, 400, 413)
    response = http.post(
        "/v1/traces", content=request_of(span(2, trace_id=tid, attributes=long_value)), headers=PROTOBUF
    )
    assert response.status_code == 200, "a long value is truncated, never rejected"
    stored = http.get(f"/v1/traces/{tid.hex()}").json()
    output = next(s for s in stored["spans"] if s["span_id"] == (2).to_bytes(8, "big").hex())["attributes"]
    assert len(output["plaudit.output"]) <= 64 * 1024


def test_invalid_utf8_is_refused(hostile: tuple[httpx.Client, str]) -> None:
    named = span(1)
    named.name = "ok"
    good = request_of(named)
    bad = good.replace(b"ok", b"\xff\xfe")
    assert refused(hostile, "POST", "/v1/traces", content=bad, headers=PROTOBUF).status_code == 400
    body = b'{"trace_id": "' + TID.encode() + b'", "name": "\xff\xfe", "value": 1}'
    refused(hostile, "POST", "/v1/feedback", content=body, headers={"Content-Type": "application/json"})
    otlp_json = b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"name": "\xc3\x28"}]}]}]}'
    refused(hostile, "POST", "/v1/traces", content=otlp_json, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_scores_are_refused(hostile: tuple[httpx.Client, str], literal: str) -> None:
    body = '{"trace_id": "%s", "name": "score", "value": %s}' % (TID, literal)  # noqa: UP031 - raw JSON literal
    refused(hostile, "POST", "/v1/feedback", content=body, headers={"Content-Type": "application/json"})


def test_ids_of_the_wrong_length_are_refused(hostile: tuple[httpx.Client, str]) -> None:
    for bad in (
        span(1, trace_id=b"\1" * 15),
        span(1, trace_id=b"\0" * 16),
        Span(trace_id=b"\1" * 16, span_id=b"\1" * 7),
    ):
        refused(hostile, "POST", "/v1/traces", content=request_of(bad), headers=PROTOBUF)
    for trace_id, span_id in ((TID[:-1], None), (TID + "0", None), ("z" * 32, None), (TID, "abc"), ("0" * 32, None)):
        refused(
            hostile, "POST", "/v1/feedback", json={"trace_id": trace_id, "span_id": span_id, "name": "n", "value": 1}
        )
    doc = {"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": TID[:-2], "spanId": "00f067aa0ba902b7"}]}]}]}
    refused(hostile, "POST", "/v1/traces", json=doc)


def test_a_bad_span_never_leaves_a_half_stored_batch(hostile: tuple[httpx.Client, str]) -> None:
    """OTLP allows either answer: 400 storing nothing, or 200 with ``partial_success.rejected_spans``
    counting exactly the refused spans (and every other span stored)."""
    http, db = hostile
    tid = bytes.fromhex(TID[:-2] + "ad")
    good = [span(i, trace_id=tid) for i in range(1, 20)]
    before = rows(db)[0]
    response = http.post("/v1/traces", content=request_of(*good, span(99, trace_id=b"\1" * 3)), headers=PROTOBUF)
    if response.status_code == 200:
        reply = ExportTraceServiceResponse.FromString(response.content)
        assert reply.partial_success.rejected_spans == 1, reply
        assert reply.partial_success.error_message
        assert rows(db)[0] - before == len(good)
    else:
        assert response.status_code == 400 and rows(db)[0] == before


def test_one_bad_feedback_item_refuses_the_whole_batch(hostile: tuple[httpx.Client, str]) -> None:
    items = [{"trace_id": TID, "name": f"q{i}", "value": i} for i in range(10)]
    bad_item = {"trace_id": TID, "name": "q", "value": math.pi, "unknown": 1}
    refused(hostile, "POST", "/v1/feedback", json={"items": [*items, bad_item]})


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (0, 1),
        (1, 2**62),
        (2**62, 1),
        (2**63, 2**64 - 1),
    ],
    ids=["epoch", "year-2116", "end-before-start", "past-int64"],
)
def test_timestamps_far_in_the_past_or_future_never_break_reads(
    known_bug_collector: httpx.Client, start: int, end: int
) -> None:
    http = known_bug_collector
    tid = bytes.fromhex(f"{start % 251:02x}{end % 251:02x}" + TID[4:-2] + "ae")
    response = http.post(
        "/v1/traces", content=request_of(span(1, trace_id=tid, start=start, end=end)), headers=PROTOBUF
    )
    assert response.status_code in (200, 400), response.text[:200]
    assert http.get(f"/v1/traces/{tid.hex()}").status_code in (200, 404)
    assert http.get("/v1/traces").status_code == 200
    assert http.get("/v1/analytics/leaderboard", params={"score": "thumbs", "group_by": "model"}).status_code == 200


def test_sql_in_every_query_parameter_is_inert(hostile: tuple[httpx.Client, str]) -> None:
    """Every string query parameter of every GET route (from the live OpenAPI schema) gets SQL payloads."""
    http, db = hostile
    http.post("/v1/traces", content=request_of(span(1, trace_id=bytes.fromhex(TID[:-2] + "af"))), headers=PROTOBUF)
    before = rows(db)
    schema = http.get("/openapi.json").json()
    checked = 0
    for path, methods in schema["paths"].items():
        operation = methods.get("get")
        if operation is None:
            continue
        params = [p for p in operation.get("parameters", []) if p["in"] in ("query", "path")]
        for target in params:
            for payload in SQL:
                values: dict[str, Any] = {}
                url = path
                for param in params:
                    value = payload if param is target else _plausible(param)
                    if param["in"] == "path":
                        url = url.replace("{" + param["name"] + "}", httpx.URL("/" + str(value)).raw_path.decode()[1:])
                    else:
                        values[param["name"]] = value
                response = http.get(url, params=values)
                assert response.status_code in (200, 404, 422), (url, values, response.status_code, response.text[:300])
                checked += 1
    assert checked >= 8
    assert rows(db) == before, "SQL in a parameter changed the data"


def _plausible(param: dict[str, Any]) -> Any:
    name = param["name"]
    return {"score": "thumbs", "group_by": "model", "trace_id": TID, "limit": 10, "offset": 0}.get(name, "x")


@pytest.mark.parametrize("path", ["/v1/traces", "/v1/feedback", "/v1/feedback/orphans"])
def test_huge_offsets_get_a_4xx(known_bug_collector: httpx.Client, path: str) -> None:
    http = known_bug_collector
    response = http.get(path, params={"offset": 2**80})
    assert response.status_code == 422, response.text[:200]
    assert response.json()["error"]["field"] == "offset"


# --- property tests over HTTP, on both databases -------------------------------------------------------------

HTTP_FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
FUZZ_TRACE = TID[:-2] + "f0"


@HTTP_FUZZ
@given(
    st.fixed_dictionaries(
        {"trace_id": st.just(FUZZ_TRACE), "name": st.one_of(st.just("fuzz"), hostile_text)},
        optional={
            "value": json_values,
            "comment": hostile_text,
            "correction": hostile_text,
            "author": hostile_text,
            "metadata": st.dictionaries(hostile_text, json_values, max_size=4),
            "idempotency_key": hostile_text,
        },
    )
)
def test_hostile_feedback_over_http_is_stored_or_refused_and_reads_stay_whole(
    hostile: tuple[httpx.Client, str], item: dict[str, Any]
) -> None:
    http, _ = hostile
    response = http.post(
        "/v1/feedback", content=json.dumps(item).encode(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 201 or 400 <= response.status_code < 500, response.text[:300]
    for path in (f"/v1/feedback?trace_id={FUZZ_TRACE}&history=true&limit=5", "/v1/feedback/orphans?limit=5"):
        read = http.get(path)
        assert read.status_code == 200, (path, read.text[:300])


@HTTP_FUZZ
@given(name=hostile_text, attributes=st.dictionaries(hostile_text, hostile_text, max_size=6))
def test_hostile_otlp_json_text_is_always_stored_and_readable(
    hostile: tuple[httpx.Client, str], name: str, attributes: dict[str, str]
) -> None:
    """Telemetry is never refused for its characters: NUL and lone surrogates are stored as U+FFFD."""
    http, _ = hostile
    trace_id = TID[:-2] + "f1"
    span = {
        "traceId": trace_id,
        "spanId": "00f067aa0ba902b7",
        "name": name,
        "startTimeUnixNano": "1700000000000000000",
        "attributes": [{"key": k, "value": {"stringValue": v}} for k, v in attributes.items()],
    }
    body = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]})
    response = http.post("/v1/traces", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text[:300]
    assert http.get(f"/v1/traces/{trace_id}").status_code == 200
