"""Feedback tokens: the app's backend (with its API key) mints one per answer; the browser rates with it.

CORS for ``POST /v1/feedback`` (the only request a token opens) is off unless origins are configured
(``PLAUDIT_FEEDBACK_CORS_ORIGINS``), so no other page can post with a leaked token by default; reads of
``/v1/feedback`` never get CORS headers, so no web page can read comments and authors through a browser.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from plaudit_collector.api import tokens
from plaudit_collector.api.deps import DatabaseDep, ProjectDep, read_json
from plaudit_collector.api.routes.feedback import TOKEN_HEADER, signing_secret
from plaudit_collector.errors import ApiError, validation_error
from plaudit_collector.schemas import FeedbackTokenIn, parse_ref

router = APIRouter(tags=["feedback"])

MAX_TOKEN_REQUEST_BYTES = 64 * 1024
CORS_PATH = "/v1/feedback"
CORS_METHOD = "POST"


@router.post(
    "/v1/feedback-tokens",
    status_code=201,
    response_model=None,
    summary="Mint a feedback token for a browser",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/FeedbackTokenIn"}}},
        }
    },
)
async def mint_token(request: Request, db: DatabaseDep, project: ProjectDep) -> Any:
    """A signed token letting its holder post feedback, without an API key, on one span (or a trace and
    its spans, or a session), for the named scores only, until it expires (``ttl`` seconds). No token is
    minted while the database is unreachable (503): it could not store what the token is for."""
    doc = await read_json(request, MAX_TOKEN_REQUEST_BYTES)
    try:
        grant = FeedbackTokenIn.model_validate(doc)
    except ValidationError as exc:
        raise validation_error(exc) from None
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
    await run_in_threadpool(db.check)
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
    """CORS on ``POST /v1/feedback`` (and its preflight) only, told apart by method as well as path: every
    other request, a ``GET /v1/feedback`` included, passes straight through without CORS headers."""

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
        if scope["type"] == "http" and scope.get("path") == CORS_PATH and _posts(scope):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def _posts(scope: Scope) -> bool:
    """A POST, or the preflight of one."""
    if scope["method"] == CORS_METHOD:
        return True
    if scope["method"] != "OPTIONS":
        return False
    for name, value in scope.get("headers", ()):
        if name == b"access-control-request-method":
            return value.decode("latin-1").strip().upper() == CORS_METHOD
    return False


def install_cors(app: FastAPI, origins: list[str] | tuple[str, ...]) -> None:
    """Answer browsers from ``origins`` (``["*"]`` for any) on ``POST /v1/feedback``; nothing when empty."""
    if origins:
        app.add_middleware(FeedbackCors, origins=list(origins))
