"""Parsing and numbers, on SQLite and PostgreSQL: deep nesting, huge numbers and odd compression get a 4xx
(or are stored whole), never a 5xx, and a refused request stores nothing."""

from __future__ import annotations

import gzip
import json
import zlib
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span
from rel_helpers import db_count

JSON = {"Content-Type": "application/json"}
PROTOBUF = {"Content-Type": "application/x-protobuf"}
TID = "7" * 32
JSON_ROUTES = [
    ("POST", "/v1/traces"),
    ("POST", "/v1/logs"),
    ("POST", "/v1/metrics"),
    ("POST", "/v1/feedback"),
    ("POST", "/v1/preferences"),
    ("POST", "/v1/feedback-tokens"),
    ("PUT", "/v1/score-configs/stars"),
]


@pytest.fixture(scope="module")
def server(process_collector: tuple[httpx.Client, str]) -> tuple[httpx.Client, str]:
    return process_collector


def stored(db_url: str) -> tuple[int, int, int]:
    return tuple(  # type: ignore[return-value]
        db_count(db_url, f"SELECT COUNT(*) FROM {table}") for table in ("spans", "feedback", "score_configs")
    )


def refused(server: tuple[httpx.Client, str], method: str, path: str, **kwargs: Any) -> httpx.Response:
    http, db_url = server
    before = stored(db_url)
    response = http.request(method, path, **kwargs)
    assert 400 <= response.status_code < 500, (path, response.status_code, response.text[:300])
    assert response.json()["error"]["message"]
    assert stored(db_url) == before, "a refused request stored something"
    return response


@pytest.mark.parametrize(("method", "path"), JSON_ROUTES, ids=[p for _, p in JSON_ROUTES])
def test_deeply_nested_json_is_refused_on_every_json_route(
    server: tuple[httpx.Client, str], method: str, path: str
) -> None:
    deep = b"[" * 10_000 + b"]" * 10_000
    nested_object = json.dumps({"trace_id": TID, "name": "q", "value": 1}).encode()[:-1] + b', "x": '
    nested_object += b'{"a": ' * 5_000 + b"1" + b"}" * 5_001
    http, _ = server
    for body in (deep, nested_object):
        if path == "/v1/metrics":  # metrics are read and dropped, never parsed
            assert http.post(path, content=body, headers=JSON).status_code == 200
            continue
        response = refused(server, method, path, content=body, headers=JSON)
        assert response.status_code == 400


def test_json_bodies_nest_at_most_64_levels(server: tuple[httpx.Client, str]) -> None:
    def item(depth: int) -> dict[str, Any]:
        metadata: Any = 1
        for _ in range(depth - 1):  # the item itself is the first level
            metadata = {"a": metadata}
        return {"trace_id": TID, "name": f"deep{depth}", "value": 1, "metadata": metadata}

    http, _ = server
    assert http.post("/v1/feedback", json=item(64)).status_code == 201
    response = refused(server, "POST", "/v1/feedback", json=item(65))
    assert response.status_code == 400 and response.json()["error"]["field"] == "body"


@pytest.mark.parametrize("depth", [40, 240, 300])
def test_deep_otlp_json_values_are_stored_bounded_or_refused(server: tuple[httpx.Client, str], depth: int) -> None:
    http, _ = server
    value: dict[str, Any] = {"stringValue": "leaf"}
    for _ in range(depth):
        value = {"arrayValue": {"values": [value]}}
    trace_id = f"{depth:04d}".ljust(32, "8")
    span = {
        "traceId": trace_id,
        "spanId": "00f067aa0ba902b7",
        "name": "deep",
        "attributes": [{"key": "v", "value": value}],
    }
    body = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]})
    response = http.post("/v1/traces", content=body, headers=JSON)
    assert response.status_code in (200, 400), response.text[:300]
    read = http.get(f"/v1/traces/{trace_id}")
    assert read.status_code in (200, 404), read.text[:300]
    assert http.get("/v1/export/spans").status_code == 200
    if depth == 40:  # kept, cut at 32 levels
        stored = read.json()["spans"][0]["attributes"]["v"]
        for _ in range(32):
            stored = stored[0]
        assert stored == "[nested too deeply]"


