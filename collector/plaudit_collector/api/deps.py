"""FastAPI dependencies shared by the routes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, Request

from plaudit.semconv import PROJECT_HEADER
from plaudit_collector.errors import ApiError
from plaudit_collector.settings import CollectorSettings
from plaudit_collector.store import projects
from plaudit_collector.store.db import Database


def get_db(request: Request) -> Database:
    return request.app.state.db  # type: ignore[no-any-return]


def get_settings(request: Request) -> CollectorSettings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_project(request: Request) -> str:
    """The project every read and write is scoped to.

    Without auth: the project named in the ``X-Plaudit-Project`` header (the SDK sends it when
    ``configure(project=...)`` or ``PLAUDIT_PROJECT`` is set), created on its first write, else the default.
    With auth: the API key's project; a header naming another project is refused.

    Raises:
        ApiError: 400 ``invalid_project`` for a malformed project name; 401 ``unauthorized`` for a missing,
            unknown or revoked key while auth is on; 403 ``project_mismatch`` when the key belongs to another
            project than the one named.
    """
    cached = getattr(request.state, "plaudit_project", None)
    if cached is not None:
        return str(cached)
    settings: CollectorSettings = request.app.state.settings
    if not settings.auth:
        named = _named_project(request)
        project = named or settings.default_project
        if named and request.method not in ("GET", "HEAD", "OPTIONS"):
            _create_on_first_write(request, named)
    else:
        project = _key_project(request)  # who is asking comes first: no key, no other answer
        named = _named_project(request)
        if named and named != project:
            raise ApiError(
                403,
                "project_mismatch",
                f"this API key belongs to project {project!r}, not {named!r}: use a key of {named!r} "
                f"or stop naming a project",
                PROJECT_HEADER,
            )
    request.state.plaudit_project = project
    return project


def _named_project(request: Request) -> str | None:
    named = request.headers.get(PROJECT_HEADER, "").strip()
    if not named:
        return None
    if not projects.valid_project_name(named):
        raise ApiError(
            400,
            "invalid_project",
            "a project name is 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit",
            PROJECT_HEADER,
        )
    return named


def _create_on_first_write(request: Request, name: str) -> None:
    """Give a project named by its first write a row, so ``plaudit projects list`` shows it (once per process)."""
    known: set[str] | None = getattr(request.app.state, "known_projects", None)
    if known is None:
        known = request.app.state.known_projects = set()
    if name not in known:
        projects.add_project(request.app.state.db, name)
        known.add(name)


def _key_project(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise _unauthorized("an API key is required: send 'Authorization: Bearer <key>'")
    project = projects.resolve_key(request.app.state.db, key.strip())
    if project is None:
        raise _unauthorized("the API key is unknown or revoked")
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
