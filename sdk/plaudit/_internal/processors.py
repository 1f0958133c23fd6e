"""Span processors Plaudit adds to a tracer provider.

A provider has no public way to remove a processor, so Plaudit adds exactly one :class:`ProviderHook`
per provider it ever uses and never another: re-configuration retargets the hook at a new
:class:`Pipeline` (or at nothing) instead of stacking processors or shutting a global provider down.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opentelemetry import context as context_api
from opentelemetry.sdk.trace import Event, ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Status

from plaudit import semconv
from plaudit._internal.context import CAPTURE_KEY, CONTEXT_KEY, STAMPED_KEY, VARIANT_KEY, PlainStart
from plaudit._internal.errors import log_internal_error
from plaudit._internal.genai import fingerprint
from plaudit._internal.serialize import redact_text, truncate

_CONTENT_KEYS = frozenset(semconv.CONTENT_KEYS)
_LLM_KINDS = ("llm", "embedding")
_MAX_PENDING_STRIPS = 10_000
_KEY_ATTRIBUTES = frozenset(semconv.KEY_ATTRIBUTES)

ENRICHERS: dict[str, Callable[[dict[str, Any]], None]] = {}
"""By instrumentation scope: adds the ``gen_ai.*`` attributes another library records under its own names."""


def is_content_key(key: str) -> bool:
    """Whether an attribute holds prompt or response content (any of the conventions Plaudit knows)."""
    if key in _CONTENT_KEYS:
        return True
    if key.startswith(semconv.CONTENT_PREFIXES):
        # `gen_ai.prompt.name` is the prompt's identity, not its text; flattened messages have an index.
        return not key.startswith(("gen_ai.prompt.", "gen_ai.completion.")) or key.split(".")[2][:1].isdigit()
    return False


def _with_attributes(
    span: ReadableSpan,
    attributes: Mapping[str, Any] | None,
    events: Sequence[Event] | None = None,
    status: Status | None = None,
) -> ReadableSpan:
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=attributes,
        events=span.events if events is None else events,
        links=span.links,
        kind=span.kind,
        status=span.status if status is None else status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


def _snapshot(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """A plain copy of a span's attributes: OTel's ``BoundedAttributes.copy()`` (behind the read-only proxy that
    ``span.attributes`` returns) copies its dict in C, where ``dict()`` would walk it key by key under its lock."""
    try:
        return attributes.copy()  # type: ignore[attr-defined,no-any-return]
    except AttributeError:
        return dict(attributes)


def _is_llm_span(attrs: Mapping[str, Any]) -> bool:
    return attrs.get(semconv.GEN_AI_OPERATION_NAME) is not None or attrs.get(semconv.SPAN_KIND) in _LLM_KINDS


class Pipeline:
    """What one :func:`plaudit.configure` call set up: stamping at start, content rules and export at end.

    ``on_start`` copies :func:`plaudit.context` attributes onto every span (third-party ones
    included) and lets LLM spans inherit the prompt/config/variant of the traced call around them.
    ``on_end`` applies the content rules (capture off, redact hook, truncation) to spans from other
    instrumentations, whose content Plaudit did not capture itself, then hands the span to the exporter.
    """

    def __init__(
        self,
        export: SpanProcessor | None,
        *,
        exporter: SpanExporter | None = None,
        capture_content: bool,
        max_value_length: int,
        redact: Callable[[str], str] | None,
    ) -> None:
        self.export = export
        self.exporter = exporter  # behind a batch processor: stopped first at shutdown, so retries end
        self.capture_content = capture_content
        self.max_value_length = max_value_length
        self.redact = redact
        self._strip: set[int] = set()  # span ids opened inside a capture_content=False block
        self._keys: dict[int, dict[str, Any]] = {}  # span id -> attributes at start, in case limits drop some
        self._lock = threading.Lock()
        self._own_scope: InstrumentationScope | None = None  # the scope of Plaudit's spans last seen here

    def on_start(self, span: Span, parent_context: context_api.Context | None = None) -> None:
        if type(parent_context) is PlainStart:
            return  # its opener checked there is nothing to stamp or keep
        try:
            ctx = parent_context if parent_context is not None else context_api.get_current()
            attrs = ctx.get(CONTEXT_KEY)
            if attrs and ctx.get(STAMPED_KEY) is not attrs:
                span.set_attributes(attrs)  # type: ignore[arg-type]
            inherited = ctx.get(VARIANT_KEY)
            if inherited is not None:
                self._inherit(span, inherited)  # type: ignore[arg-type]
            if ctx.get(CAPTURE_KEY) is False and span.context is not None:
                with self._lock:
                    if len(self._strip) < _MAX_PENDING_STRIPS:
                        self._strip.add(span.context.span_id)
            # Keep the attributes the leaderboard groups by: OTel's count limit drops the oldest attributes
            # first, and these are set first, so a span flooded with flattened messages would otherwise lose them.
            # The whole start-time mapping is kept (one copy in C); picking the key attributes out of it is left
            # to the rare span that did drop some.
            own = span.attributes
            if own and len(self._keys) < _MAX_PENDING_STRIPS and span.context is not None:
                self._keys[span.context.span_id] = _snapshot(own)  # atomic under the GIL
        except Exception:  # noqa: BLE001 - processors must never raise into span creation
            log_internal_error()

    @staticmethod
    def _inherit(span: Span, inherited: Mapping[str, Any]) -> None:
        own = span.attributes or {}
        if not _is_llm_span(own):
            return
        missing = {key: value for key, value in inherited.items() if key not in own}
        if not missing:
            return
        span.set_attributes(missing)
        merged = {**missing, **own}
        fp = fingerprint(merged)
        if fp is not None:
            span.set_attribute(semconv.FINGERPRINT, fp)

    def on_end(self, span: ReadableSpan) -> None:
        export = self.export
        if export is None:
            return
        if not self._strip and not self._keys and self.redact is None:
            scope = span.instrumentation_scope
            if scope is not None and scope is self._own_scope:
                export.on_end(span)  # Plaudit's own span with nothing to strip, restore or redact: as it is
                return
        try:
            strip = False
            if self._strip and span.context is not None:
                with self._lock:
                    if span.context.span_id in self._strip:
                        self._strip.discard(span.context.span_id)
                        strip = True
            keys = self._keys.pop(span.context.span_id, None) if self._keys and span.context is not None else None
            if keys is not None and span.dropped_attributes:
                kept = {key: value for key, value in keys.items() if key in _KEY_ATTRIBUTES}
                span = _with_attributes(span, {**kept, **(span.attributes or {})})
            scope = span.instrumentation_scope
            foreign = scope is None or scope is not self._own_scope
            if foreign and scope is not None and scope.name == "plaudit":
                self._own_scope, foreign = scope, False  # later spans of the same tracer are known by identity
            if strip or foreign:
                span = self._rewrite(span, strip, ENRICHERS.get(scope.name) if scope is not None else None)
            if self.redact is not None and (span.events or span.status.description):
                span = self._redact_events_and_status(span, self.redact)
        except Exception:  # noqa: BLE001 - a span we cannot filter is dropped, never exported unfiltered
            log_internal_error()
            return
        export.on_end(span)

    def _rewrite(
        self, span: ReadableSpan, strip: bool, enrich: Callable[[dict[str, Any]], None] | None
    ) -> ReadableSpan:
        """The span with its content dropped, or redacted and truncated, and enriched; itself when nothing applies."""
        attrs = span.attributes
        if not attrs:
            return span
        content = [key for key in attrs if is_content_key(key)]
        if not content and enrich is None:
            return span
        drop = strip or not self.capture_content
        new_attrs = dict(attrs)
        if enrich is not None:
            enrich(new_attrs)
        for key in content:
            value = new_attrs.pop(key)
            if drop:
                continue
            if isinstance(value, str):
                if self.redact is not None:
                    value = redact_text(value, self.redact)
                value = truncate(value, self.max_value_length)
            elif self.redact is not None:
                continue  # sequences of strings are rare here; never export what the hook did not see
            new_attrs[key] = value
        return _with_attributes(span, new_attrs)

    @staticmethod
    def _redact_events_and_status(span: ReadableSpan, redact: Callable[[str], str]) -> ReadableSpan:
        """The redact hook applied to what escapes the content rules: exception messages and stack traces,
        content that instrumentations record as events (GenAI prompt and completion events) and the status
        description, which repeats the exception message."""
        events = [
            Event(
                event.name, {k: _redact_value(v, redact) for k, v in (event.attributes or {}).items()}, event.timestamp
            )
            for event in span.events
        ]
        status = span.status
        if status.description:
            status = Status(status.status_code, redact_text(status.description, redact))
        return _with_attributes(span, span.attributes, events, status)

    def shutdown(self, timeout_millis: int = 30000) -> None:
        """Deliver what is queued within ``timeout_millis``, then stop; what is left is spooled or counted.

        The batch processor's queue is handed to Plaudit's exporter first (it never blocks on the network),
        then the exporter gets the rest of the time to deliver before it spools or drops what remains, then
        the processor stops.
        """
        export, self.export = self.export, None
        if export is None:
            return
        deadline = time.monotonic() + max(int(timeout_millis), 0) / 1000
        if self.exporter is not None:
            export.force_flush(_millis_left(deadline))
            self.exporter.shutdown(_millis_left(deadline))
        export.shutdown()  # its worker's last export only hands spans to the (now closed) exporter: quick

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Hand the batch queue to the exporter, then wait for the exporter's own backlog, within one deadline.

        OpenTelemetry's batch processor never flushes its exporter, so without the second step
        ``plaudit.flush()`` would return before an outage backlog was delivered.
        """
        export = self.export
        if export is None:
            return True
        deadline = time.monotonic() + max(timeout_millis, 0) / 1000
        ok = export.force_flush(timeout_millis)
        exporter = self.exporter
        if exporter is not None:
            ok = exporter.force_flush(_millis_left(deadline)) and ok
        return ok