@pytest.mark.parametrize("feedback_id", ["2147483648", "9223372036854775808", "9" * 40, "0", "-1"])
def test_ids_past_the_columns_range_get_a_422(server: tuple[httpx.Client, str], feedback_id: str) -> None:
    for method in ("GET", "DELETE"):
        response = refused(server, method, f"/v1/feedback/{feedback_id}")
        assert response.status_code == 422 and response.json()["error"]["field"] == "feedback_id"


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ('{"type": "numeric", "min": ' + "9" * 401 + "}", "min"),
        ('{"type": "numeric", "max": -' + "9" * 30 + "}", "max"),
        ('{"type": "numeric", "min": 1e309}', "min"),
        ('{"type": "numeric", "max": NaN}', "body"),
    ],
    ids=["401-digits", "30-digits", "1e309", "NaN"],
)
def test_huge_numbers_in_score_configs_get_a_4xx(server: tuple[httpx.Client, str], config: str, field: str) -> None:
    response = refused(server, "PUT", "/v1/score-configs/stars", content=config, headers=JSON)
    assert response.json()["error"]["field"] == field


@pytest.mark.parametrize(
    "metadata", ['{"x": 1e309}', '{"x": -1e400}', '{"x": ' + "1" * 30 + "}", '{"x": [1, {"y": 1e999}]}']
)
def test_huge_numbers_in_metadata_get_a_422(server: tuple[httpx.Client, str], metadata: str) -> None:
    for target in ('"trace_id": "%s"' % TID, '"session_id": "s1"'):  # noqa: UP031 - raw JSON
        body = '{%s, "name": "q", "value": 1, "metadata": %s}' % (target, metadata)  # noqa: UP031 - raw JSON
        response = refused(server, "POST", "/v1/feedback", content=body, headers=JSON)
        assert response.status_code == 422 and response.json()["error"]["field"] == "metadata"


def _otlp(*span_ids: int) -> bytes:
    spans = [
        Span(trace_id=bytes.fromhex(TID), span_id=i.to_bytes(8, "big"), name=f"s{i}", start_time_unix_nano=1)
        for i in span_ids
    ]
    return ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=spans)])]
    ).SerializeToString()


def test_concatenated_gzip_members_are_read_whole(server: tuple[httpx.Client, str]) -> None:
    """``cat a.gz b.gz`` is one valid gzip body (RFC 1952): both members are read, not only the first."""
    http, _ = server
    whole = _otlp(1, 2)
    body = gzip.compress(whole[:20]) + gzip.compress(whole[20:])
    response = http.post("/v1/traces", content=body, headers={**PROTOBUF, "Content-Encoding": "gzip"})
    assert response.status_code == 200, response.text[:300]
    spans = http.get(f"/v1/traces/{TID}").json()["spans"]
    assert {s["name"] for s in spans} >= {"s1", "s2"}


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        ("gzip", gzip.compress(_otlp(5)) + b"trailing garbage"),
        ("gzip", gzip.compress(_otlp(5)) + gzip.compress(_otlp(6))[:-8]),  # a truncated second member
        ("deflate", zlib.compress(_otlp(5)) + b"trailing garbage"),
    ],
    ids=["gzip-garbage", "gzip-truncated-member", "deflate-garbage"],
)
def test_a_body_with_a_bad_tail_is_refused_whole(server: tuple[httpx.Client, str], encoding: str, body: bytes) -> None:
    response = refused(server, "POST", "/v1/traces", content=body, headers={**PROTOBUF, "Content-Encoding": encoding})
    assert response.status_code == 400
