"""The one error every stage raises for a bad request: ``ApiError(status, code, message, field)``.

It carries no web framework: ingest, store and analytics raise it, and :mod:`plaudit_collector.api.errors`
turns it into ``{"error": {"code", "message", "field"}}`` with its status.
"""

from __future__ import annotations

from typing import Any


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


def validation_error(exc: Any, prefix: tuple[Any, ...] = ()) -> ApiError:
    """The first problem of a pydantic (or FastAPI request) validation error, as a 422 naming its field."""
    first = exc.errors()[0]
    loc = tuple(first.get("loc", ()))
    # Drop pydantic's union-member tags such as "bool" or "function-after[...]" from the path.
    loc = tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p in {"bool", "int", "float", "str"})))
    field = field_path(prefix + loc)
    message = first.get("msg", "invalid value")
    return ApiError(422, "invalid_field", f"{field}: {message}", field)
