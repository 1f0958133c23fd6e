"""Feedback tokens: the app's backend (with its API key) mints one per answer; the browser rates with it.

CORS for ``/v1/feedback`` (the only route a token opens) is off unless origins are configured
(``PLAUDIT_FEEDBACK_CORS_ORIGINS``), so no other page can post with a leaked token by default.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from pydantic import ValidationError
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from plaudit_collector.api import tokens
from plaudit_collector.api.deps import ProjectDep, read_body
from plaudit_collector.api.routes.feedback import TOKEN_HEADER, signing_secret
from plaudit_collector.errors import ApiError, validation_error
from plaudit_collector.schemas import FeedbackTokenIn, parse_ref

router = APIRouter(tags=["feedback"])

MAX_TOKEN_REQUEST_BYTES = 64 * 1024
CORS_PATHS = ("/v1/feedback",)


@router.post(
    "/v1/feedback-tokens",
    status_code=201,
    summary="Mint a feedback token for a browser",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/FeedbackTokenIn"}}},
        }
    },
)
async def mint_token(request: Request, project: ProjectDep) -> Any:
    """A signed token letting its holder post feedback, without an API key, on one span (or a trace and
    its spans, or a session), for the named scores only, until it expires (``ttl`` seconds)."""
    body = await read_body(request, MAX_TOKEN_REQUEST_BYTES)
    try:
        grant = FeedbackTokenIn.model_validate(json.loads(body))
    except ValueError as exc:
        if isinstance(exc, ValidationError):
            raise validation_error(exc) from None
        raise ApiError(400, "invalid_json", f"body is not valid JSON: {exc}", "body") from None
    trace_id, span_id = grant.trace_id, grant.span_id
    if grant.ref is not None:
        if trace_id is not None or span_id is not None:
            raise ApiError(422, "invalid_field", "ref: give ref or trace_id/span_id, not both", "ref")
        try:
            trace_id, span_id = parse_ref(grant.ref)
        except ValueError as exc:
            raise ApiError(422, "invalid_field", f"ref: {exc}", "ref") from None
    if (trace_id is None) == (grant.session_id is None):
        raise ApiError(422, "invalid_field", "trace_id: give a trace_id/span_id (or ref) or a session_id", "trace_id")
    scope = tokens.TokenScope(
        project=project,
        trace_id=trace_id,
        span_id=span_id,
        session_id=grant.session_id,
        names=tuple(grant.names),
        author=grant.author,
        expires_at=int(time.time()) + grant.ttl,
    )
    return {
        "token": tokens.sign(scope, await signing_secret(request)),
        "header": TOKEN_HEADER,
        "expires_at": datetime.fromtimestamp(scope.expires_at, tz=timezone.utc).isoformat().replace("+00:00", "Z"),
        "trace_id": trace_id,
        "span_id": span_id,
        "session_id": grant.session_id,
        "names": list(scope.names),
        "author": grant.author,
    }


class FeedbackCors:
    """CORS on the token-authenticated feedback route only; every other path passes straight through."""

    def __init__(self, app: ASGIApp, origins: list[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=origins,
            allow_methods=["POST", "OPTIONS"],
            allow_headers=["content-type", TOKEN_HEADER.lower()],
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path") in CORS_PATHS:
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def install_cors(app: FastAPI, origins: list[str] | tuple[str, ...]) -> None:
    """Answer browsers from ``origins`` (``["*"]`` for any) on the feedback route; nothing when empty."""
    if origins:
        app.add_middleware(FeedbackCors, origins=list(origins))
