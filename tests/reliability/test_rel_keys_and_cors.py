"""Idempotency keys, feedback tokens and CORS under attack, on SQLite and PostgreSQL.

A key names one item on one target: naming another target's key is a 409, never that row echoed back. A
token's keys live in their own namespace, so a browser can neither read a row through a key nor claim a
key the backend (or a producer's telemetry) will use. CORS answers ``POST /v1/feedback`` and its preflight
only, and write routes refuse bodies a web page could send cross-site without a preflight.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span
from rel_helpers import db_count

from plaudit_collector.ingest.carried_feedback import idempotency_key
from plaudit_collector.server import BackgroundServer, is_loopback
from plaudit_collector.settings import CollectorSettings

X, Y = "a1" * 16, "b2" * 16
SPAN = "00f067aa0ba902b7"
FOREIGN = "https://evil.example"
TOKEN = "X-Plaudit-Feedback-Token"


@pytest.fixture
def server(db_url: str) -> Iterator[tuple[httpx.Client, str]]:
    """A collector answering browsers from any origin (the most open setting), without auth."""
    srv = BackgroundServer(CollectorSettings(db_url=db_url, feedback_cors_origins=("*",))).start()
    try:
        with httpx.Client(base_url=srv.url, timeout=30) as http:
            yield http, db_url
    finally:
        srv.stop()
        srv.app.state.db.dispose()


def mint(http: httpx.Client, **grant: Any) -> dict[str, str]:
    response = http.post("/v1/feedback-tokens", json={"trace_id": X, "span_id": SPAN, "names": ["thumbs"], **grant})
    assert response.status_code == 201, response.text
    return {TOKEN: response.json()["token"], "Origin": FOREIGN}


def test_a_key_used_on_another_target_is_a_409_that_shows_nothing(server: tuple[httpx.Client, str]) -> None:
    http, db_url = server
    private = {"trace_id": Y, "name": "thumbs", "value": False, "author": "alice", "comment": "private note"}
    first = http.post("/v1/feedback", json={**private, "idempotency_key": "k-1"})
    assert first.status_code == 201
    assert http.post("/v1/feedback", json={**private, "idempotency_key": "k-1"}).json() == first.json()  # a retry
    before = db_count(db_url, "SELECT COUNT(*) FROM feedback")
    for item in (
        {"trace_id": X, "name": "thumbs", "value": True, "idempotency_key": "k-1"},
        {**private, "author": "mallory", "idempotency_key": "k-1"},
        {**private, "name": "stars", "value": 2, "idempotency_key": "k-1"},
    ):
        response = http.post("/v1/feedback", json=item)
        assert response.status_code == 409, response.text
        assert response.json()["error"]["field"] == "idempotency_key"
        assert "private" not in response.text and "alice" not in response.text
    twice = [
        {"trace_id": X, "name": "q", "value": 1, "idempotency_key": "k-2"},
        {"trace_id": Y, "name": "q", "value": 1},
    ]
    twice[1]["idempotency_key"] = "k-2"
    response = http.post("/v1/feedback", json={"items": twice})
    assert response.status_code == 409 and response.json()["error"]["field"] == "items[1].idempotency_key"
    assert db_count(db_url, "SELECT COUNT(*) FROM feedback") == before


def test_a_token_cannot_read_a_row_through_its_key(server: tuple[httpx.Client, str]) -> None:
    http, _ = server
    http.post("/v1/feedback", json={"trace_id": Y, "name": "thumbs", "value": False, "author": "alice",
                                    "comment": "private note", "idempotency_key": "backend-1"})  # fmt: skip
    browser = mint(http)
    response = http.post(
        "/v1/feedback", json={"trace_id": X, "span_id": SPAN, "name": "thumbs", "value": True,
                              "idempotency_key": "backend-1"}, headers=browser)  # fmt: skip
    assert response.status_code == 201, response.text
    assert "private" not in response.text and "alice" not in response.text
    (row,) = response.json()["items"]
    assert (row["trace_id"], row["value"]) == (X, True)
    again = http.post("/v1/feedback", json={"trace_id": X, "span_id": SPAN, "name": "thumbs", "value": True,
                                            "idempotency_key": "backend-1"}, headers=browser)  # fmt: skip
    assert again.json()["ids"] == response.json()["ids"], "a browser's retry is still idempotent"


def test_a_token_cannot_claim_a_key_the_backend_or_telemetry_will_use(server: tuple[httpx.Client, str]) -> None:
    http, _ = server
    browser = mint(http)
    otlp_key = idempotency_key(X, SPAN, "span", "annotations", 0, "thumbs")  # derivable from the span's ids
    for key in ("backend-2", otlp_key):
        claim = {"trace_id": X, "span_id": SPAN, "name": "thumbs", "value": False, "idempotency_key": key}
        assert http.post("/v1/feedback", json=claim, headers=browser).status_code == 201
    backend = {"trace_id": X, "span_id": SPAN, "name": "thumbs", "value": True, "author": "judge"}
    stored = http.post("/v1/feedback", json={**backend, "idempotency_key": "backend-2"})
    assert stored.status_code == 201 and stored.json()["items"][0]["author"] == "judge"
    span = Span(
        trace_id=bytes.fromhex(X),
        span_id=bytes.fromhex(SPAN),
        name="chat",
        start_time_unix_nano=1,
        attributes=[
            KeyValue(key="annotations.0.annotation.name", value=AnyValue(string_value="thumbs")),
            KeyValue(key="annotations.0.annotation.score", value=AnyValue(double_value=1.0)),
            KeyValue(key="annotations.0.annotation.identifier", value=AnyValue(string_value="evaluator")),
        ],
    )
    body = ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=[span])])])
    headers = {"Content-Type": "application/x-protobuf"}
    assert http.post("/v1/traces", content=body.SerializeToString(), headers=headers).status_code == 200
    authors = {f["author"] for f in http.get("/v1/feedback", params={"trace_id": X}).json()["data"]}
    assert {"judge", "evaluator"} <= authors, "the backend's item and the span's annotation were both stored"


def test_a_token_without_an_author_speaks_for_one_author_per_request(server: tuple[httpx.Client, str]) -> None:
    http, db_url = server
    browser = mint(http)
    items = [
        {"trace_id": X, "span_id": SPAN, "name": "thumbs", "value": True, "author": f"sock-{i}"} for i in range(300)
    ]
    before = db_count(db_url, "SELECT COUNT(*) FROM feedback")
    response = http.post("/v1/feedback", json={"items": items}, headers=browser)
    assert response.status_code == 403 and response.json()["error"]["field"] == "items[1].author"
    assert db_count(db_url, "SELECT COUNT(*) FROM feedback") == before
    one = http.post("/v1/feedback", json={"items": [items[0], {**items[0], "value": False}]}, headers=browser)
    assert one.status_code == 201
    bound = mint(http, author="u1")
    response = http.post("/v1/feedback", json={"items": items[:2]}, headers=bound)
    assert response.status_code == 403 and response.json()["error"]["field"] == "items[0].author"


def test_cors_answers_post_feedback_and_its_preflight_only(server: tuple[httpx.Client, str]) -> None:
    http, _ = server
    http.post("/v1/feedback", json={"trace_id": X, "name": "thumbs", "value": True, "comment": "private note"})
    read = http.get("/v1/feedback", headers={"Origin": FOREIGN})
    assert read.status_code == 200 and "private note" in read.text
    assert not [h for h in read.headers if h.startswith("access-control-")], read.headers
    for method in ("GET", "DELETE", "PUT"):
        preflight = http.options("/v1/feedback", headers={"Origin": FOREIGN, "Access-Control-Request-Method": method})
        assert "access-control-allow-origin" not in preflight.headers, (method, preflight.headers)
    preflight = http.options(
        "/v1/feedback",
        headers={"Origin": FOREIGN, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": TOKEN},
    )
    assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] in ("*", FOREIGN)
    posted = http.post(
        "/v1/feedback", json={"trace_id": X, "span_id": SPAN, "name": "thumbs", "value": True}, headers=mint(http)
    )
    assert posted.status_code == 201 and posted.headers["access-control-allow-origin"] in ("*", FOREIGN)
    for path in ("/v1/feedback-tokens", "/v1/traces", "/v1/analytics/leaderboard?score=thumbs"):
        assert "access-control-allow-origin" not in http.get(path, headers={"Origin": FOREIGN}).headers


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", None]
)
def test_write_routes_refuse_bodies_a_page_could_send_without_a_preflight(
    server: tuple[httpx.Client, str], content_type: str | None
) -> None:
    http, db_url = server
    body = b'{"trace_id": "%s", "name": "thumbs", "value": true}' % X.encode()
    headers = {"Origin": FOREIGN} | ({"Content-Type": content_type} if content_type else {})
    routes = [
        ("POST", "/v1/feedback"),
        ("POST", "/v1/preferences"),
        ("POST", "/v1/feedback-tokens"),
        ("PUT", "/v1/score-configs/thumbs"),
        ("POST", "/v1/traces"),
        ("POST", "/v1/logs"),
    ]
    for method, path in routes:
        response = http.request(method, path, content=body, headers=headers)
        assert response.status_code == 415, (path, response.status_code, response.text[:200])
        assert response.json()["error"]["field"] == "Content-Type"
    assert db_count(db_url, "SELECT COUNT(*) FROM feedback") == 0
    assert db_count(db_url, "SELECT COUNT(*) FROM score_configs") == 0


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("127.0.0.1.attacker.example", False),
        ("127.attacker.example", False),
        ("localhost.attacker.example", False),
        ("0.0.0.0", False),
        ("10.0.0.5", False),
        ("::", False),
    ],
)
def test_is_loopback_is_true_only_for_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
