"""The object ``plaudit.span()`` yields: a thin helper over an OpenTelemetry span."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry.trace import Span, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from plaudit import semconv
from plaudit._internal.feedback.refs import SpanRef
from plaudit._internal.serialize import capture_text
from plaudit._internal.span_common import set_text


class SpanHandle:
    """Record inputs, outputs, model and usage on a span without knowing attribute names."""

    __slots__ = ("_capture", "_limit", "_redact", "otel_span")

    def __init__(self, otel_span: Span, capture: bool, limit: int, redact: Callable[[str], str] | None = None) -> None:
        self.otel_span = otel_span
        self._capture = capture
        self._limit = limit
        self._redact = redact

    @property
    def ref(self) -> SpanRef | None:
        """The reference to hand a frontend for feedback on this span."""
        ctx = self.otel_span.get_span_context()
        if not ctx.is_valid:
            return None
        return SpanRef.from_ids(ctx.trace_id, ctx.span_id)

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        """Set one raw OpenTelemetry attribute, for keys Plaudit has no helper for."""
        self.otel_span.set_attribute(key, value)

    def set_attributes(self, attributes: Mapping[str, AttributeValue]) -> None:
        """Set several raw OpenTelemetry attributes at once."""
        self.otel_span.set_attributes(attributes)

    def set_input(self, value: Any) -> None:
        """Record the input (JSON, redacted, truncated) unless content capture is off."""
        if self._capture:
            set_text(self.otel_span, semconv.INPUT, capture_text(value, self._limit, self._redact))

    def set_output(self, value: Any) -> None:
        """Record the output (JSON, redacted, truncated) unless content capture is off."""
        if self._capture:
            set_text(self.otel_span, semconv.OUTPUT, capture_text(value, self._limit, self._redact))

    def set_model(self, model: str, provider: str | None = None) -> None:
        """Record the model (and provider) actually called, as the GenAI ``gen_ai.*`` attributes."""
        self.otel_span.set_attribute(semconv.GEN_AI_REQUEST_MODEL, model)
        if provider:
            self.otel_span.set_attribute(semconv.GEN_AI_PROVIDER_NAME, provider)

    def set_usage(self, input_tokens: int | None = None, output_tokens: int | None = None) -> None:
        """Record token counts; either may be omitted when the provider does not report it."""
        if input_tokens is not None:
            self.otel_span.set_attribute(semconv.GEN_AI_USAGE_INPUT_TOKENS, int(input_tokens))
        if output_tokens is not None:
            self.otel_span.set_attribute(semconv.GEN_AI_USAGE_OUTPUT_TOKENS, int(output_tokens))

    def record_exception(self, exc: BaseException) -> None:
        """Mark the span as failed by ``exc`` without raising, for errors the code handles itself."""
        self.otel_span.record_exception(exc)
        self.otel_span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))


class NoopSpan(SpanHandle):
    """Returned when span creation fails: accepts every call and does nothing."""

    __slots__ = ()

    def __init__(self) -> None:
        from opentelemetry.trace import INVALID_SPAN

        super().__init__(INVALID_SPAN, False, 64)
