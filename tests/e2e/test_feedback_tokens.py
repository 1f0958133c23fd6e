"""Browser feedback through signed tokens, with auth on, on SQLite and PostgreSQL: minting needs an API
key, posting needs only the token; forged and expired tokens are 401, out-of-scope ones 403; CORS
answers only the configured origins; tokens work across collectors on one database; projects stay apart."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import plaudit
from plaudit._internal import errors
from plaudit_collector.api import tokens
from plaudit_collector.server import BackgroundServer
from plaudit_collector.settings import CollectorSettings
from plaudit_collector.store import projects, signing_keys

ORIGIN = "http://app.example:8000"
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
OTHER_SPAN = "00f067aa0ba902b8"
HEADER = "X-Plaudit-Feedback-Token"


class Env:
    def __init__(self, db_url: str) -> None:
        settings = CollectorSettings(db_url=db_url, auth=True, feedback_cors_origins=(ORIGIN,))
        self.server = BackgroundServer(settings).start()
        self.url = self.server.url
        db = self.server.app.state.db
        self.key_a, _ = projects.create_key(db, "team-a")
        self.key_b, _ = projects.create_key(db, "team-b")

    def client(self, key: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def mint(self, key: str, **grant: Any) -> str:
        with self.client(key) as http:
            response = http.post("/v1/feedback-tokens", json={"trace_id": TRACE, "span_id": SPAN, **grant})
        assert response.status_code == 201, response.text
        return str(response.json()["token"])

    def browser_post(self, token: str, body: dict[str, Any]) -> httpx.Response:
        """What the page does: no API key, the token header, an Origin."""
        return httpx.post(f"{self.url}/v1/feedback", json=body, headers={HEADER: token, "Origin": ORIGIN}, timeout=30)

    def stored(self, key: str, **params: Any) -> list[dict[str, Any]]:
        with self.client(key) as http:
            return http.get("/v1/feedback", params={"history": "true", **params}).json()["data"]  # type: ignore[no-any-return]


@pytest.fixture
def env(db_url: str) -> Iterator[Env]:
    e = Env(db_url)
    try:
        yield e
    finally:
        e.server.stop()
        e.server.app.state.db.dispose()


def _item(**overrides: Any) -> dict[str, Any]:
    return {"trace_id": TRACE, "span_id": SPAN, "name": "thumbs", "value": True, **overrides}


def test_a_browser_rates_changes_its_vote_and_one_vote_counts(env: Env) -> None:
    token = env.mint(env.key_a, names=["thumbs", "correction"], author="user-42")
    first = env.browser_post(token, _item(value=True))
    assert first.status_code == 201, first.text
    assert first.headers["access-control-allow-origin"] == ORIGIN
    changed = env.browser_post(token, _item(value=False, comment="actually wrong"))
    assert changed.status_code == 201
    fix = env.browser_post(token, {"trace_id": TRACE, "span_id": SPAN, "name": "correction", "correction": "Right."})
    assert fix.status_code == 201
    rows = env.stored(env.key_a, name="thumbs")
    assert [(f["author"], f["value"], f["is_current"]) for f in rows] == [
        ("user-42", False, True),
        ("user-42", True, False),
    ]
    assert env.stored(env.key_b) == []  # stored in the token's project only
    # the span arrives later; the leaderboard counts one vote with the new value
    _send_span(env, env.key_a, model="m1")
    with env.client(env.key_a) as http:
        board = http.get("/v1/analytics/leaderboard", params={"score": "thumbs", "group_by": "model"}).json()
        trace = http.get(f"/v1/traces/{TRACE}").json()
    assert [(r["group"]["model"], r["count"], r["mean"]) for r in board["rows"]] == [("m1", 1, 0.0)]
    (span,) = trace["spans"]
    assert sorted((f["name"], f["value"], f["correction"]) for f in span["feedback"]) == [
        ("correction", None, "Right."),
        ("thumbs", False, None),
    ]


def _send_span(env: Env, key: str, *, model: str) -> None:
    """An OTLP/JSON span with the ids the token was minted for."""
    body = {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "chat"}}]},
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": TRACE,
                                "spanId": SPAN,
                                "name": "chat",
                                "kind": 3,
                                "startTimeUnixNano": "1700000000000000000",
                                "endTimeUnixNano": "1700000001000000000",
                                "attributes": [{"key": "gen_ai.request.model", "value": {"stringValue": model}}],
                            }
                        ]
                    }
                ],
            }
        ]
    }
    with env.client(key) as http:
        assert http.post("/v1/traces", json=body).status_code == 200


def test_minting_needs_an_api_key_and_a_valid_grant(env: Env) -> None:
    with env.client(None) as anonymous:
        response = anonymous.post("/v1/feedback-tokens", json={"trace_id": TRACE, "names": ["thumbs"]})
        assert response.status_code == 401
    with env.client("pk_wrong") as wrong:
        assert wrong.post("/v1/feedback-tokens", json={"trace_id": TRACE, "names": ["thumbs"]}).status_code == 401
    with env.client(env.key_a) as http:
        for grant, field in [
            ({"trace_id": TRACE, "names": []}, "names"),
            ({"trace_id": TRACE}, "names"),
            ({"names": ["thumbs"]}, "trace_id"),
            ({"trace_id": TRACE, "session_id": "s", "names": ["thumbs"]}, "trace_id"),
            ({"trace_id": TRACE, "names": ["thumbs"], "ttl": 0}, "ttl"),
            ({"trace_id": TRACE, "names": ["thumbs"], "ttl": 10**9}, "ttl"),
            ({"ref": "00-nope", "names": ["thumbs"]}, "ref"),
            ({"trace_id": "xyz", "names": ["thumbs"]}, "trace_id"),
            ({"ref": f"00-{TRACE}-{SPAN}-01", "trace_id": TRACE, "names": ["thumbs"]}, "ref"),
        ]:
            response = http.post("/v1/feedback-tokens", json=grant)
            assert response.status_code == 422, (grant, response.text)
            assert response.json()["error"]["field"] == field, grant
        not_json = http.post("/v1/feedback-tokens", content=b"{not json", headers={"content-type": "application/json"})
        assert (not_json.status_code, not_json.json()["error"]["code"]) == (400, "invalid_json")
        huge = {"trace_id": TRACE, "names": ["thumbs"], "pad": "x" * (128 * 1024)}
        assert http.post("/v1/feedback-tokens", json=huge).status_code == 413
    # without a key, feedback itself is refused too
    assert httpx.post(f"{env.url}/v1/feedback", json=_item()).status_code == 401
    assert env.stored(env.key_a) == []


def test_forged_tampered_foreign_and_expired_tokens_are_401(env: Env) -> None:
    token = env.mint(env.key_a, names=["thumbs"])
    head, payload, signature = token.split(".")
    secret = signing_keys.load_secret(env.server.app.state.db, None)
    scope = tokens.verify(token, secret)
    widened = tokens.TokenScope(scope.project, scope.trace_id, None, None, ("thumbs", "stars"), None, scope.expires_at)
    forged_payload = tokens.sign(widened, secret).split(".")[1]
    expired = tokens.sign(
        tokens.TokenScope("team-a", TRACE, SPAN, None, ("thumbs",), None, int(time.time()) - 1), secret
    )
    cases = {
        "garbage": "not-a-token",
        "empty": "",
        "bad signature": f"{head}.{payload}.{signature[:-4]}AAAA",
        "payload swapped": f"{head}.{forged_payload}.{signature}",
        "other secret": tokens.sign(scope, b"some other collector's secret"),
        "wrong prefix": f"pft9.{payload}.{signature}",
        "expired": expired,
    }
    for label, bad in cases.items():
        response = env.browser_post(bad, _item())
        assert response.status_code == 401, (label, response.text)
        error = response.json()["error"]
        assert error["field"] == HEADER
        assert error["code"] == ("token_expired" if label == "expired" else "invalid_token"), label
    assert env.stored(env.key_a) == []


def test_out_of_scope_feedback_is_403_and_nothing_is_stored(env: Env) -> None:
    span_token = env.mint(env.key_a, names=["thumbs"], author="user-1")
    cases = [
        (_item(name="stars", value=5), "name"),
        (_item(span_id=OTHER_SPAN), "span_id"),
        (_item(span_id=None), "span_id"),
        (_item(trace_id="a" * 32), "trace_id"),
        (_item(author="someone-else"), "author"),
        ({"session_id": "s1", "name": "thumbs", "value": True}, "trace_id"),
    ]
    for body, field in cases:
        response = env.browser_post(span_token, body)
        assert response.status_code == 403, (body, response.text)
        assert response.json()["error"]["field"] == field
    batch = env.browser_post(span_token, {"items": [_item(), _item(name="stars", value=1)]})
    assert batch.status_code == 403 and batch.json()["error"]["field"] == "items[1].name"
    assert env.stored(env.key_a) == []
    # a trace-level token covers the trace and its spans, nothing else
    trace_token = env.mint(env.key_a, span_id=None, names=["thumbs"])
    assert env.browser_post(trace_token, _item(span_id=OTHER_SPAN)).status_code == 201
    assert env.browser_post(trace_token, _item(span_id=None)).status_code == 201
    assert env.browser_post(trace_token, _item(trace_id="a" * 32)).status_code == 403
    # a session token rates that session only
    with env.client(env.key_a) as http:
        session_token = http.post("/v1/feedback-tokens", json={"session_id": "s1", "names": ["resolved"]}).json()[
            "token"
        ]
    assert (
        env.browser_post(session_token, {"session_id": "s1", "name": "resolved", "value": "ongoing"}).status_code == 201
    )
    assert env.browser_post(session_token, {"session_id": "s2", "name": "resolved", "value": True}).status_code == 403


def test_cors_answers_the_configured_origin_on_the_feedback_route_only(env: Env) -> None:
    preflight = {
        "Origin": ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-plaudit-feedback-token",
    }
    ok = httpx.options(f"{env.url}/v1/feedback", headers=preflight)
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == ORIGIN
    assert "x-plaudit-feedback-token" in ok.headers["access-control-allow-headers"].lower()
    other = httpx.options(f"{env.url}/v1/feedback", headers={**preflight, "Origin": "http://evil.example"})
    assert other.status_code == 400
    assert "access-control-allow-origin" not in other.headers
    minting = httpx.options(f"{env.url}/v1/feedback-tokens", headers=preflight)
    assert "access-control-allow-origin" not in minting.headers


def test_a_token_from_one_collector_works_on_another_sharing_the_database(env: Env, db_url: str) -> None:
    token = env.mint(env.key_a, names=["thumbs"])
    second = BackgroundServer(CollectorSettings(db_url=db_url, auth=True)).start()
    try:
        response = httpx.post(f"{second.url}/v1/feedback", json=_item(), headers={HEADER: token})
        assert response.status_code == 201, response.text
    finally:
        second.stop()
        second.app.state.db.dispose()
    assert len(env.stored(env.key_a)) == 1


def test_projects_are_isolated(env: Env) -> None:
    with env.client(env.key_a) as a, env.client(env.key_b) as b:
        stored = a.post("/v1/feedback", json=_item(author="x", idempotency_key="same-key")).json()
        fid = stored["ids"][0]
        # the same idempotency key in another project is another row
        other = b.post("/v1/feedback", json=_item(author="x", idempotency_key="same-key")).json()
        assert other["ids"] != stored["ids"]
        assert [f["id"] for f in b.get("/v1/feedback").json()["data"]] == other["ids"]
        assert b.get(f"/v1/feedback/{fid}").status_code == 404
        assert b.delete(f"/v1/feedback/{fid}").status_code == 404
        assert a.get(f"/v1/feedback/{fid}").json()["deleted_at"] is None
        b.put("/v1/score-configs/thumbs", json={"type": "numeric", "min": 5})
        assert a.post("/v1/feedback", json=_item(value=False)).status_code == 201  # b's config is b's
        assert b.post("/v1/feedback", json=_item(value=1)).status_code == 422
        assert a.get("/v1/score-configs").json()["count"] == 0
        assert b.get("/v1/feedback/orphans").json()["count"] == 1
        assert a.get("/v1/feedback/orphans").json()["count"] == 2
    token_b = env.mint(env.key_b, names=["thumbs"], author="bee")
    env.browser_post(token_b, _item(value=True))
    assert {f["author"] for f in env.stored(env.key_a)} == {"x", None}


def test_sdk_mints_a_token_for_a_ref(env: Env) -> None:
    errors.RAISE_INTERNAL_ERRORS = True
    plaudit.configure(endpoint=env.url, api_key=env.key_a, service_name="tokens")
    try:
        ref = plaudit.SpanRef(TRACE, SPAN)
        token = plaudit.feedback_token(str(ref), names=["thumbs"], ttl=60, author="u7")
        assert token is not None
        assert env.browser_post(token, _item()).json()["items"][0]["author"] == "u7"
        with pytest.raises(TypeError):
            plaudit.feedback_token(ref, names="thumbs")
        with pytest.raises(ValueError):
            plaudit.feedback_token(ref, names=["thumbs"], ttl=0)
    finally:
        plaudit.shutdown()
        errors.RAISE_INTERNAL_ERRORS = False
    plaudit.configure(endpoint=env.url, api_key="pk_not_a_key", service_name="tokens")
    try:
        assert plaudit.feedback_token(ref, names=["thumbs"]) is None  # refused: logged, not raised
    finally:
        plaudit.shutdown()
