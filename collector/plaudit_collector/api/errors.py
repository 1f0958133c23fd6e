"""Every error as ``{"error": {"code", "message", "field"}}`` with its status, whoever raised it."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from plaudit_collector.errors import ApiError, error_body, validation_error
from plaudit_collector.store.db import is_unavailable
from plaudit_collector.wire import clean


def _reply(
    status: int, code: str, message: str, field: str | None, headers: dict[str, str] | None = None
) -> JSONResponse:
    # Messages may quote what the client sent; a lone surrogate in one must not break the reply itself.
    body = error_body(code, clean(message), clean(field) if field else field)
    return JSONResponse(body, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return _reply(exc.status, exc.code, exc.message, exc.field, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        err = validation_error(exc)
        return _reply(422, err.code, err.message, err.field)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _reply(exc.status_code, code, str(exc.detail), None)

    @app.exception_handler(SQLAlchemyError)
    async def _database(request: Request, exc: SQLAlchemyError) -> JSONResponse:
        """The database is down or busy: not the request's fault, so 503 and a delay to retry after, on
        every route (OTLP exporters and the SDK's feedback client both retry it). Anything else is a bug."""
        if not is_unavailable(exc):
            raise exc
        retry_after = str(max(1, request.app.state.settings.retry_after_seconds))
        message = "the database is unreachable; retry after the delay in Retry-After"
        return _reply(503, "unavailable", message, None, {"Retry-After": retry_after})
