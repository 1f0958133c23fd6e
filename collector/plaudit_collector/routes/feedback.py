"""Feedback ingest: one item or a batch, validated whole before anything is stored."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from plaudit_collector import feedback_store
from plaudit_collector.deps import DatabaseDep, ProjectDep, SettingsDep, read_body
from plaudit_collector.errors import ApiError, validation_error
from plaudit_collector.schemas import FeedbackAccepted, FeedbackBatch, FeedbackIn

router = APIRouter(tags=["feedback"])


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a valid JSON number")


def parse_items(body: bytes) -> list[FeedbackIn]:
    """Decode and validate; the first problem becomes a 4xx naming the field."""
    try:
        doc = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "invalid_json", f"body is not valid JSON: {exc}", "body") from None
    if not isinstance(doc, dict):
        raise ApiError(422, "invalid_field", 'body must be a JSON object (one item or {"items": [...]})', "body")
    batch = "items" in doc
    try:
        items = FeedbackBatch.model_validate(doc).items if batch else [FeedbackIn.model_validate(doc)]
    except ValidationError as exc:
        raise validation_error(exc) from None
    for index, item in enumerate(items):
        if item.is_empty():
            field = f"items[{index}].value" if batch else "value"
            raise ApiError(422, "invalid_field", f"{field}: feedback needs a value, a comment or a correction", field)
    return items


@router.post(
    "/v1/feedback",
    status_code=201,
    response_model=FeedbackAccepted,
    summary="Attach feedback to spans or traces",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [
                            {"$ref": "#/components/schemas/FeedbackIn"},
                            {"$ref": "#/components/schemas/FeedbackBatch"},
                        ]
                    }
                }
            },
        }
    },
)
async def post_feedback(request: Request, db: DatabaseDep, settings: SettingsDep, project: ProjectDep) -> Any:
    """Store every item or none; 201 means committed. Retried items with the same ``idempotency_key``
    return the id stored the first time."""
    body = await read_body(request, settings.max_feedback_bytes)
    items = parse_items(body)
    ids = await run_in_threadpool(feedback_store.insert_feedback, db, project, [item.model_dump() for item in items])
    return {"ids": ids}
