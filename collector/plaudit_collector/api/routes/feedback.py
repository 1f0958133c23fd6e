"""Feedback ingest: one item or a batch, validated whole before anything is stored, and preferences.
Reads, history, deletes and the orphans report are in :mod:`feedback_items`.

``POST /v1/feedback`` accepts either an API key (``Authorization: Bearer``) or, from a browser, a
feedback token in the ``X-Plaudit-Feedback-Token`` header: the token's project is used and every
item must lie within its scope (403 otherwise).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from plaudit.semconv import PROJECT_HEADER
from plaudit_collector.api import deps, tokens
from plaudit_collector.api.deps import DatabaseDep, ProjectDep, SettingsDep, read_json
from plaudit_collector.api.fast_json import FastJSONResponse
from plaudit_collector.errors import ApiError, validation_error
from plaudit_collector.schemas import FeedbackBatch, FeedbackIn, PreferenceIn
from plaudit_collector.store import feedback_writes, signing_keys

router = APIRouter(tags=["feedback"])

TOKEN_HEADER = "X-Plaudit-Feedback-Token"

ACCEPTED: dict[int | str, dict[str, Any]] = {
    201: {
        "description": "Stored and committed",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/FeedbackAccepted"}}},
    }
}
"""The reply, documented by reference (see ``app._document_feedback_models``): a response model would have
FastAPI build a validator for it when the route is defined, at launch, and validate every reply."""


@dataclass(frozen=True)
class Principal:
    """Who is writing: a project (from the API key or the token) and, for a token, what it allows."""

    project: str
    scope: tokens.TokenScope | None = None


async def signing_secret(request: Request) -> bytes:
    """The feedback-token secret, loaded once per app (settings, else the database's shared one)."""
    cached = getattr(request.app.state, "feedback_secret", None)
    if cached is None:
        settings = request.app.state.settings
        cached = await run_in_threadpool(
            signing_keys.load_secret, request.app.state.db, getattr(settings, "secret", None)
        )
        request.app.state.feedback_secret = cached
    return cached  # type: ignore[no-any-return]


async def feedback_principal(request: Request) -> Principal:
    """A feedback token when one is sent (no API key needed), else the API key's project."""
    token = request.headers.get(TOKEN_HEADER)
    if token is not None:
        try:
            scope = tokens.verify(token, await signing_secret(request))
        except tokens.TokenError as exc:
            raise ApiError(exc.status, exc.code, exc.message, TOKEN_HEADER) from None
        return Principal(scope.project, scope)
    if request.app.state.settings.auth or request.headers.get(PROJECT_HEADER):
        # a key lookup, or a project's first write, reads the database: not on the event loop
        project = await run_in_threadpool(deps.get_project, request)
    else:
        project = deps.get_project(request)
    return Principal(str(project))


PrincipalDep = Annotated[Principal, Depends(feedback_principal)]


def parse_items(doc: Any) -> tuple[list[FeedbackIn], bool]:
    """Validate a decoded body; the first problem becomes a 4xx naming the field. Returns (items, was a batch)."""
    if not isinstance(doc, dict):
        raise ApiError(422, "invalid_field", 'body must be a JSON object (one item or {"items": [...]})', "body")
    batch = "items" in doc
    try:
        items = FeedbackBatch.model_validate(doc).items if batch else [FeedbackIn.model_validate(doc)]
    except ValidationError as exc:
        raise validation_error(exc) from None
    for index, item in enumerate(items):
        problem = item.problem()
        if problem is not None:
            field = f"items[{index}].{problem[0]}" if batch else problem[0]
            raise ApiError(422, "invalid_field", f"{field}: {problem[1]}", field)
    return items, batch


async def _store(db: Any, project: str, items: list[dict[str, Any]], batch: bool) -> JSONResponse:
    try:
        stored = await run_in_threadpool(feedback_writes.store_feedback, db, project, items)
    except (feedback_writes.FeedbackRejected, feedback_writes.IdempotencyConflict) as exc:
        field = f"items[{exc.index}].{exc.field}" if batch else exc.field
        if isinstance(exc, feedback_writes.IdempotencyConflict):
            raise ApiError(409, "idempotency_conflict", f"{field}: {exc.message}", field) from None
        raise ApiError(422, "score_config_violation", f"{field}: {exc.message}", field) from None
    return FastJSONResponse({"ids": [row["id"] for row in stored], "items": stored}, status_code=201)


def _within_token(scope: tokens.TokenScope, items: list[dict[str, Any]], batch: bool) -> None:
    """Hold token-posted items to the token: its target and names, its author (or, for a token minted
    without one, a single author per request), and idempotency keys of its own (see :func:`token_key`)."""
    authors: set[str] = set()
    for index, item in enumerate(items):
        prefix = f"items[{index}]." if batch else ""
        try:
            scope.check(prefix, item)
        except tokens.TokenError as exc:
            raise ApiError(exc.status, exc.code, exc.message, exc.field) from None
        if scope.author is not None:
            item["author"] = scope.author
        elif item.get("author") is not None:
            authors.add(item["author"])
            if len(authors) > 1:
                message = f"{prefix}author: a feedback token's request speaks for one author"
                raise ApiError(403, "out_of_scope", message, f"{prefix}author")
        if item.get("idempotency_key") is not None:
            item["idempotency_key"] = token_key(item)


def token_key(item: dict[str, Any]) -> str:
    """The stored form of an idempotency key sent with a feedback token: bound to the item's target, name
    and author, so a token can neither read another row by naming its key nor claim a key that the app's
    backend (or a producer's telemetry) will use."""
    parts = [item.get(k) for k in ("trace_id", "span_id", "session_id", "name", "author", "idempotency_key")]
    return "tok-" + hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:40]


