"""One error shape for every endpoint: ``{"error": {"code", "message", "field"}}``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException


class ApiError(Exception):
    """A client error with the HTTP status, a machine code, a readable message and the field at fault."""

    def __init__(
        self, status: int, code: str, message: str, field: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers


def error_body(code: str, message: str, field: str | None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field}}


def field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """``("body", "items", 3, "value")`` → ``items[3].value``; query/path prefixes dropped."""
    parts: list[str] = []
    for part in loc:
        if part in ("body", "query", "path", "header") and not parts:
            continue
        if isinstance(part, int):
            parts.append(f"[{part}]")
        elif parts:
            parts.append(f".{part}")
        else:
            parts.append(str(part))
    return "".join(parts) or "body"


def validation_error(exc: ValidationError | RequestValidationError, prefix: tuple[Any, ...] = ()) -> ApiError:
    first = exc.errors()[0]
    loc = tuple(first.get("loc", ()))
    # Drop pydantic's union-member tags such as "bool" or "function-after[...]" from the path.
    loc = tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p in {"bool", "int", "float", "str"})))
    field = field_path(prefix + loc)
    message = first.get("msg", "invalid value")
    return ApiError(422, "invalid_field", f"{field}: {message}", field)


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message, exc.field), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        err = validation_error(exc)
        return JSONResponse(error_body(err.code, err.message, err.field), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(error_body(code, str(exc.detail), None), status_code=exc.status_code)
