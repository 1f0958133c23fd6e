"""Streaming JSONL exports: spans with their feedback, a fine-tuning set, preference pairs."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from plaudit_collector import analytics
from plaudit_collector.api.deps import DatabaseDep, ProjectDep
from plaudit_collector.api.query_params import Asked, asked
from plaudit_collector.errors import ApiError

router = APIRouter(tags=["export"])

NDJSON = "application/x-ndjson"
RESPONSES = {200: {"description": "one JSON object per line", "content": {NDJSON: {"schema": {"type": "string"}}}}}


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
    db: DatabaseDep, project: ProjectDep, q: Annotated[Asked, Depends(asked("export_spans"))]
) -> StreamingResponse:
    """Every span with current feedback (trace-level feedback on the root span), one per line."""
    return _respond(analytics.export_spans(db, project, q.filters, q["score"]), "spans.jsonl")


@router.get("/v1/export/finetune", summary="A fine-tuning set from rated and corrected spans", responses=RESPONSES)
def export_finetune(
    db: DatabaseDep, project: ProjectDep, q: Annotated[Asked, Depends(asked("export_finetune"))]
) -> StreamingResponse:
    """Input and output (or the user's correction) of spans whose mean ``score`` is at least ``min_score``
    (at most, when lower is better)."""
    corrections = q["corrections"] is not False
    if q["score"] is None and not corrections:
        raise ApiError(422, "invalid_field", "score: give a score, or keep corrections=true", "score")
    rows = analytics.export_finetune(
        db,
        project,
        q.filters,
        score=q["score"],
        corrections=corrections,
        fmt=q["format"] or "chat",
        **q.options("min_score", "higher_is_better"),
    )
    return _respond(rows, "finetune.jsonl")


@router.get("/v1/export/preferences", summary="Chosen/rejected pairs for reward models and DPO", responses=RESPONSES)
def export_preferences(
    db: DatabaseDep, project: ProjectDep, q: Annotated[Asked, Depends(asked("export_preferences"))]
) -> StreamingResponse:
    """Pairs from pairwise preferences (ties and identical texts skipped) and from ratings of spans with the
    same input: per input its best distinct output against its worst (``pairs=best_worst``) or every pair
    above ``min_margin``, widest first, at most ``max_pairs`` (``pairs=all``)."""
    if q["preference"] is None and q["score"] is None:
        raise ApiError(422, "invalid_field", "preference: give a preference name, a score name, or both", "preference")
    rows = analytics.export_preference_pairs(
        db,
        project,
        q.filters,
        preference=q["preference"],
        score=q["score"],
        **q.options("min_margin", "pairs", "max_pairs", "higher_is_better"),
    )
    return _respond(rows, "preferences.jsonl")
