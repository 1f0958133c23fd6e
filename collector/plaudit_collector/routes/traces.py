"""OTLP/HTTP trace ingest and trace reads."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from plaudit_collector import otlp, span_store
from plaudit_collector.deps import DatabaseDep, ProjectDep, SettingsDep, read_body
from plaudit_collector.errors import ApiError

router = APIRouter(tags=["traces"])


@router.post(
    "/v1/traces",
    summary="OTLP/HTTP trace export (protobuf or JSON, gzip/deflate)",
    responses={400: {"description": "malformed body"}, 413: {"description": "body too large"}},
)
async def post_traces(request: Request, db: DatabaseDep, settings: SettingsDep, project: ProjectDep) -> Response:
    content_type = request.headers.get("content-type", "")
    body = await read_body(request, settings.max_otlp_bytes)

    def ingest() -> None:
        raw = otlp.decompress(body, request.headers.get("content-encoding"), settings.max_otlp_bytes)
        rows = span_store.span_rows(otlp.parse_request(raw, content_type), project)
        span_store.insert_spans(db, rows)

    await run_in_threadpool(ingest)
    payload, media = otlp.encode_response(content_type)
    return Response(content=payload, media_type=media)


@router.post("/v1/metrics", include_in_schema=False)
@router.post("/v1/logs", include_in_schema=False)
async def post_other_signals(request: Request) -> Response:
    """Accept and ignore other OTLP signals so exporters pointed at us do not log errors."""
    await request.body()
    if request.headers.get("content-type", "").startswith(otlp.JSON):
        return Response(content=b"{}", media_type=otlp.JSON)
    return Response(content=b"", media_type=otlp.PROTOBUF)


TraceId = Annotated[str, Path(pattern=r"^[0-9a-fA-F]{32}$", description="32 hex characters")]


@router.get("/v1/traces/{trace_id}", summary="One trace with its spans and their feedback")
def get_trace(trace_id: TraceId, db: DatabaseDep, project: ProjectDep) -> dict[str, Any]:
    trace = span_store.get_trace(db, project, trace_id.lower())
    if trace is None:
        raise ApiError(404, "not_found", f"trace {trace_id} not found", "trace_id")
    return trace


@router.get("/v1/traces", summary="Recent traces, newest first")
def list_traces(
    db: DatabaseDep,
    project: ProjectDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    return span_store.list_traces(db, project, limit, offset)
