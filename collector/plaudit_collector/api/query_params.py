"""REST query parameters built from the vocabulary: one FastAPI dependency per question.

Each dependency's signature is generated from :data:`plaudit_collector.vocabulary.TERMS` (so OpenAPI lists
exactly the declared parameters with their types, bounds and help), and it refuses a parameter the question
does not accept with a 422 that names it and the close matches.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import Query, Request
from pydantic import Field

from plaudit_collector import vocabulary
from plaudit_collector.analytics.core import Filters, parse_pairs, parse_time
from plaudit_collector.errors import ApiError
from plaudit_collector.vocabulary import Term

MAX_VALUES = 100
"""Most values one repeatable parameter takes."""


@dataclass(frozen=True)
class Asked:
    """A question's parsed parameters: ``values`` by term name (None when not given) and the filters."""

    question: str
    values: dict[str, Any]
    filters: Filters

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def options(self, *names: str) -> dict[str, Any]:
        """The named options that were given, as keyword arguments (absent ones left to the defaults)."""
        return {name: self.values[name] for name in names if self.values.get(name) is not None}


def _annotation(term: Term, required: bool) -> Any:
    text = Annotated[str, Field(min_length=1, max_length=term.max_length)]
    if term.type in ("text", "time"):
        base: Any = text if term.type == "text" else Annotated[str, Field(max_length=40)]
    elif term.type in ("texts", "pairs"):
        base = list[text]  # type: ignore[valid-type]
    elif term.type == "choice":
        base = Literal.__getitem__(term.choices)
    elif term.type == "choices":
        base = list[Literal.__getitem__(term.choices)]  # type: ignore[misc]
    elif term.type == "int":
        base = int
    elif term.type == "float":
        base = float
    elif term.type == "bool":
        base = bool
    else:  # pragma: no cover - the vocabulary test keeps types to this list
        raise ValueError(term.type)
    bounds: dict[str, Any] = {}
    if term.minimum is not None:
        bounds["ge"] = term.minimum
    if term.maximum is not None:
        bounds["le"] = term.maximum
    if term.type == "float":
        bounds["allow_inf_nan"] = False
    if term.repeatable:
        bounds["max_length"] = MAX_VALUES
    return Annotated[base if required else base | None, Query(alias=term.name, description=term.help, **bounds)]


def py_name(name: str) -> str:
    """A term's name as a Python identifier (``from`` → ``from_``)."""
    return name + "_" if name in ("from", "format") else name


def filters_of(values: dict[str, Any]) -> Filters:
    """The shared filters from parsed values (every question takes them)."""
    return Filters(
        start_ns=parse_time(values.get("from"), "from"),
        end_ns=parse_time(values.get("to"), "to"),
        span_names=tuple(values.get("span_name") or ()),
        span_kinds=tuple(values.get("span_kind") or ()),
        tags=tuple(values.get("tag") or ()),
        metadata=parse_pairs(values.get("metadata"), "metadata"),
        where=tuple((k, v or None) for k, v in parse_pairs(values.get("where"), "where")),
        sources=tuple(values.get("source") or ()),
        authors=tuple(values.get("author") or ()),
    )


def check_known(request: Request, question: str, terms: tuple[Term, ...]) -> None:
    """422 for a query parameter ``question`` does not accept, naming it and the close matches."""
    known = {t.name for t in terms}
    for name in request.query_params:
        if name not in known:
            message = vocabulary.unknown_message("query parameter", name, known)
            raise ApiError(422, "unknown_parameter", message, name[:100])


def asked(question: str) -> Callable[..., Any]:
    """The dependency that parses ``question``'s parameters into an :class:`Asked`."""
    terms = vocabulary.terms_for(question)
    params = [inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY, annotation=Request)]
    for t in terms:
        required = t.required(question)
        default = inspect.Parameter.empty if required else None
        annotation = _annotation(t, required)
        params.append(
            inspect.Parameter(py_name(t.name), inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)
        )

    async def dependency(**kwargs: Any) -> Asked:
        request: Request = kwargs.pop("request")
        check_known(request, question, terms)
        values = {t.name: kwargs[py_name(t.name)] for t in terms}
        for name, value in values.items():
            if any("\x00" in v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str)):
                raise ApiError(422, "invalid_field", f"{name}: must not contain NUL characters", name)
        return Asked(question, values, filters_of(values))

    dependency.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    dependency.__name__ = f"{question}_parameters"
    return dependency
