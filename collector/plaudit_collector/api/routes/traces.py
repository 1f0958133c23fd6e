"""OTLP/HTTP trace ingest and trace reads."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from starlette.concurrency import run_in_threadpool

from plaudit_collector import analytics, pipeline
from plaudit_collector.api.deps import DatabaseDep, ProjectDep, SettingsDep, ingest_gate
from plaudit_collector.api.query_params import Asked, asked
from plaudit_collector.errors import ApiError
from plaudit_collector.ingest import decode
from plaudit_collector.ingest.batch import IngestBatch
from plaudit_collector.store import spans

router = APIRouter(tags=["traces"])


@router.post(
    "/v1/traces",
    summary="OTLP/HTTP trace export (protobuf or JSON, gzip/deflate)",
    responses={
        400: {"description": "malformed body (not retried)"},
        401: {"description": "missing or unknown API key"},
        413: {"description": "body too large"},
        415: {"description": "unsupported Content-Type or Content-Encoding"},
        503: {"description": "busy: retry after Retry-After seconds"},
    },
)
async def post_traces(request: Request, db: DatabaseDep, settings: SettingsDep, project: ProjectDep) -> Response:
    """Store the spans, then answer: a 2xx means committed. Spans with malformed ids are reported in
    ``partial_success`` instead of failing the batch; re-sent spans change nothing."""
    content_type = request.headers.get("content-type", "")
    decode.check_media_type(content_type)
    gate = ingest_gate(request)
    # The body is read whole before a slot is taken: a slow sender holds no slot, only its own bytes.
    async with gate.body(request, settings.max_otlp_bytes) as body, gate.slot():

        def ingest() -> IngestBatch:
            return pipeline.ingest_traces(
                db,
                project,
                body,
                content_type=content_type,
                encoding=request.headers.get("content-encoding"),
                limit=settings.max_otlp_bytes,
            )

        batch = await run_in_threadpool(ingest)
    payload, media = decode.encode_response(content_type, batch.rejected, batch.message)
    return Response(content=payload, media_type=media)


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
