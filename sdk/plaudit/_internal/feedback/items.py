"""Validate feedback arguments at the call site and build the wire item (no HTTP here, so it imports fast)."""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from typing import Any

from plaudit._internal.feedback.refs import SpanRef

SOURCES = ("human", "end_user", "annotator", "llm_judge", "code")
MAX_COMMENT = 64 * 1024


def build_item(
    ref: SpanRef | str | None,
    name: str,
    value: bool | int | float | str | None,
    *,
    comment: str | None = None,
    correction: str | None = None,
    source: str = "human",
    author: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Validate call-site arguments and build the wire item; raises on wrong arguments only."""
    if isinstance(ref, str):
        ref = SpanRef.parse(ref)
    if not isinstance(ref, SpanRef):
        raise TypeError("ref must be a plaudit.SpanRef or its string form (plaudit.current_ref() gives one)")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise ValueError("name must be a non-empty string of at most 200 characters")
    if value is not None and not isinstance(value, (bool, int, float, str)):
        raise TypeError(f"value must be a bool, number or string, got {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("value must be a finite number (no NaN or Infinity)")
    if value is None and comment is None and correction is None:
        raise ValueError("feedback needs a value, a comment or a correction")
    for field_name, text in (("comment", comment), ("correction", correction)):
        if text is not None and (not isinstance(text, str) or len(text) > MAX_COMMENT):
            raise ValueError(f"{field_name} must be a string of at most {MAX_COMMENT} characters")
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}; got {source!r}")
    if author is not None and not isinstance(author, str):
        raise TypeError("author must be a string")
    if metadata is not None and not isinstance(metadata, Mapping):
        raise TypeError("metadata must be a mapping")
    return {
        "trace_id": ref.trace_id,
        "span_id": ref.span_id,
        "name": name,
        "value": value,
        "comment": comment,
        "correction": correction,
        "source": source,
        "author": author,
        "metadata": dict(metadata) if metadata else None,
        "idempotency_key": idempotency_key or uuid.uuid4().hex,
    }
