"""Span processors Plaudit adds to the tracer provider."""

from __future__ import annotations

from opentelemetry import context as context_api
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from plaudit._internal.context import CONTEXT_KEY


class ContextAttributesProcessor(SpanProcessor):
    """Copy :func:`plaudit.context` attributes onto every span at start, third-party spans included."""

    def on_start(self, span: Span, parent_context: context_api.Context | None = None) -> None:
        attrs = context_api.get_value(CONTEXT_KEY, parent_context)
        if attrs:
            span.set_attributes(attrs)  # type: ignore[arg-type]

    def on_end(self, span: ReadableSpan) -> None:
        return None

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
