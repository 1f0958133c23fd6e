"""Malformed input gets a clear 4xx naming the field, and nothing is stored."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

TRACE = "0af7651916cd43dd8448eb211c80319c"
SPAN = "b7ad6b7169203331"
GOOD = {"trace_id": TRACE, "span_id": SPAN, "name": "thumbs", "value": True}


def _stored(http: httpx.Client) -> tuple[int, int]:
    traces = len(http.get("/v1/traces", params={"limit": 500}).json()["traces"])
    fb = http.get(f"/v1/traces/{TRACE}")
    return traces, 0 if fb.status_code == 404 else len(fb.json()["pending_feedback"])


def test_malformed_protobuf_is_400_and_stores_nothing(collector: Any, http: httpx.Client) -> None:
    response = http.post(
        "/v1/traces", content=b"\x0a\xff\xff\xff\x0fnot protobuf", headers={"content-type": "application/x-protobuf"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "body"
    assert _stored(http) == (0, 0)


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        (b"{not json", {"content-type": "application/json"}, 400),
        (
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz", "spanId": "b7ad6b7169203331"}]}]}]}',
            {"content-type": "application/json"},
            400,
        ),
        (
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "0af7", "spanId": "b7ad6b7169203331"}]}]}]}',
            {"content-type": "application/json"},
            400,
        ),
        (b"plain", {"content-type": "text/plain"}, 415),
        (b"\x1f\x8bnot really gzip", {"content-type": "application/x-protobuf", "content-encoding": "gzip"}, 400),
        (b"x", {"content-type": "application/x-protobuf", "content-encoding": "br"}, 415),
    ],
)
def test_bad_otlp_bodies(collector: Any, http: httpx.Client, body: bytes, headers: dict[str, str], status: int) -> None:
    response = http.post("/v1/traces", content=body, headers=headers)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["message"] and error["code"]
    assert _stored(http) == (0, 0)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"trace_id": None}, "trace_id"),
        ({"trace_id": "xyz"}, "trace_id"),
        ({"trace_id": "0" * 32}, "trace_id"),
        ({"span_id": "123"}, "span_id"),
        ({"name": ""}, "name"),
        ({"name": 5}, "name"),
        ({"value": {"score": 1}}, "value"),
        ({"value": [1, 2]}, "value"),
        ({"source": "robot"}, "source"),
        ({"comment": "x" * (64 * 1024 + 1)}, "comment"),
        ({"surprise": 1}, "surprise"),
        ({"metadata": "not a dict"}, "metadata"),
    ],
)
def test_bad_feedback_is_422_naming_the_field(
    collector: Any, http: httpx.Client, change: dict[str, Any], field: str
) -> None:
    item = {**GOOD, **change}
    item = {k: v for k, v in item.items() if not (k == "trace_id" and v is None)}
    response = http.post("/v1/feedback", json=item)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == field
    assert field in error["message"]
    assert _stored(http) == (0, 0)


def test_non_finite_scores_are_rejected(collector: Any, http: httpx.Client) -> None:
    for raw in (
        b'{"trace_id": "%s", "name": "s", "value": NaN}',
        b'{"trace_id": "%s", "name": "s", "value": Infinity}',
    ):
        response = http.post("/v1/feedback", content=raw % TRACE.encode(), headers={"content-type": "application/json"})
        assert response.status_code in (400, 422), response.text
    assert _stored(http) == (0, 0)


def test_one_bad_item_rejects_the_whole_batch(collector: Any, http: httpx.Client) -> None:
    batch = {"items": [GOOD, {**GOOD, "value": None}, {**GOOD, "value": {"x": 1}}]}
    response = http.post("/v1/feedback", json=batch)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "items[2].value"
    response = http.post("/v1/feedback", json={"items": [GOOD, {**GOOD, "value": None}]})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "items[1].value"
    assert _stored(http) == (0, 0)


def test_body_limits(collector: Any, http: httpx.Client) -> None:
    big = b'{"trace_id": "' + b"a" * (1024 * 1024) + b'"}'
    response = http.post("/v1/feedback", content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"


def test_accepted_feedback_is_idempotent_by_key(collector: Any, http: httpx.Client) -> None:
    item = {**GOOD, "idempotency_key": "retry-1"}
    first = http.post("/v1/feedback", json=item)
    second = http.post("/v1/feedback", json=item)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert _stored(http) == (0, 1)  # feedback before its span: kept, pending until the span lands


@pytest.mark.parametrize(
    "params",
    [
        {"score": "thumbs", "group_by": "model; DROP TABLE spans"},
        {"score": "thumbs", "group_by": "variant) UNION SELECT 1--"},
        {"score": "thumbs", "group_by": "attr.x') OR 1=1 --"},
        {"score": "thumbs' OR '1'='1", "group_by": "model"},
        {"score": "thumbs", "source": "human' --"},
    ],
)
def test_sql_in_analytics_parameters_is_refused_or_inert(
    collector: Any, http: httpx.Client, params: dict[str, str]
) -> None:
    assert http.post("/v1/feedback", json=GOOD).status_code == 201
    response = http.get("/v1/analytics/leaderboard", params=params)
    assert response.status_code in (200, 422), response.text
    if response.status_code == 200:
        assert response.json()["rows"] == []
    else:
        assert response.json()["error"]["field"].startswith(("group_by", "source"))
    assert http.get("/healthz").json()["status"] == "ok"
    assert _stored(http) == (0, 1)


def test_unknown_trace_is_404(collector: Any, http: httpx.Client) -> None:
    response = http.get(f"/v1/traces/{TRACE}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert http.get("/v1/traces/not-hex").status_code == 422


PREFERENCE = {"a": {"trace_id": TRACE, "span_id": SPAN}, "b": {"trace_id": "1" * 32}, "winner": "a"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"a": {"trace_id": ', None),  # not JSON
        (b"[1, 2]", None),  # JSON, but not an object
        ({k: v for k, v in PREFERENCE.items() if k != "winner"}, "winner"),
        ({**PREFERENCE, "winner": "c"}, "winner"),
        ({**PREFERENCE, "a": {"span_id": SPAN}}, "a"),
        ({k: v for k, v in PREFERENCE.items() if k != "b"}, "b"),
        ({**PREFERENCE, "b": {"trace_id": "xyz"}}, "b.trace_id"),
    ],
)
def test_bad_preferences_are_rejected_naming_the_field(
    collector: Any, http: httpx.Client, body: bytes | dict[str, Any], field: str | None
) -> None:
    if isinstance(body, bytes):
        response = http.post("/v1/preferences", content=body, headers={"content-type": "application/json"})
        assert response.status_code in (400, 422), response.text
    else:
        response = http.post("/v1/preferences", json=body)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["field"] == field
    assert http.get("/v1/feedback").json()["count"] == 0
    assert http.post("/v1/preferences", json=PREFERENCE).status_code == 201  # the good one is stored


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/export/finetune", {"corrections": "false"}, "score"),
        ("/v1/export/preferences", {}, "preference"),
        ("/v1/export/preferences", {"score": "thumbs", "min_margin": "-1"}, "min_margin"),
        ("/v1/export/finetune", {"score": "thumbs", "format": "xml"}, "format"),
    ],
)
def test_bad_export_parameters_are_422_naming_the_field(
    collector: Any, http: httpx.Client, path: str, params: dict[str, str], field: str
) -> None:
    response = http.get(path, params=params)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field
