"""Validate feedback arguments at the call site and build the wire item (no HTTP here, so it imports fast)."""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Mapping
from typing import Any

from plaudit._internal.feedback.refs import SpanRef

SOURCES = ("human", "end_user", "annotator", "llm_judge", "code")
SIGNALS = ("copied", "regenerated", "edited", "abandoned", "follow_up")
"""Implicit signals an app reports for its users: stored as ``source="end_user"`` thumbs-like scores."""
WINNERS = ("a", "b", "tie")
UNKNOWN_OUTCOMES = ("unknown", "ongoing")
MAX_COMMENT = 64 * 1024
MAX_METADATA_DEPTH = 32


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
    ref = as_ref(ref)
    item = _common(name, value, comment, correction, source, author, metadata, idempotency_key)
    return {"trace_id": ref.trace_id, "span_id": ref.span_id, **item}


def as_ref(ref: SpanRef | str | None) -> SpanRef:
    """A SpanRef from a SpanRef or its string form; TypeError/ValueError otherwise."""
    if isinstance(ref, str):
        ref = SpanRef.parse(ref)
    if not isinstance(ref, SpanRef):
        raise TypeError("ref must be a plaudit.SpanRef or its string form (plaudit.current_ref() gives one)")
    return ref


def build_session_item(
    session_id: str,
    name: str,
    value: bool | int | float | str | None,
    *,
    comment: str | None = None,
    source: str = "human",
    author: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """A session-level outcome; ``"unknown"``/``"ongoing"`` record that it is not decided (no score)."""
    if not isinstance(session_id, str) or not session_id.strip() or len(session_id) > 200:
        raise ValueError("session_id must be a non-empty string of at most 200 characters")
    item = _common(name, value, comment, None, source, author, metadata, idempotency_key)
    return {"trace_id": None, "span_id": None, "session_id": session_id, **item}


def build_preference(
    ref_a: SpanRef | str,
    ref_b: SpanRef | str,
    winner: str,
    *,
    name: str = "preference",
    comment: str | None = None,
    source: str = "human",
    author: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """A pairwise judgment between two outputs, as one feedback item of kind ``preference``."""
    a, b = as_ref(ref_a), as_ref(ref_b)
    if winner not in WINNERS:
        raise ValueError(f"winner must be 'a', 'b' or 'tie'; got {winner!r}")
    if a == b:
        raise ValueError("a preference compares two different spans or traces")
    item = _common(name, winner, comment, None, source, author, metadata, idempotency_key)
    return {
        "trace_id": a.trace_id,
        "span_id": a.span_id,
        "other_trace_id": b.trace_id,
        "other_span_id": b.span_id,
        "kind": "preference",
        **item,
    }


def build_signal(
    ref: SpanRef | str,
    signal: str,
    *,
    author: str | None = None,
    comment: str | None = None,
    correction: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """An implicit signal (the user copied, regenerated, edited... the answer) as an end-user score of 1."""
    if signal not in SIGNALS:
        raise ValueError(f"signal must be one of {', '.join(SIGNALS)}; got {signal!r}")
    return build_item(
        ref,
        signal,
        True,
        comment=comment,
        correction=correction,
        source="end_user",
        author=author,
        metadata=metadata,
        idempotency_key=idempotency_key,
    )


def _common(
    name: str,
    value: bool | int | float | str | None,
    comment: str | None,
    correction: str | None,
    source: str,
    author: str | None,
    metadata: Mapping[str, Any] | None,
    idempotency_key: str | None,
) -> dict[str, Any]:
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
    if idempotency_key is not None and (not isinstance(idempotency_key, str) or not 0 < len(idempotency_key) <= 200):
        raise ValueError("idempotency_key must be a non-empty string of at most 200 characters")
    for field_name, text in (("name", name), ("value", value), ("comment", comment), ("correction", correction)):
        _check_encodable(field_name, text)
    _check_encodable("author", author)
    _check_encodable("idempotency_key", idempotency_key)
    if metadata:
        _check_metadata(metadata)
    return {
        "name": name,
        "value": value,
        "comment": comment,
        "correction": correction,
        "source": source,
        "author": author,
        "metadata": dict(metadata) if metadata else None,
        "idempotency_key": idempotency_key or uuid.uuid4().hex,
    }


def _check_encodable(field_name: str, text: object) -> None:
    """Refuse a string with a lone surrogate: it has no UTF-8 form, so the collector could never store it."""
    if isinstance(text, str):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"{field_name} contains a lone surrogate (invalid Unicode)") from None


def _depth(value: object, level: int = 0) -> int:
    if level > MAX_METADATA_DEPTH:
        return level
    if isinstance(value, Mapping):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, (list, tuple)):
        return max((_depth(v, level + 1) for v in value), default=level + 1)
    return level


def _check_metadata(metadata: Mapping[str, Any]) -> None:
    """Metadata must be JSON the collector accepts: finite numbers, string keys, valid Unicode, bounded nesting.

    Checked here, at the call site, so a bad value raises in the caller's code instead of being queued,
    refused by the collector later and lost out of sight.
    """
    if _depth(metadata) > MAX_METADATA_DEPTH:
        raise ValueError(f"metadata is nested more than {MAX_METADATA_DEPTH} levels deep")
    try:
        text = json.dumps(metadata, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"metadata must be JSON with finite numbers: {exc}") from None
    if any(not isinstance(key, str) for key in metadata):
        raise ValueError("metadata keys must be strings")
    _check_encodable("metadata", text)
