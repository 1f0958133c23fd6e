"""Stored feedback: lists with history, one item, deletes and the orphans report."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from plaudit_collector.api.deps import DatabaseDep, ProjectDep, RowId
from plaudit_collector.errors import ApiError
from plaudit_collector.store import feedback_reads, feedback_writes

router = APIRouter(tags=["feedback"])


@router.get("/v1/feedback", summary="List feedback")
async def list_feedback(
    db: DatabaseDep,
    project: ProjectDep,
    trace_id: Annotated[str | None, Query(max_length=32)] = None,
    span_id: Annotated[str | None, Query(max_length=16)] = None,
    session_id: Annotated[str | None, Query(max_length=200)] = None,
    name: Annotated[str | None, Query(max_length=200)] = None,
    author: Annotated[str | None, Query(max_length=200)] = None,
    history: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> Any:
    """Current feedback matching the filters, newest first; ``history=true`` adds replaced and deleted rows."""
    return await run_in_threadpool(
        lambda: feedback_reads.list_feedback(
            db,
            project,
            trace_id=trace_id.lower() if trace_id else None,
            span_id=span_id.lower() if span_id else None,
            session_id=session_id,
            name=name,
            author=author,
            history=history,
            limit=limit,
            offset=offset,
        )
    )


@router.get("/v1/feedback/orphans", summary="Feedback whose span never arrived")
async def orphans(
    db: DatabaseDep,
    project: ProjectDep,
    older_than: Annotated[float, Query(ge=0, le=365 * 24 * 3600, description="seconds; skip newer feedback")] = 0.0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> Any:
    """Feedback kept for spans that are not (yet) stored. It joins its span as soon as that lands."""
    return await run_in_threadpool(
        lambda: feedback_reads.find_orphans(db, project, older_than=older_than, limit=limit, offset=offset)
    )


@router.get("/v1/feedback/{feedback_id}", summary="One feedback item")
async def get_feedback(feedback_id: RowId, db: DatabaseDep, project: ProjectDep) -> Any:
    found = await run_in_threadpool(feedback_reads.get_feedback, db, project, feedback_id)
    if found is None:
        raise ApiError(404, "not_found", f"no feedback with id {feedback_id}", "feedback_id")
    return found


@router.delete("/v1/feedback/{feedback_id}", summary="Delete one feedback item")
async def delete_feedback(feedback_id: RowId, db: DatabaseDep, project: ProjectDep) -> Any:
    """The row is kept for audit with ``deleted_at`` set and no longer counts anywhere."""
    found = await run_in_threadpool(feedback_writes.delete_feedback, db, project, feedback_id)
    if found is None:
        raise ApiError(404, "not_found", f"no feedback with id {feedback_id}", "feedback_id")
    return found
