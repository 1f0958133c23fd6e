"""Access control: with auth on, no key, a wrong, revoked or other project's key gets nothing, anywhere.

Routes are enumerated from the live app, so a route added later is covered without touching this file.
Feedback tokens open exactly one target and the named scores, until they expire, and cannot be forged.
Secrets never reach the collector's logs.
"""

from __future__ import annotations

import base64
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span
from rel_helpers import CollectorProcess, code_env

from plaudit_collector.app import build_all_routes, create_app
from plaudit_collector.server import BackgroundServer
from plaudit_collector.settings import CollectorSettings
from plaudit_collector.store import projects
from plaudit_collector.web.routes import PAGES

TID = "4bf92f3577b34da6a3ce929d0e0e4736"
SID = "00f067aa0ba902b7"
OTHER_SID = "00f067aa0ba902b8"
PUBLIC = {"/healthz", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", *PAGES}
"""Routes that hold no project data; the workspace's pages (one shell) are checked separately below."""
TOKEN = "X-Plaudit-Feedback-Token"
PLACEHOLDERS = {"trace_id": TID, "span_id": SID, "name": "thumbs", "id": "1", "key_id": "1", "project": "alpha"}


def otlp(trace_id: str = TID, span_id: str = SID, name: str = "secret-span-name") -> bytes:
    span = Span(
        trace_id=bytes.fromhex(trace_id),
        span_id=bytes.fromhex(span_id),
        name=name,
        start_time_unix_nano=1_700_000_000_000_000_000,
        end_time_unix_nano=1_700_000_001_000_000_000,
    )
    return ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=[span])])]
    ).SerializeToString()


class Keys:
    def __init__(self, server: BackgroundServer) -> None:
        db = server.app.state.db
        self.alpha, _ = projects.create_key(db, "alpha")
        self.beta, _ = projects.create_key(db, "beta")
        self.revoked, revoked_id = projects.create_key(db, "alpha")
        assert projects.revoke_key(db, revoked_id)
        self.wrong = projects.KEY_PREFIX + "A" * 43


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[BackgroundServer, Keys, httpx.Client]]:
    db = Path(tmp_path_factory.mktemp("access")) / "plaudit.db"
    server = BackgroundServer(CollectorSettings(db_url=f"sqlite:///{db}", auth=True, secret="s" * 32)).start()
    keys = Keys(server)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            ok = http.post(
                "/v1/traces",
                content=otlp(),
                headers={"Content-Type": "application/x-protobuf", "Authorization": f"Bearer {keys.alpha}"},
            )
            assert ok.status_code == 200, ok.text
            ok = http.post(
                "/v1/feedback",
                json={"trace_id": TID, "span_id": SID, "name": "thumbs", "value": True},
                headers={"Authorization": f"Bearer {keys.alpha}"},
            )
            assert ok.status_code == 201, ok.text
            yield server, keys, http
    finally:
        server.stop()
        server.app.state.db.dispose()


def all_routes(routes: Any, prefix: str = "") -> Iterator[tuple[str, set[str]]]:
    """(path, methods) of every HTTP route, through included routers however FastAPI nests them."""
    for route in routes:
        nested = getattr(route, "original_router", None)
        if nested is not None:  # FastAPI >= 0.16x keeps included routers as their own route objects
            context = getattr(route, "include_context", None)
            yield from all_routes(nested.routes, prefix + (getattr(context, "prefix", "") or ""))
        elif getattr(route, "methods", None) and getattr(route, "path", None):
            yield prefix + route.path, set(route.methods)


def data_routes(server: BackgroundServer) -> list[tuple[str, str]]:
    """Every route of an app built like the server's, the question routes included: the server itself may
    not have built those yet, and a request for one before then must be refused all the same."""
    app = build_all_routes(create_app(server.app.state.settings))
    app.state.db.dispose()
    found = []
    for raw_path, methods in all_routes(app.routes):
        if raw_path in PUBLIC:
            continue
        path = raw_path
        for param, value in PLACEHOLDERS.items():
            path = path.replace("{" + param + "}", value)
        found.extend((method, path) for method in sorted(methods - {"HEAD", "OPTIONS"}))
    return found


