"""Build on the ``anthropic`` library's own OpenTelemetry tracing instead of wrapping it again.

``anthropic`` 2.x traces every API call itself: one CLIENT span per call (``anthropic.messages.create``)
with the ``gen_ai.*`` request/response attributes, usage, time to first chunk, the span ended when a
stream is read, closed or dropped, and errors as status plus ``error.type``. It is on by default and
sends to the globally registered provider. A second wrapper would only duplicate those spans, so
``instrument_anthropic()`` adjusts it for clients created afterwards (those given no ``open_telemetry``
option of their own):

* their spans go to Plaudit's provider, whichever is current (a routing provider, public OTel API only);
* ``content_mode`` defaults to ``"content"``: Plaudit's pipeline then applies *its* rules to the messages
  before export (dropped under ``capture_content=False``, redacted, truncated);
* at export, ``gen_ai.response.finish_reasons`` is added from ``anthropic.message.stop_reason``.

Prompt/config/variant and user/session attributes reach these spans like any other through
Plaudit's processor. The library reads defaults for unset options from one function
(``anthropic._tracing.env_open_telemetry``); that private name is the only one used, and its absence
(a library without built-in tracing) is reported as a configuration error.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as context_api
from opentelemetry import trace as trace_api
from opentelemetry.trace import Link, SpanKind
from opentelemetry.util.types import Attributes

from plaudit import semconv
from plaudit._internal import processors
from plaudit._internal.state import STATE
from plaudit.exceptions import PlauditConfigError

SCOPE = "com.anthropic.sdk.python"
"""The instrumentation scope of the library's spans."""

_CONTENT_MODE_ENV = "ANTHROPIC_OPEN_TELEMETRY_TRACES_CONTENT_MODE"


class _RoutingTracer(trace_api.Tracer):
    """A tracer that starts each span on Plaudit's current provider (the global one once uninstrumented)."""

    def __init__(self, owner: RoutingTracerProvider, name: str, version: str | None, schema_url: str | None) -> None:
        self._owner = owner
        self._args = (name, version, schema_url)
        self._cache: tuple[object, trace_api.Tracer] | None = None

    def _target(self) -> trace_api.Tracer:
        provider: trace_api.TracerProvider | None = STATE.provider if self._owner.active else None
        if provider is None:
            provider = trace_api.get_tracer_provider()
        cached = self._cache
        if cached is not None and cached[0] is provider:
            return cached[1]
        tracer = provider.get_tracer(*self._args)
        self._cache = (provider, tracer)
        return tracer

    def start_span(
        self,
        name: str,
        context: context_api.Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> trace_api.Span:
        return self._target().start_span(
            name, context, kind, attributes, links, start_time, record_exception, set_status_on_exception
        )

    @contextmanager
    def start_as_current_span(
        self,
        name: str,
        context: context_api.Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> Iterator[trace_api.Span]:
        with self._target().start_as_current_span(
            name,
            context,
            kind,
            attributes,
            links,
            start_time,
            record_exception,
            set_status_on_exception,
            end_on_exit,
        ) as span:
            yield span


class RoutingTracerProvider(trace_api.TracerProvider):
    """Handed to Anthropic clients as their ``tracer_provider``: follows Plaudit across re-configuration."""

    def __init__(self) -> None:
        self.active = True

    def get_tracer(
        self,
        instrumenting_module_name: str,
        instrumenting_library_version: str | None = None,
        schema_url: str | None = None,
        attributes: Attributes = None,
    ) -> trace_api.Tracer:
        return _RoutingTracer(self, instrumenting_module_name, instrumenting_library_version, schema_url)


def enrich(attrs: dict[str, Any]) -> None:
    """Add the GenAI finish reasons the library records under its own name."""
    stop_reason = attrs.get("anthropic.message.stop_reason")
    if isinstance(stop_reason, str) and semconv.GEN_AI_RESPONSE_FINISH_REASONS not in attrs:
        attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS] = (stop_reason,)


def _with_plaudit_defaults(options: Mapping[str, Any], provider: RoutingTracerProvider) -> dict[str, Any]:
    traces = options.get("traces")
    traces = dict(traces) if isinstance(traces, Mapping) else {} if traces is None else {"enabled": bool(traces)}
    if "content_mode" not in traces and not os.environ.get(_CONTENT_MODE_ENV):
        traces["content_mode"] = "content"  # Plaudit's capture/redact rules decide what leaves the process
    result = {**options, "traces": traces}
    result.setdefault("tracer_provider", provider)
    return result


def apply() -> Callable[[], None]:
    """Route the library's spans to Plaudit and default them to content; return the undo."""
    try:
        from anthropic import _tracing as library_tracing
    except ImportError:
        library_tracing = None
    original = getattr(library_tracing, "env_open_telemetry", None)
    if library_tracing is None or not callable(original):
        raise PlauditConfigError(
            "this anthropic version has no built-in OpenTelemetry tracing to build on; pip install 'anthropic>=2'"
        )
    provider = RoutingTracerProvider()

    def env_open_telemetry() -> Any:
        options = original()
        try:
            return _with_plaudit_defaults(options, provider)
        except Exception:  # noqa: BLE001 - a client must construct whatever happens to Plaudit
            return options

    env_open_telemetry.__plaudit_original__ = original  # type: ignore[attr-defined]
    library_tracing.env_open_telemetry = env_open_telemetry
    processors.ENRICHERS[SCOPE] = enrich

    def undo() -> None:
        if library_tracing.env_open_telemetry is env_open_telemetry:
            library_tracing.env_open_telemetry = original
        provider.active = False
        processors.ENRICHERS.pop(SCOPE, None)

    return undo
