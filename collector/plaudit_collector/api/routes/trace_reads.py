"""Trace reads: one trace with its spans and feedback, and the trace search."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from starlette.concurrency import run_in_threadpool

from plaudit_collector import analytics
from plaudit_collector.api.deps import DatabaseDep, ProjectDep
from plaudit_collector.api.query_params import Asked, asked
from plaudit_collector.errors import ApiError
from plaudit_collector.store import spans

router = APIRouter(tags=["traces"])

TraceId = Annotated[str, Path(pattern=r"^[0-9a-fA-F]{32}$", description="32 hex characters")]


@router.get("/v1/traces/{trace_id}", summary="One trace with its spans and their feedback")
def get_trace(trace_id: TraceId, db: DatabaseDep, project: ProjectDep) -> dict[str, Any]:
    trace = spans.get_trace(db, project, trace_id.lower())
    if trace is None:
        raise ApiError(404, "not_found", f"trace {trace_id} not found", "trace_id")
    return trace


SEARCH = (
    "q",
    "status",
    "has_feedback",
    "missing_feedback",
    "score",
    "min_score",
    "max_score",
    "min_duration_ms",
    "max_duration_ms",
    "min_tokens",
    "max_tokens",
    "sort",
    "limit",
    "cursor",
    "higher_is_better",
)


@router.get("/v1/traces", summary="Search traces: filters, text, feedback, score, latency; newest first")
async def search_traces(
    db: DatabaseDep, project: ProjectDep, q: Annotated[Asked, Depends(asked("traces"))]
) -> dict[str, Any]:
    """``{"traces": [...], "next_cursor": ...}``: each trace with its root span's name, model, variant, user,
    duration, status (ERROR when any span failed) and a feedback summary per name. Pass ``next_cursor`` back
    as ``cursor`` for the next page."""
    return await run_in_threadpool(analytics.search_traces, db, project, q.filters, **q.options(*SEARCH))
