"""The collector's FastAPI application factory: the API's routers and the workspace, over one database.

``create_app(settings)`` is what ``plaudit serve`` runs and what tests and embedding apps build.
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from fastapi_offline import FastAPIOffline

from plaudit._version import __version__
from plaudit_collector.api import errors
from plaudit_collector.api.deferred_routes import DeferredRoutes, WaitForDeferredRoutes
from plaudit_collector.api.deps import check_parameters
from plaudit_collector.api.routes import feedback, feedback_tokens, health, logs, traces
from plaudit_collector.api.stopping import RefuseCutRequests
from plaudit_collector.schemas import FeedbackAccepted, FeedbackBatch, FeedbackIn, FeedbackTokenIn, ScoreConfigIn
from plaudit_collector.settings import CollectorSettings
from plaudit_collector.store import retention, young_tables
from plaudit_collector.store.db import Database
from plaudit_collector.web import routes as web_routes

BUILD_ROUTES_AFTER_SECONDS = 0.2
"""The question routers (see :mod:`~plaudit_collector.api.deferred_routes`) are built this long after startup:
after the first health checks are answered, long before a person opens the workspace."""
WARM_STATISTICS_AFTER_SECONDS = 1.0
"""SciPy's import (about 0.6 s of CPU, most of it holding the GIL) starts this long after startup: not while
uvicorn binds and answers its first requests (a health check, a first batch), yet long before anyone reads a
leaderboard."""
BACKGROUND_STOP_SECONDS = 0.5
"""How long a stopping collector waits for each background worker (judges, retention, statistics) to finish its
step."""


def stop_background(app: FastAPI) -> None:
    """Tell the app's background workers to stop, without waiting: the first step of a stop, before the
    requests in flight are waited for, so no new judge run or sweep starts while the server drains."""
    for worker in getattr(app.state, "background", ()):
        worker.request_stop()


def build_all_routes(app: FastAPI) -> FastAPI:
    """Build the routers a collector otherwise builds just after it starts (or on the first request for one
    of their paths): for code that lists ``app.routes``, or an app whose lifespan never runs. Returns ``app``."""
    app.state.deferred_routes.build()
    return app


def _later(name: str, seconds: float, function: Any, *args: Any) -> threading.Timer:
    timer = threading.Timer(seconds, function, args=args)
    timer.name, timer.daemon = name, True
    timer.start()
    return timer


def _build_routes(app: FastAPI) -> None:
    try:
        build_all_routes(app)
    except Exception:  # the first request for one of their paths builds them again and answers the error
        logging.getLogger("plaudit_collector").exception("building the question routes failed")


def _warm_statistics() -> None:
    """Import the statistics stack once the collector answers: ``/healthz`` does not wait for SciPy, and the
    first leaderboard does not pay for importing it either."""
    try:
        import scipy.stats  # noqa: F401
    except Exception:  # a question that needs it raises the same error where it is seen
        logging.getLogger("plaudit_collector").debug("statistics warm-up failed", exc_info=True)


def create_app(settings: CollectorSettings | None = None, db: Database | None = None) -> FastAPI:
    """Build the app; the database schema is created on startup if missing."""
    settings = settings or CollectorSettings()
    database = db or Database(settings.db_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database.prepare(migrate=settings.migrate)
        sweeper = retention.start_sweeper(database, settings)
        keeper = young_tables.start_keeper(database)
        judge_worker = None
        if settings.judges:  # the judge worker's modules load only where it runs
            from plaudit_collector.judges.worker import start_worker

            judge_worker = start_worker(database, settings)
        app.state.background = [worker for worker in (judge_worker, sweeper, keeper) if worker is not None]
        timers = [
            _later("plaudit-build-routes", BUILD_ROUTES_AFTER_SECONDS, _build_routes, app),
            _later("plaudit-warm-statistics", WARM_STATISTICS_AFTER_SECONDS, _warm_statistics),
        ]
        yield
        for timer in timers:
            timer.cancel()
        stop_background(app)
        for worker in app.state.background:  # daemon threads: one still busy past its wait ends with the process
            worker.stop(timeout=BACKGROUND_STOP_SECONDS)
        database.dispose()

    # FastAPIOffline serves Swagger UI's and ReDoc's assets from the package: /docs works with no network.
    app = FastAPIOffline(
        title="Plaudit collector",
        version=__version__,
        description="Stores OpenTelemetry spans and human feedback; tells which variant scores best.",
        lifespan=lifespan,
        dependencies=[Depends(check_parameters)],  # every route: no NUL or lone surrogate in a parameter
        **_no_self_telemetry(),
    )
    app.state.settings = settings
    app.state.db = database
    app.state.deferred_routes = deferred = DeferredRoutes(app)
    errors.install(app)
    app.add_middleware(WaitForDeferredRoutes, routes=deferred)
    app.add_middleware(RefuseCutRequests)
    # /healthz first: a request matches routers in order, and each builds its routes then. The questions'
    # routers come after the workspace's pages, when built (none of their paths is a page's).
    for module in (health, traces, logs, feedback, feedback_tokens, web_routes):
        app.include_router(module.router)
    app.mount("/static", web_routes.static_files(), name="static")
    feedback_tokens.install_cors(app, settings.feedback_cors_origins)
    _document_feedback_models(app)
    return app


def _no_self_telemetry() -> dict[str, Any]:
    """The collector must not trace its own requests: in a process that also runs the SDK (the demo,
    tests, an app embedding the collector) each export would produce spans to export, forever."""
    if "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        return {}
    return {"telemetry": {"tracing": False, "metrics": False, "logs": False, "auto_configure": False}}


def _document_feedback_models(app: FastAPI) -> None:
    """The feedback route parses its body itself (to name bad fields precisely); publish its schemas."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        from plaudit_collector.experiment_schemas import ExperimentChange, ExperimentIn, UnitsIn
        from plaudit_collector.judges.spec import JudgeIn

        build_all_routes(app)
        schema = build()
        paths = schema.get("paths", {})
        if "/healthz" in paths:  # matched first (see create_app), documented last as it always was
            paths["/healthz"] = paths.pop("/healthz")
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in (
            FeedbackAccepted,
            FeedbackIn,
            FeedbackBatch,
            FeedbackTokenIn,
            ScoreConfigIn,
            ExperimentIn,
            ExperimentChange,
            UnitsIn,
            JudgeIn,
        ):
            model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(model_schema.pop("$defs", {}))
            components[model.__name__] = model_schema
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
