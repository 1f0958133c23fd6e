"""Collector fixtures: OTLP payload builders, a migrated database, an auth-on collector, and API keys made the way
`plaudit keys` does."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from plaudit_collector.store.db import Database


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """The test's database (SQLite and PostgreSQL), migrated as ``plaudit serve`` leaves it."""
    database = Database(db_url)
    database.upgrade()
    try:
        yield database
    finally:
        database.dispose()


def any_value(value: Any) -> dict[str, Any]:
    """OTLP JSON AnyValue, typed as the encoding says (intValue as a string)."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, (list, tuple)):
        return {"arrayValue": {"values": [any_value(v) for v in value]}}
    if isinstance(value, dict):
        return {"kvlistValue": {"values": [{"key": k, "value": any_value(v)} for k, v in value.items()]}}
    return {"stringValue": str(value)}


def kvs(attrs: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": key, "value": any_value(value)} for key, value in attrs.items()]


def new_trace_id() -> str:
    return secrets.token_hex(16)


def new_span_id() -> str:
    return secrets.token_hex(8)


def json_span(
    name: str,
    attrs: dict[str, Any] | None = None,
    *,
    trace_id: str | None = None,
    span_id: str | None = None,
    parent: str | None = None,
    links: list[tuple[str, str]] | None = None,
    events: list[tuple[str, dict[str, Any]]] | None = None,
    kind: int = 1,
    start_ns: int = 1_700_000_000_000_000_000,
) -> dict[str, Any]:
    """One span in OTLP JSON form (hex ids, enum ints, string nanoseconds)."""
    span: dict[str, Any] = {
        "traceId": trace_id or new_trace_id(),
        "spanId": span_id or new_span_id(),
        "name": name,
        "kind": kind,
        "startTimeUnixNano": str(start_ns),
        "endTimeUnixNano": str(start_ns + 5_000_000),
        "attributes": kvs(attrs or {}),
        "status": {"code": 0},
    }
    if parent:
        span["parentSpanId"] = parent
    if links:
        span["links"] = [{"traceId": t, "spanId": s} for t, s in links]
    if events:
        span["events"] = [
            {"name": ev_name, "timeUnixNano": str(start_ns + 1000 * i), "attributes": kvs(ev_attrs)}
            for i, (ev_name, ev_attrs) in enumerate(events)
        ]
    return span


def json_request(spans: list[dict[str, Any]], *, service: str = "tests", scope: str = "tests") -> dict[str, Any]:
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": kvs({"service.name": service, "deployment.environment.name": "test"})},
                "scopeSpans": [{"scope": {"name": scope, "version": "1.0"}, "spans": spans}],
            }
        ]
    }


@pytest.fixture
def otlp() -> Any:
    """Builders for OTLP JSON payloads, as a namespace."""

    class Builders:
        span = staticmethod(json_span)
        request = staticmethod(json_request)
        trace_id = staticmethod(new_trace_id)
        span_id = staticmethod(new_span_id)
        attributes = staticmethod(kvs)

    return Builders


@pytest.fixture
def post_otlp(http: httpx.Client) -> Callable[..., httpx.Response]:
    """POST an OTLP JSON document to /v1/traces and return the response."""

    def post(doc: dict[str, Any], path: str = "/v1/traces", **headers: str) -> httpx.Response:
        return http.post(path, json=doc, headers=headers or None)

    return post


@pytest.fixture
def http(collector: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=collector.url, timeout=30) as client:
        yield client


@pytest.fixture
def auth_collector(db_url: str) -> Iterator[Any]:
    """A real collector that requires API keys, plus ``make_key(project)`` to mint them."""
    from plaudit_collector.server import BackgroundServer
    from plaudit_collector.settings import CollectorSettings
    from plaudit_collector.store import projects

    server = BackgroundServer(CollectorSettings(db_url=db_url, auth=True)).start()
    database: Database = server.app.state.db

    def make_key(project: str) -> str:
        key, _ = projects.create_key(database, project)
        return key

    server.make_key = make_key  # type: ignore[attr-defined]
    server.db = database  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.stop()
        database.dispose()


@pytest.fixture
def plaudit_cli() -> list[str]:
    """The ``plaudit`` command of this environment."""
    import sys
    from pathlib import Path

    candidate = Path(sys.executable).parent / "plaudit"
    if candidate.exists() and os.access(candidate, os.X_OK):
        return [str(candidate)]
    return [sys.executable, "-m", "plaudit_collector.cli"]