@pytest.mark.parametrize("who", ["missing", "wrong", "revoked", "malformed"])
def test_every_data_route_refuses_a_request_without_a_valid_key(
    secured: tuple[BackgroundServer, Keys, httpx.Client], who: str
) -> None:
    server, keys, http = secured
    headers = {
        "missing": {},
        "wrong": {"Authorization": f"Bearer {keys.wrong}"},
        "revoked": {"Authorization": f"Bearer {keys.revoked}"},
        "malformed": {"Authorization": f"Basic {base64.b64encode(keys.alpha.encode()).decode()}"},
    }[who]
    routes = data_routes(server)
    assert len(routes) >= 8, routes
    allowed = []
    for method, path in routes:
        body = otlp() if path == "/v1/traces" and method == "POST" else b"{}"
        content_type = "application/x-protobuf" if path == "/v1/traces" else "application/json"
        params = {"score": "thumbs", "group_by": "model", "name": "thumbs"}
        response = http.request(
            method, path, content=body, params=params, headers={**headers, "Content-Type": content_type}
        )
        if response.status_code not in (401, 403):
            allowed.append(f"{method} {path} -> {response.status_code}")
    assert allowed == []


def test_another_projects_key_sees_and_changes_nothing(secured: tuple[BackgroundServer, Keys, httpx.Client]) -> None:
    _server, keys, http = secured
    beta = {"Authorization": f"Bearer {keys.beta}"}
    alpha = {"Authorization": f"Bearer {keys.alpha}"}
    assert http.get(f"/v1/traces/{TID}", headers=beta).status_code == 404
    assert TID not in http.get("/v1/traces", headers=beta).text
    board = http.get("/v1/analytics/leaderboard", params={"score": "thumbs", "group_by": "span.name"}, headers=beta)
    assert board.status_code == 200 and board.json()["rows"] == []
    before = http.get(f"/v1/traces/{TID}", headers=alpha).json()
    response = http.post(
        "/v1/feedback", json={"trace_id": TID, "span_id": SID, "name": "thumbs", "value": False}, headers=beta
    )
    assert response.status_code == 201  # stored in beta's project, where it rates nothing of alpha's
    assert http.get(f"/v1/traces/{TID}", headers=alpha).json() == before


