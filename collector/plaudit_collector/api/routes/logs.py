"""OTLP/HTTP logs (GenAI content and evaluation events) and a polite metrics endpoint."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from plaudit_collector import pipeline
from plaudit_collector.api.deps import DatabaseDep, ProjectDep, SettingsDep, ingest_gate, read_body
from plaudit_collector.ingest import decode
from plaudit_collector.ingest.batch import IngestBatch

router = APIRouter(tags=["traces"])


@router.post(
    "/v1/logs",
    summary="OTLP/HTTP log export: GenAI events join their spans, evaluation results become feedback",
    responses={400: {"description": "malformed body"}, 413: {"description": "body too large"}},
)
async def post_logs(request: Request, db: DatabaseDep, settings: SettingsDep, project: ProjectDep) -> Response:
    """Records named ``gen_ai.*`` that carry a span context are stored with that span (content events) or as
    feedback (``gen_ai.evaluation.result``); other records are acknowledged and dropped, and the response's
    ``partial_success.error_message`` says how many."""
    content_type = request.headers.get("content-type", "")
    decode.check_media_type(content_type)
    gate = ingest_gate(request)
    # The body is read whole before a slot is taken: a slow sender holds no slot, only its own bytes.
    async with gate.body(request, settings.max_otlp_bytes) as body, gate.slot():

        def ingest() -> IngestBatch:
            return pipeline.ingest_logs(
                db,
                project,
                body,
                content_type=content_type,
                encoding=request.headers.get("content-encoding"),
                limit=settings.max_otlp_bytes,
            )

        batch = await run_in_threadpool(ingest)
    payload, media = decode.encode_logs_response(content_type, batch.rejected, batch.message)
    return Response(content=payload, media_type=media)


@router.post("/v1/metrics", summary="OTLP/HTTP metrics: accepted and discarded", include_in_schema=False)
async def post_metrics(request: Request, settings: SettingsDep, project: ProjectDep) -> Response:
    """Metrics are not stored; answering with a valid empty response keeps exporters pointed here quiet."""
    content_type = request.headers.get("content-type", "")
    decode.check_media_type(content_type)
    await read_body(request, settings.max_otlp_bytes)
    payload, media = decode.encode_metrics_response(content_type)
    return Response(content=payload, media_type=media)
