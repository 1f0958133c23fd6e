"""Streaming JSONL exports: spans with their feedback, a fine-tuning set, preference pairs."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from plaudit_collector import analytics
from plaudit_collector.api.deps import DatabaseDep, ProjectDep
from plaudit_collector.api.routes.analytics import FiltersDep
from plaudit_collector.errors import ApiError

router = APIRouter(tags=["export"])

NDJSON = "application/x-ndjson"
RESPONSES = {200: {"description": "one JSON object per line", "content": {NDJSON: {"schema": {"type": "string"}}}}}
OptionalName = Annotated[str | None, Query(min_length=1, max_length=200)]


def _respond(rows: Iterator[dict[str, object]], filename: str) -> StreamingResponse:
    chunks = analytics.jsonl(rows)
    # Run the query before the status line goes out: a database error is then an error reply (a 503 when
    # the database is unreachable), not a 200 whose stream is cut.
    first = next(chunks, None)
    return StreamingResponse(
        itertools.chain(() if first is None else (first,), chunks),
        media_type=NDJSON,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/v1/export/spans", summary="Spans with their feedback, as JSON lines", responses=RESPONSES)
def export_spans(
    db: DatabaseDep,
    project: ProjectDep,
    filters: FiltersDep,
    score: Annotated[
        str | None, Query(min_length=1, max_length=200, description="only feedback with this name")
    ] = None,
) -> StreamingResponse:
    """Every span with current feedback (trace-level feedback on the root span), one per line."""
    return _respond(analytics.export_spans(db, project, filters, score), "spans.jsonl")


@router.get("/v1/export/finetune", summary="A fine-tuning set from rated and corrected spans", responses=RESPONSES)
def export_finetune(
    db: DatabaseDep,
    project: ProjectDep,
    filters: FiltersDep,
    score: Annotated[str | None, Query(min_length=1, max_length=200, description="rating that selects spans")] = None,
    min_score: Annotated[float | None, Query(ge=-1e12, le=1e12, description="keep spans rated at least this")] = None,
    corrections: Annotated[
        bool, Query(description="include corrected spans, output replaced by the correction")
    ] = True,
    format: Annotated[Literal["chat", "plain"], Query(description="chat messages or input/output")] = "chat",
) -> StreamingResponse:
    """Input and output (or the user's correction) of spans whose mean ``score`` is at least ``min_score``."""
    if score is None and not corrections:
        raise ApiError(422, "invalid_field", "score: give a score, or keep corrections=true", "score")
    rows = analytics.export_finetune(
        db, project, filters, score=score, min_score=min_score, corrections=corrections, fmt=format
    )
    return _respond(rows, "finetune.jsonl")


@router.get("/v1/export/preferences", summary="Chosen/rejected pairs for reward models and DPO", responses=RESPONSES)
def export_preferences(
    db: DatabaseDep,
    project: ProjectDep,
    filters: FiltersDep,
    preference: Annotated[
        str | None, Query(min_length=1, max_length=200, description="pairwise feedback name to export")
    ] = None,
    score: Annotated[
        str | None, Query(min_length=1, max_length=200, description="rating: pair spans with the same input")
    ] = None,
    min_margin: Annotated[float, Query(ge=0, le=1e12, description="least mean-score gap for a rating pair")] = 0.0,
) -> StreamingResponse:
    """Pairs from pairwise preferences (ties skipped) and from ratings of spans with the same input."""
    if preference is None and score is None:
        raise ApiError(422, "invalid_field", "preference: give a preference name, a score name, or both", "preference")
    rows = analytics.export_preference_pairs(
        db, project, filters, preference=preference, score=score, min_margin=min_margin
    )
    return _respond(rows, "preferences.jsonl")