def mint(http: httpx.Client, key: str, **grant: Any) -> str:
    response = http.post("/v1/feedback-tokens", json=grant, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 201, response.text
    return str(response.json()["token"])


def rate(http: httpx.Client, token: str, **item: Any) -> httpx.Response:
    body = {"trace_id": TID, "span_id": SID, "name": "thumbs", "value": True, **item}
    return http.post("/v1/feedback", json=body, headers={TOKEN: token})


def test_feedback_tokens_are_scoped_unforgeable_and_expire(
    secured: tuple[BackgroundServer, Keys, httpx.Client],
) -> None:
    _server, keys, http = secured
    token = mint(http, keys.alpha, trace_id=TID, span_id=SID, names=["thumbs"], ttl=600)
    assert rate(http, token).status_code == 201
    assert rate(http, token, name="stars", value=5).status_code in (401, 403), "only the named scores"
    assert rate(http, token, span_id=OTHER_SID).status_code in (401, 403), "only its span"
    assert rate(http, token, trace_id="1" * 32).status_code in (401, 403), "only its trace"
    body, _, signature = token.rpartition(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    assert rate(http, f"{body}.{flipped}").status_code in (401, 403), "a forged signature"
    assert rate(http, token[1:]).status_code in (401, 403), "a mangled token"
    # A token is not an API key: it reads nothing and mints nothing.
    assert http.get(f"/v1/traces/{TID}", headers={TOKEN: token}).status_code in (401, 403)
    assert http.get("/v1/traces", headers={"Authorization": f"Bearer {token}"}).status_code in (401, 403)
    short = mint(http, keys.alpha, trace_id=TID, span_id=SID, names=["thumbs"], ttl=1)
    time.sleep(2.1)
    assert rate(http, short).status_code in (401, 403), "an expired token"
    # A beta token cannot write into alpha's trace: its writes land in beta.
    beta_token = mint(http, keys.beta, trace_id=TID, span_id=SID, names=["thumbs"], ttl=600)
    before = http.get(f"/v1/traces/{TID}", headers={"Authorization": f"Bearer {keys.alpha}"}).json()
    assert rate(http, beta_token, value=False).status_code == 201
    after = http.get(f"/v1/traces/{TID}", headers={"Authorization": f"Bearer {keys.alpha}"}).json()
    assert after == before


def test_the_dashboard_shows_nothing_without_a_key(secured: tuple[BackgroundServer, Keys, httpx.Client]) -> None:
    _server, _keys, http = secured
    for path in (*(p.format(trace_id=TID, queue_id=1, name="answer-style") for p in PAGES), "/static/js/app.js"):
        page = http.get(path)
        assert page.status_code in (200, 401, 403), path
        assert "secret-span-name" not in page.text and TID not in page.text.replace(path, ""), path


def test_secrets_never_reach_the_collector_logs(tmp_path: Path, pg_url: str) -> None:
    """API keys, feedback tokens and the database password stay out of everything the collector prints."""
    password = "Pw-9f3c1e-never-log-me"
    db_url = pg_url.replace("postgres@", f"postgres:{password}@", 1)  # trust auth ignores it; the logs must too
    created = subprocess.run(
        [sys.executable, "-m", "plaudit_collector.cli", "keys", "create", "--project", "alpha", "--db", db_url],
        env=code_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith(projects.KEY_PREFIX)
    collector = CollectorProcess(db_url, tmp_path, extra_args=("--auth", "--log-level", "debug")).start()
    try:
        with httpx.Client(base_url=collector.url, timeout=30) as http:
            headers = {"Authorization": f"Bearer {key}"}
            assert (
                http.post(
                    "/v1/traces", content=otlp(), headers={**headers, "Content-Type": "application/x-protobuf"}
                ).status_code
                == 200
            )
            token = mint(http, key, trace_id=TID, span_id=SID, names=["thumbs"], ttl=60)
            assert rate(http, token).status_code == 201
            assert rate(http, token, name="other").status_code in (401, 403)
            assert http.get("/v1/traces", headers={"Authorization": f"Bearer {key[:-3]}abc"}).status_code == 401
            assert http.post("/v1/feedback", json={"oops": 1}, headers=headers).status_code == 422
    finally:
        collector.stop()
    logs = collector.logs() + created.stderr
    assert logs.strip(), "the collector printed nothing: the check would prove nothing"
    for secret in (key, key[12:], token, token.rpartition(".")[2], password):
        assert secret not in logs


def test_a_key_lists_only_its_own_project(secured: tuple[BackgroundServer, Keys, httpx.Client]) -> None:
    """The workspace's project picker offers what ``GET /v1/projects`` lists: with auth, the key's project only."""
    _server, keys, http = secured
    for key, project in ((keys.alpha, "alpha"), (keys.beta, "beta")):
        listed = http.get("/v1/projects", headers={"Authorization": f"Bearer {key}"}).json()
        assert listed["projects"] == [project] and listed["current"] == project
    assert http.get("/v1/projects").status_code == 401


def test_a_valid_key_with_an_unknown_query_parameter_gets_422_naming_it(
    secured: tuple[BackgroundServer, Keys, httpx.Client],
) -> None:
    _, keys, http = secured
    bearer = {"Authorization": f"Bearer {keys.alpha}"}
    response = http.get("/v1/feedback", params={"source": "human"}, headers=bearer)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "source"
    assert http.get("/v1/feedback", params={"source": "human"}).status_code == 401  # who asks comes first