@router.post(
    "/v1/feedback",
    status_code=201,
    response_model=None,
    responses=ACCEPTED,
    summary="Attach feedback to spans, traces or sessions",
    openapi_extra={
        "parameters": [
            {
                "name": TOKEN_HEADER,
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
                "description": "A feedback token from POST /v1/feedback-tokens, instead of an API key (browsers).",
            }
        ],
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
        },
    },
)
async def post_feedback(request: Request, who: PrincipalDep) -> Any:
    """Store every item or none; 201 means committed. Retried items with the same ``idempotency_key``
    return the item stored the first time; a key already used for another target, name or author is a 409.
    An item with only a comment or a correction adds it to its author's current vote on that target.

    The database and settings are read from the app here, not through (thread-pool) dependencies: the one
    hop a request makes to the thread pool is the write itself."""
    state = request.app.state
    items, batch = parse_items(await read_json(request, state.settings.max_feedback_bytes))
    dumped = [item.model_dump() for item in items]
    if who.scope is not None:
        _within_token(who.scope, dumped, batch)
    return await _store(state.db, who.project, dumped, batch)


@router.post(
    "/v1/preferences",
    status_code=201,
    response_model=None,
    responses=ACCEPTED,
    summary="Record a pairwise preference",
)
async def post_preference(request: Request, db: DatabaseDep, settings: SettingsDep, project: ProjectDep) -> Any:
    """``{"a": {"trace_id", "span_id"} | {"ref"}, "b": ..., "winner": "a"|"b"|"tie", "name": ...}``;
    stored as one feedback row of kind ``preference`` (A in trace_id/span_id, B in other_*)."""
    doc = await read_json(request, settings.max_feedback_bytes)
    try:
        pref = PreferenceIn.model_validate(doc)
    except ValidationError as exc:
        raise validation_error(exc) from None
    sides: list[tuple[str | None, str | None]] = []
    for label, side in (("a", pref.a), ("b", pref.b)):
        try:
            trace_id, span_id = side.ids()
        except ValueError as exc:
            raise ApiError(422, "invalid_field", f"{label}.ref: {exc}", f"{label}.ref") from None
        if trace_id is None:
            raise ApiError(422, "invalid_field", f"{label}.trace_id: each side needs a trace_id or a ref", label)
        sides.append((trace_id, span_id))
    item = FeedbackIn(
        trace_id=sides[0][0],
        span_id=sides[0][1],
        other_trace_id=sides[1][0],
        other_span_id=sides[1][1],
        name=pref.name,
        kind="preference",
        value=pref.winner,
        comment=pref.comment,
        source=pref.source,
        author=pref.author,
        metadata=pref.metadata,
        idempotency_key=pref.idempotency_key,
    )
    problem = item.problem()
    if problem is not None:
        raise ApiError(422, "invalid_field", problem[1], "b")
    return await _store(db, project, [item.model_dump()], False)
