"""How ``plaudit.Client`` keyword arguments become query parameters: the shared filters (the same names in
every question, mirroring the collector's query vocabulary) and the rules for lists, mappings and times."""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

FILTERS: dict[str, str] = {
    "start": "from",
    "end": "to",
    "span_name": "span_name",
    "span_kind": "span_kind",
    "tags": "tag",
    "metadata": "metadata",
    "where": "where",
    "source": "source",
    "author": "author",
}
"""The filters every question takes: keyword argument → query parameter. They mirror the collector's query
vocabulary (``GET /v1/query-model``); a test keeps the two equal."""


def encode(name: str, value: Any) -> list[tuple[str, str]]:
    """One keyword's value as query parameters: lists repeat, mappings become ``key=value``."""
    if value is None:
        return []
    if isinstance(value, bool):
        return [(name, "true" if value else "false")]
    if isinstance(value, datetime):
        return [(name, value.isoformat())]
    if isinstance(value, Mapping):
        return [(name, f"{k}={'' if v is None else v}") for k, v in value.items()]
    if isinstance(value, (list, tuple, set, frozenset)):
        return [(name, str(v)) for v in value]
    return [(name, str(value))]


def many(values: str | Sequence[str] | None) -> list[str]:
    """One name or several, as a list (``group_by="model"`` or ``group_by=["model", "variant"]``)."""
    if values is None:
        return []
    return [values] if isinstance(values, str) else list(values)


def params_of(method: str, options: Mapping[str, Any], filters: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Query parameters from a method's options (already named as the collector names them) and filters.

    Raises:
        TypeError: for a keyword argument no question takes, naming the close matches.
    """
    params: list[tuple[str, str]] = []
    for name, value in options.items():
        params += encode(name, value)
    for name, value in filters.items():
        if name not in FILTERS:
            close = difflib.get_close_matches(name, [*FILTERS, *options], n=3, cutoff=0.6)
            hint = f"; did you mean {' or '.join(close)}?" if close else f"; filters: {', '.join(FILTERS)}"
            raise TypeError(f"{method}() got an unexpected keyword argument {name!r}{hint}")
        params += encode(FILTERS[name], value)
    return params
