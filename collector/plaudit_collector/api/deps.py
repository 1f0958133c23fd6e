"""FastAPI dependencies shared by the routes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, Request

from plaudit_collector.errors import ApiError
from plaudit_collector.settings import CollectorSettings
from plaudit_collector.store import projects
from plaudit_collector.store.db import Database


def get_db(request: Request) -> Database:
    return request.app.state.db  # type: ignore[no-any-return]


def get_settings(request: Request) -> CollectorSettings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_project(request: Request) -> str:
    """The project every read and write is scoped to: the API key's when auth is on, else the default.

    Raises:
        ApiError: 401 ``unauthorized`` for a missing, unknown or revoked key while auth is on.
    """
    settings: CollectorSettings = request.app.state.settings
    if not settings.auth:
        return settings.default_project
    cached = getattr(request.state, "plaudit_project", None)
    if cached is not None:
        return str(cached)
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise _unauthorized("an API key is required: send 'Authorization: Bearer <key>'")
    project = projects.resolve_key(request.app.state.db, key.strip())
    if project is None:
        raise _unauthorized("the API key is unknown or revoked")
    request.state.plaudit_project = project
    return project


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, "Authorization", headers={"WWW-Authenticate": "Bearer"})


DatabaseDep = Annotated[Database, Depends(get_db)]
SettingsDep = Annotated[CollectorSettings, Depends(get_settings)]
ProjectDep = Annotated[str, Depends(get_project)]


async def read_body(request: Request, limit: int) -> bytes:
    """Read the body, refusing with 413 as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "body_too_large", f"request body exceeds {limit} bytes", "body")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "body_too_large", f"request body exceeds {limit} bytes", "body")
        chunks.append(chunk)
    return b"".join(chunks)


class IngestGate:
    """Bounds the OTLP requests decoded and written at once, so overload becomes a 503 with ``Retry-After``
    (which OTLP exporters honour) instead of an unbounded pile of buffered bodies."""

    def __init__(self, settings: CollectorSettings) -> None:
        self._semaphore = asyncio.Semaphore(max(1, settings.max_concurrent_ingests))
        self._wait = max(0.0, settings.ingest_wait_seconds)
        self._retry_after = str(max(1, settings.retry_after_seconds))

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        try:
            await asyncio.wait_for(self._semaphore.acquire(), timeout=self._wait or 0.001)
        except (asyncio.TimeoutError, TimeoutError):
            raise ApiError(
                503,
                "overloaded",
                "the collector is busy writing earlier batches; retry after the delay in Retry-After",
                None,
                headers={"Retry-After": self._retry_after},
            ) from None
        try:
            yield
        finally:
            self._semaphore.release()


def ingest_gate(request: Request) -> IngestGate:
    gate = getattr(request.app.state, "ingest_gate", None)
    if gate is None:
        gate = request.app.state.ingest_gate = IngestGate(request.app.state.settings)
    return gate  # type: ignore[no-any-return]
