"""SpanRef: the handle an app gives its frontend so feedback can find the span later, and the two ways to get
one: the span running now (:func:`current_ref`) and the traced call that just ended (:func:`last_ref`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass

from opentelemetry import trace as trace_api

_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
_SPAN_ID = re.compile(r"^[0-9a-f]{16}$")
_NO_SPAN = "0" * 16


@dataclass(frozen=True)
class SpanRef:
    """A trace id plus an optional span id, as lowercase hex (the OTLP JSON form).

    ``str(ref)`` is a W3C ``traceparent`` string, compact and URL-safe;
    :meth:`parse` reads it back. A reference without a span id targets the whole trace.
    """

    trace_id: str
    span_id: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.trace_id, str) or not _TRACE_ID.match(self.trace_id) or self.trace_id == "0" * 32:
            raise ValueError(f"trace_id must be 32 lowercase hex characters, not all zero; got {self.trace_id!r}")
        if self.span_id is not None and (
            not isinstance(self.span_id, str) or not _SPAN_ID.match(self.span_id) or self.span_id == _NO_SPAN
        ):
            raise ValueError(f"span_id must be 16 lowercase hex characters, not all zero; got {self.span_id!r}")

    def __str__(self) -> str:
        return f"00-{self.trace_id}-{self.span_id or _NO_SPAN}-01"

    @classmethod
    def parse(cls, text: str) -> SpanRef:
        """Read a reference from its ``str()`` form (a W3C traceparent)."""
        if not isinstance(text, str):
            raise TypeError(f"SpanRef.parse expects a string, got {type(text).__name__}")
        parts = text.strip().lower().split("-")
        if len(parts) != 4 or parts[0] != "00" or not re.fullmatch(r"[0-9a-f]{2}", parts[3]):
            raise ValueError(f"not a span reference (expected 00-<trace id>-<span id>-<flags>): {text!r}")
        span_id = None if parts[2] == _NO_SPAN else parts[2]
        return cls(parts[1], span_id)

    @classmethod
    def from_ids(cls, trace_id: int, span_id: int | None) -> SpanRef:
        """Build a reference from OpenTelemetry's integer ids."""
        return cls(format(trace_id, "032x"), format(span_id, "016x") if span_id else None)


def current_ref() -> SpanRef | None:
    """A reference to the innermost active span, to hand to a frontend for feedback."""
    ctx = trace_api.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return SpanRef.from_ids(ctx.trace_id, ctx.span_id)


_LAST: ContextVar[trace_api.Span | None] = ContextVar("plaudit_last_span", default=None)
"""The span of the last ``@plaudit.trace`` call or ``plaudit.span`` block that ended in this context.

A ``ContextVar`` of its own, not a value in the OpenTelemetry context: it is set without being reset, and
every thread and asyncio task sees its own. It holds the ended span itself, whose ids are read only when
:func:`last_ref` is asked, so ending a traced call costs one ``set``."""

remember: Callable[[trace_api.Span], object] = _LAST.set
"""Record a span (just ended) as the one :func:`last_ref` names in the current thread or task."""


def last_ref() -> SpanRef | None:
    """A reference to the span of the traced call (or ``plaudit.span`` block) that just ended here.

    The caller gets the ref of the call it just made without the traced function returning it, so no
    trace id ends up in the captured output. Each thread and each asyncio task has its own: a call made
    in another thread, or awaited in another task, does not change it. A call that raised sets it too.

    Returns:
        The ref, or None when no traced call has ended in this thread or task (or tracing is off).

    Example:
        >>> reply = answer("How do I reset my password?")  # doctest: +SKIP
        >>> plaudit.feedback(plaudit.last_ref(), "thumbs", True)  # doctest: +SKIP
    """
    span = _LAST.get()
    if span is None:
        return None
    ctx = span.get_span_context()
    if not ctx.is_valid:
        return None
    return SpanRef.from_ids(ctx.trace_id, ctx.span_id)
