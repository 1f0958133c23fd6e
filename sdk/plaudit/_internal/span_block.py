"""``with plaudit.span(...)``: a span around a block of code, for work that is not one function call.

It owns only what is particular to a ``with`` block (entering and leaving the span's context around the
block, handing the block a :class:`SpanHandle`); argument checking and attribute stamping are shared with
``@trace`` through ``span_common.py``, so the two openers cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any

from opentelemetry import context as context_api

from plaudit._internal.config import Settings
from plaudit._internal.context import CAPTURE_KEY
from plaudit._internal.errors import handle_internal_errors, log_internal_error
from plaudit._internal.feedback.refs import remember
from plaudit._internal.handle import NoopSpan, SpanHandle
from plaudit._internal.prompt import Prompt
from plaudit._internal.provider import get_settings, get_tracer
from plaudit._internal.span_common import (
    check_flag,
    child_context,
    end_with_error,
    inherited_attributes,
    otel_kind,
    static_attributes,
)


def _capture_enabled(settings: Settings, local: bool | None) -> bool:
    """Global off wins; then an enclosing ``capture_content=False`` block; then the local switch."""
    if not settings.capture_content or context_api.get_value(CAPTURE_KEY) is False:
        return False
    return local is not False


class span:  # lowercase: used like a function, `with plaudit.span(...)`
    """Open a span for a block: ``with plaudit.span("retrieve", kind="retrieval") as s: ...``.

    Takes the same arguments as :func:`trace`. The block's exceptions are recorded on the
    span and propagate unchanged. Yields a :class:`SpanHandle`. LLM spans opened inside the
    block (instrumented client calls included) inherit its ``prompt``, ``config`` and ``variant``;
    ``capture_content=False`` records no content for the block or anything inside it.
    """

    __slots__ = ("_attrs", "_capture", "_handle", "_inherited", "_kind", "_name", "_token")

    def __init__(
        self,
        name: str,
        *,
        kind: str | None = None,
        prompt: Prompt | None = None,
        config: Mapping[str, Any] | None = None,
        variant: str | None = None,
        model: str | None = None,
        provider: str | None = None,
        attributes: Mapping[str, Any] | None = None,
        capture_content: bool | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError("span name must be a non-empty string")
        check_flag("capture_content", capture_content)
        self._name = name
        self._kind = kind
        self._attrs = static_attributes(kind, prompt, config, variant, model, provider, attributes)
        self._inherited = inherited_attributes(self._attrs)
        self._capture = capture_content
        self._handle: SpanHandle | None = None
        self._token: object = None

    def __enter__(self) -> SpanHandle:
        try:
            settings = get_settings()
            capture = _capture_enabled(settings, self._capture)
            otel_span = get_tracer().start_span(self._name, kind=otel_kind(self._kind), attributes=self._attrs)
            self._token = context_api.attach(child_context(otel_span, self._inherited, self._capture))
            self._handle = SpanHandle(otel_span, capture, settings.max_value_length, settings.redact)
        except Exception:  # noqa: BLE001 - a failed span must not break the block
            log_internal_error()
            self._handle = NoopSpan()
        return self._handle

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        handle, token = self._handle, self._token
        if handle is None or token is None:
            return
        self._token = None
        if exc is not None:
            end_with_error(handle.otel_span, token, exc)
            return
        with handle_internal_errors:
            context_api.detach(token)  # type: ignore[arg-type]
            handle.otel_span.end()
            remember(handle.otel_span)