def _redact_value(value: Any, redact: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return redact_text(value, redact)
    if isinstance(value, (list, tuple)):
        return tuple(redact_text(v, redact) if isinstance(v, str) else v for v in value)
    return value


def _millis_left(deadline: float) -> int:
    return max(int((deadline - time.monotonic()) * 1000), 0)


class ProviderHook(SpanProcessor):
    """The one processor Plaudit adds to a provider: forwards to the current :class:`Pipeline`, or to nothing.

    Setting :attr:`target` binds the pipeline's ``on_start``/``on_end`` on this object, so a span's start and
    end reach the pipeline without an extra call through the hook.
    """

    def __init__(self) -> None:
        self._target: Pipeline | None = None

    @property
    def target(self) -> Pipeline | None:
        return self._target

    @target.setter
    def target(self, pipeline: Pipeline | None) -> None:
        self._target = pipeline
        if pipeline is None:
            self.__dict__.pop("on_start", None)
            self.__dict__.pop("on_end", None)
        else:
            self.on_start = pipeline.on_start  # type: ignore[method-assign]
            self.on_end = pipeline.on_end  # type: ignore[method-assign]

    def on_start(self, span: Span, parent_context: context_api.Context | None = None) -> None:
        """No pipeline: nothing to stamp (a bound pipeline's method shadows this one)."""

    def on_end(self, span: ReadableSpan) -> None:
        """No pipeline: the span goes nowhere (a bound pipeline's method shadows this one)."""

    def shutdown(self) -> None:
        """Called when the provider itself shuts down (for example at exit): flush and stop the pipeline."""
        target = self.target
        self.target = None
        if target is not None:
            target.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        target = self._target
        return True if target is None else target.force_flush(timeout_millis)
