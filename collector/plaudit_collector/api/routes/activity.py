"""Sessions, users and score names: the lists the workspace browses, aggregated and paged by the collector."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from plaudit_collector.api.deps import DatabaseDep, ProjectDep
from plaudit_collector.store import activity, score_names

router = APIRouter(tags=["sessions and users"])

Limit = Annotated[int, Query(ge=1, le=500, description="rows per page")]
Cursor = Annotated[str | None, Query(max_length=100, description="next_cursor of the previous page")]


@router.get("/v1/sessions", summary="Sessions, most recently active first")
async def list_sessions(db: DatabaseDep, project: ProjectDep, limit: Limit = 50, cursor: Cursor = None) -> Any:
    """Per session: its user, traces, spans, errors, first and last start, tokens, cost, and per score name
    the feedback count and mean. ``next_cursor`` pages on (null at the end)."""
    return await run_in_threadpool(activity.list_activity, db, project, "session", limit, cursor)


@router.get("/v1/users", summary="Users, most recently active first")
async def list_users(db: DatabaseDep, project: ProjectDep, limit: Limit = 50, cursor: Cursor = None) -> Any:
    """Per user: traces, sessions, spans, errors, first and last start, tokens, cost, and per score name the
    feedback count and mean. ``next_cursor`` pages on (null at the end)."""
    return await run_in_threadpool(activity.list_activity, db, project, "user", limit, cursor)


@router.get("/v1/scores", summary="Score names in use or configured")
async def list_scores(db: DatabaseDep, project: ProjectDep) -> Any:
    """Every name with current feedback or a score config: count, kind and config, most used first."""
    return await run_in_threadpool(score_names.list_scores, db, project)
