"""The question routes (analytics, judges, experiments, export, queues, reads) are built after the collector
starts, so it answers its health check and takes spans sooner; a question asked before then waits for them
and is answered as it would be later, never with a 404."""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount

from plaudit_collector.api import deferred_routes
from plaudit_collector.app import create_app
from plaudit_collector.server import BackgroundServer, free_port
from plaudit_collector.settings import CollectorSettings
from plaudit_collector.store.db import Database

TID, SID = "ab" * 16, "cd" * 8
SPAN = {
    "traceId": TID,
    "spanId": SID,
    "name": "answer",
    "startTimeUnixNano": "1700000000000000000",
    "endTimeUnixNano": "1700000001000000000",
    "attributes": [{"key": "gen_ai.request.model", "value": {"stringValue": "m1"}}],
}
OTLP = {"resourceSpans": [{"resource": {}, "scopeSpans": [{"scope": {"name": "t"}, "spans": [SPAN]}]}]}


def _under(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in deferred_routes.PATHS)


def _routes(router: Any) -> list[tuple[str, str]]:
    """(method, path) of a router's routes; an app's included routers (FastAPI keeps each as one entry) too."""
    found = []
    for route in router.routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            found.extend(_routes(inner))
        else:
            found.extend((method, route.path) for method in getattr(route, "methods", None) or ())
    return found


def test_every_question_route_lies_under_a_deferred_path_and_no_ingest_route_does(tmp_path: Path) -> None:
    deferred = [pair for name in deferred_routes.MODULES for pair in _routes(importlib.import_module(name).router)]
    assert deferred and [(m, p) for m, p in deferred if not _under(p) or (m, p) in deferred_routes.INGEST] == []
    app = create_app(CollectorSettings(db_url=f"sqlite:///{tmp_path / 'e.db'}"))
    eager = _routes(app.router)
    app.state.db.dispose()
    waits = {(m, p) for m, p in eager if _under(p) and (m, p) not in deferred_routes.INGEST}
    assert waits == {("GET", "/openapi.json"), ("HEAD", "/openapi.json")}  # it lists the question routes too
    assert {("POST", "/v1/traces"), ("POST", "/v1/feedback")} <= set(eager)


@contextmanager
def _served(app: Any, db: Database) -> Iterator[str]:
    """``app`` on a real port with no lifespan (as an app that embeds the collector may run it): nothing
    builds the question routes but the requests themselves."""
    db.prepare()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, port=port, lifespan="off", log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        db.dispose()


@pytest.fixture
def unbuilt(tmp_path: Path) -> Iterator[tuple[Any, str]]:
    app = create_app(CollectorSettings(db_url=f"sqlite:///{tmp_path / 'd.db'}"))
    with _served(app, app.state.db) as url:
        yield app, url


def test_health_and_ingest_are_answered_without_building_the_question_routes(unbuilt: tuple[Any, str]) -> None:
    app, url = unbuilt
    with httpx.Client(base_url=url, timeout=30) as http:
        assert http.get("/healthz").status_code == 200
        assert http.post("/v1/traces", json=OTLP).status_code == 200
        feedback = {"trace_id": TID, "span_id": SID, "name": "thumbs", "value": True}
        assert http.post("/v1/feedback", json=feedback).status_code == 201
        assert not app.state.deferred_routes.built
        assert not [p for _, p in _routes(app.router) if p.startswith("/v1/analytics")]
        assert http.put("/v1/traces", json=OTLP).status_code == 405  # waits for them, then answers as after


def test_questions_asked_together_before_the_routes_are_built_are_all_answered(unbuilt: tuple[Any, str]) -> None:
    app, url = unbuilt
    with httpx.Client(base_url=url, timeout=30) as http:
        assert http.post("/v1/traces", json=OTLP).status_code == 200
        feedback = {"trace_id": TID, "span_id": SID, "name": "thumbs", "value": True}
        feedback_id = http.post("/v1/feedback", json=feedback).json()["ids"][0]
    asks = [
        ("/v1/analytics/leaderboard", {"score": "thumbs", "group_by": "model"}),
        ("/v1/traces", {}),
        (f"/v1/traces/{TID}", {}),
        ("/v1/feedback", {}),
        (f"/v1/feedback/{feedback_id}", {}),
        ("/v1/projects", {}),
        ("/v1/score-configs", {}),
        ("/openapi.json", {}),
    ]

    def ask(path: str, params: dict[str, str]) -> httpx.Response:
        return httpx.get(url + path, params=params, timeout=60)

    with ThreadPoolExecutor(len(asks)) as pool:
        replies = list(pool.map(lambda a: ask(*a), asks))
    assert [(path, r.status_code) for (path, _), r in zip(asks, replies, strict=True)] == [
        (path, 200) for path, _ in asks
    ]
    assert replies[0].json()["rows"][0]["group"] == {"model": "m1"}
    assert "/v1/analytics/leaderboard" in replies[-1].json()["paths"]
    assert app.state.deferred_routes.built
    assert httpx.get(url + "/v1/analytics/nothing-here", timeout=30).status_code == 404


def test_a_collector_mounted_under_a_prefix_builds_them_on_its_first_question(tmp_path: Path) -> None:
    inner = create_app(CollectorSettings(db_url=f"sqlite:///{tmp_path / 'm.db'}"))
    outer = Starlette(routes=[Mount("/plaudit", app=inner)])
    with _served(outer, inner.state.db) as url:
        reply = httpx.get(f"{url}/plaudit/v1/projects", timeout=30)
    assert reply.status_code == 200, reply.text
    assert inner.state.deferred_routes.built


def test_a_started_collector_builds_them_soon_after_without_being_asked(tmp_path: Path) -> None:
    with BackgroundServer(CollectorSettings(db_url=f"sqlite:///{tmp_path / 's.db'}")) as server:
        deadline = time.monotonic() + 30
        while not server.app.state.deferred_routes.built:
            assert time.monotonic() < deadline, "the question routes were not built after startup"
            time.sleep(0.05)
        assert ("GET", "/v1/analytics/leaderboard") in _routes(server.app.router)


def test_the_openapi_document_lists_every_route_before_any_question(tmp_path: Path) -> None:
    app = create_app(CollectorSettings(db_url=f"sqlite:///{tmp_path / 'o.db'}"))
    try:
        paths = app.openapi()["paths"]
    finally:
        app.state.db.dispose()
    assert {"/v1/analytics/leaderboard", "/v1/judges", "/v1/export/spans"} <= set(paths)
    assert set(paths["/v1/traces"]) == {"post", "get"} and set(paths["/v1/feedback"]) == {"post", "get"}
