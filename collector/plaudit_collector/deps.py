"""FastAPI dependencies shared by the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from plaudit_collector.db import Database
from plaudit_collector.errors import ApiError
from plaudit_collector.settings import CollectorSettings


def get_db(request: Request) -> Database:
    return request.app.state.db  # type: ignore[no-any-return]


def get_settings(request: Request) -> CollectorSettings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_project(request: Request) -> str:
    """The project every read and write is scoped to."""
    return request.app.state.settings.default_project  # type: ignore[no-any-return]


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
