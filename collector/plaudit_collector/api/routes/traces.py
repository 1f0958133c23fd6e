"""OTLP/HTTP trace ingest (the reads are in :mod:`trace_reads`, built after the collector starts)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from plaudit_collector import pipeline
from plaudit_collector.api.deps import DatabaseDep, ProjectDep, SettingsDep, ingest_gate
from plaudit_collector.ingest import decode
from plaudit_collector.ingest.batch import IngestBatch

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
