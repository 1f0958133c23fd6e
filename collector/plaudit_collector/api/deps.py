"""FastAPI dependencies shared by the routes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, Path, Request

from plaudit.semconv import PROJECT_HEADER
from plaudit_collector import vocabulary
from plaudit_collector.errors import ApiError
from plaudit_collector.settings import CollectorSettings
from plaudit_collector.store import projects
from plaudit_collector.store.db import Database
from plaudit_collector.wire import load_json, text_problem

JSON_MEDIA = "application/json"
MAX_ROW_ID = 2**31 - 1
"""Row ids are 32-bit on PostgreSQL; a larger id in a path can match nothing and is refused up front."""
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="a row id")]


async def get_db(request: Request) -> Database:
    """Async, like :func:`get_settings`: FastAPI runs a plain-function dependency in the thread pool, a hop
    that costs more than reading an attribute."""
    return request.app.state.db  # type: ignore[no-any-return]


async def get_settings(request: Request) -> CollectorSettings:
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
        refuse_unknown_query(request)
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


async def check_parameters(request: Request) -> None:
    """Every route's query and path parameters (names and values): a NUL or a lone surrogate is a 422
    naming the parameter, before any of them reaches a query (see :mod:`plaudit_collector.wire`).

    Async because it only reads the URL: a plain function would cost every request a hop to the thread pool."""
    for name, value in [*request.path_params.items(), *request.query_params.multi_items()]:
        problem = text_problem(name)
        if problem is not None:
            raise ApiError(422, "invalid_field", f"query: a parameter name {problem}", "query")
        problem = text_problem(value) if isinstance(value, str) else None
        if problem is not None:
            raise ApiError(422, "invalid_field", f"{name}: {problem}", name)
    if not request.app.state.settings.auth:  # with auth, once the caller is known (get_project)
        refuse_unknown_query(request)


def refuse_unknown_query(request: Request) -> None:
    """422 naming a query parameter a ``/v1/`` route does not take: a misspelt filter must not widen the
    answer silently."""
    route = request.scope.get("route")
    if route is not None and request.query_params and request.url.path.startswith("/v1/"):
        known = _query_names(route)
        for name in request.query_params:
            if name not in known:
                message = vocabulary.unknown_message("query parameter", name, known)
                raise ApiError(422, "unknown_parameter", message, name[:100])


_KNOWN: dict[int, frozenset[str]] = {}


def _query_names(route: Any) -> frozenset[str]:
    """The query parameters a route declares, its dependencies' included (worked out once per route)."""
    known = _KNOWN.get(id(route))
    if known is None:
        names: set[str] = set()
        stack = [route.dependant]
        while stack:
            dependant = stack.pop()
            names.update(field.alias for field in dependant.query_params)
            stack.extend(dependant.dependencies)
        known = _KNOWN[id(route)] = frozenset(names)
    return known


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "body_too_large", f"request body exceeds {limit} bytes", "body")


async def read_body(request: Request, limit: int, on_chunk: Callable[[int], None] | None = None) -> bytes:
    """Read the whole body: 413 as soon as it passes ``limit`` bytes, 408 when it has not fully arrived
    within the settings' ``body_timeout_seconds`` (a slow client costs its own request only).
    ``on_chunk(size)`` is called as each chunk arrives, and may refuse it by raising."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    timeout = request.app.state.settings.body_timeout_seconds
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    chunks: list[bytes] = []
    size = 0
    stream = request.stream().__aiter__()
    while True:
        try:
            chunk = await asyncio.wait_for(stream.__anext__(), max(0.0, deadline - loop.time()))
        except StopAsyncIteration:
            break
        except (asyncio.TimeoutError, TimeoutError):
            raise ApiError(
                408,
                "request_timeout",
                f"the request body did not arrive within {timeout:g} s",
                "body",
                headers={"Connection": "close"},
            ) from None
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        if on_chunk is not None:
            on_chunk(len(chunk))
        chunks.append(chunk)
    return b"".join(chunks)


def require_json(request: Request) -> None:
    """Write routes take JSON only: a form or ``text/plain`` body would make a cross-site request "simple"
    (sent by any web page without a CORS preflight), so anything else is a 415."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != JSON_MEDIA:
        raise ApiError(415, "unsupported_media_type", f"Content-Type must be {JSON_MEDIA}", "Content-Type")


async def read_json(request: Request, limit: int) -> Any:
    """The body of a JSON write route, decoded under :func:`plaudit_collector.wire.load_json`'s rules:
    415 for another content type, 413/408 as :func:`read_body`, 400 for malformed or too deeply nested JSON."""
    require_json(request)
    return load_json(await read_body(request, limit))


class IngestGate:
    """Bounds OTLP ingest so that overload becomes a 503 with ``Retry-After`` (which OTLP exporters honour):
    the bytes of request bodies held at once (counted as they arrive, so a slow sender holds only what it
    has sent) and the requests decoded and written at once (taken only once a body is whole)."""

    def __init__(self, settings: CollectorSettings) -> None:
        self._semaphore = asyncio.Semaphore(max(1, settings.max_concurrent_ingests))
        self._wait = max(0.0, settings.ingest_wait_seconds)
        self._retry_after = str(max(1, settings.retry_after_seconds))
        self._budget = max(settings.max_buffered_bytes, settings.max_otlp_bytes)
        self._buffered = 0

    def _busy(self, message: str) -> ApiError:
        return ApiError(503, "overloaded", message, None, headers={"Retry-After": self._retry_after})

    @asynccontextmanager
    async def body(self, request: Request, limit: int) -> AsyncIterator[bytes]:
        """The request's body, counted against the memory budget until the block ends."""
        held = 0

        def take(size: int) -> None:
            nonlocal held
            if self._buffered + size > self._budget:
                raise self._busy("the collector holds as many request bodies as it may; retry after Retry-After")
            self._buffered += size
            held += size

        try:
            yield await read_body(request, limit, take)
        finally:
            self._buffered -= held

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        try:
            await asyncio.wait_for(self._semaphore.acquire(), timeout=self._wait or 0.001)
        except (asyncio.TimeoutError, TimeoutError):
            raise self._busy(
                "the collector is busy writing earlier batches; retry after the delay in Retry-After"
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
