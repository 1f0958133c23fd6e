"""Routers a collector builds after it starts: the questions (analytics, judges, experiments, export,
queues, sessions, projects, trace and feedback reads), not span and feedback ingest.

FastAPI analyses every parameter of every route when its module is imported (a pydantic adapter each),
about a fifth of a second for these routers: a collector that must answer its health check and take
spans within a second of launch does that work just after it starts instead. A request for one of these
paths that comes sooner waits until they are built, so no request sees a 404 it would not see later.
"""

from __future__ import annotations

import importlib
import threading
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

MODULES = (
    "plaudit_collector.api.routes.trace_reads",
    "plaudit_collector.api.routes.feedback_items",
    "plaudit_collector.api.routes.score_configs",
    "plaudit_collector.api.routes.judges",
    "plaudit_collector.api.routes.judge_analytics",
    "plaudit_collector.api.routes.analytics",
    "plaudit_collector.api.routes.export",
    "plaudit_collector.api.routes.experiments",
    "plaudit_collector.api.routes.queues",
    "plaudit_collector.api.routes.activity",
    "plaudit_collector.api.routes.projects",
)
"""Imported in this order; each module's ``router`` is included in the app after the eager ones."""

PATHS = (
    "/v1/traces",
    "/v1/feedback",
    "/v1/score-configs",
    "/v1/judges",
    "/v1/analytics",
    "/v1/query-model",
    "/v1/export",
    "/v1/experiments",
    "/v1/queues",
    "/v1/scores",
    "/v1/sessions",
    "/v1/users",
    "/v1/projects",
    "/openapi.json",
)
"""Every path of those routers is one of these or lies under one (a test holds the list to the routers). The
OpenAPI document lists them all, so it waits for them too."""

INGEST = frozenset({("POST", "/v1/traces"), ("POST", "/v1/feedback")})
"""Requests to those paths that the routers built at once answer: span and feedback ingest never wait."""


class DeferredRoutes:
    """Builds :data:`MODULES`' routers into ``app`` once, from whichever thread asks first."""

    def __init__(self, app: FastAPI) -> None:
        self._app = app
        self._lock = threading.Lock()
        self.built = False

    def build(self) -> None:
        """Import the routers and include them; at once if already done. Safe from any thread: FastAPI adds
        an included router to the app's routes in one step, and requests for these paths wait meanwhile."""
        if self.built:
            return
        with self._lock:
            if self.built:
                return
            for name in MODULES:
                self._app.include_router(importlib.import_module(name).router)
            self.built = True

    def wanted(self, method: str, path: str) -> bool:
        """True when a request may be for one of the deferred routes and they are not built yet."""
        if self.built or (method, path) in INGEST:
            return False
        return any(path == p or path.startswith(p + "/") for p in PATHS)


class WaitForDeferredRoutes:
    """ASGI middleware: a request for a deferred path that arrives before the routers are built builds them
    (in the thread pool, off the event loop) and then goes on as usual."""

    def __init__(self, app: Any, routes: DeferredRoutes) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if not self.routes.built and scope["type"] == "http" and self.routes.wanted(scope["method"], _app_path(scope)):
            await run_in_threadpool(self.routes.build)
        await self.app(scope, receive, send)


def _app_path(scope: dict[str, Any]) -> str:
    """The path within this app: an app mounted under a prefix sees the prefix in ``path`` and ``root_path``."""
    path, root = scope["path"], scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path
