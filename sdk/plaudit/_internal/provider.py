"""Tracer provider setup: :func:`configure`, and the settings and tracer everything else asks for.

It owns the decision the SDK contract fixes: build Plaudit's own ``TracerProvider`` and install it
globally only when none is set, or attach Plaudit's processor to the host's. :func:`get_settings` and
:func:`get_tracer` live here, beside :func:`configure`, because on first use without a ``configure()``
call they set Plaudit up from the environment. What the setup produces is kept in ``state.py``; stopping
the setup it replaces is ``shutdown.py``'s job.
"""

from __future__ import annotations

import atexit
from collections.abc import Callable

from opentelemetry import trace as trace_api
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter

from plaudit import semconv
from plaudit._internal.config import Settings, resolve
from plaudit._internal.errors import logger
from plaudit._internal.notices import forget
from plaudit._internal.processors import Pipeline, ProviderHook
from plaudit._internal.shutdown import flush_at_exit, stop_in_background
from plaudit._internal.state import STATE
from plaudit._internal.thread_context import propagate_threads
from plaudit._version import __version__
from plaudit.exceptions import PlauditConfigError

_RECONFIGURE_WAIT_SECONDS = 5.0


def configure(
    endpoint: str | None = None,
    api_key: str | None = None,
    project: str | None = None,
    service_name: str | None = None,
    *,
    capture_content: bool | None = None,
    max_value_length: int | None = None,
    redact: Callable[[str], str] | None = None,
    sample_rate: float | None = None,
    send: bool | None = None,
    spool_dir: str | None = None,
    thread_context: bool | None = None,
    tracer_provider: TracerProvider | None = None,
    _span_exporter: SpanExporter | None = None,
    _simple_processor: bool = False,
) -> None:
    """Set where spans and feedback go and how content is captured.

    Explicit arguments win over ``PLAUDIT_ENDPOINT``/``PLAUDIT_API_KEY``/``PLAUDIT_PROJECT``,
    which win over the standard ``OTEL_*`` variables. Spans leave through OpenTelemetry's own
    ``BatchSpanProcessor`` and OTLP/HTTP protobuf exporter. Plaudit builds its own tracer
    provider and installs it globally only when none is set; pass ``tracer_provider=`` to add
    Plaudit's processor to yours instead. Calling it again replaces the earlier setup: the
    provider and its single Plaudit processor stay, what they feed is swapped.

    Args:
        endpoint: the collector's base URL (``/v1/traces`` is appended).
        api_key: sent as a bearer token.
        project: recorded on the resource as ``plaudit.project``.
        service_name: the resource's ``service.name``.
        capture_content: False records no inputs, outputs or messages anywhere; a per-function
            ``capture_input=True`` cannot turn it back on.
        max_value_length: captured values longer than this are cut and end with the truncation marker.
        redact: applied to every captured text (ours and other instrumentations') before it is put on a
            span, e.g. ``plaudit.redact_pii``; a hook that raises hides the value.
        sample_rate: fraction of new traces kept (``ParentBased(TraceIdRatioBased)``); only for
            Plaudit's own provider.
        send: False keeps everything in-process (no exporter).
        spool_dir: where undeliverable spans and feedback are spilled; what an earlier process left there
            is sent by this one.
        thread_context: False leaves threading alone; by default spans opened in threads and thread-pool
            tasks started inside a span are its children, with its ``plaudit.context`` values.
        tracer_provider: a host SDK ``TracerProvider`` to attach to instead of Plaudit's own.

    Raises:
        PlauditConfigError: for a wrong explicit argument or an unparsable ``PLAUDIT_*`` value.
    """
    if tracer_provider is not None and not isinstance(tracer_provider, TracerProvider):
        raise PlauditConfigError("tracer_provider must be an opentelemetry.sdk.trace.TracerProvider")
    if tracer_provider is not None and sample_rate is not None:
        raise PlauditConfigError("sample_rate applies to Plaudit's own provider; set a sampler on your tracer_provider")
    settings = resolve(
        endpoint=endpoint,
        api_key=api_key,
        project=project,
        service_name=service_name,
        capture_content=capture_content,
        max_value_length=max_value_length,
        send=send,
        spool_dir=spool_dir,
        sample_rate=sample_rate,
        redact=redact,
        thread_context=thread_context,
    )
    exporter = _span_exporter
    if exporter is None and settings.send:
        # Imported here: the OTLP exporter pulls in protobuf, which `import plaudit` should not pay for.
        from plaudit._internal.exporters.otlp import build_span_exporter

        exporter = build_span_exporter(settings)
    export: SpanProcessor | None = None
    if exporter is not None:
        export = (
            SimpleSpanProcessor(exporter)
            if _simple_processor
            else BatchSpanProcessor(
                exporter,
                max_queue_size=settings.max_queue_spans,
                schedule_delay_millis=500,
                max_export_batch_size=512,
            )
        )
    pipeline = Pipeline(
        export,
        exporter=None if _simple_processor else exporter,
        capture_content=settings.capture_content,
        max_value_length=settings.max_value_length,
        redact=settings.redact,
    )
    with STATE.lock:
        old_pipeline, old_feedback = STATE.pipeline, STATE.feedback
        if tracer_provider is None:
            provider = _own_provider(settings)
            STATE.sampler.set_rate(settings.sample_rate)
        else:
            provider = tracer_provider
        if provider not in STATE.hooks:
            hook = ProviderHook()
            provider.add_span_processor(hook)
            STATE.hooks[provider] = hook
        for hooked, hook in list(STATE.hooks.items()):
            # Our global provider keeps feeding Plaudit: third-party instrumentations found it there.
            hook.target = pipeline if hooked is provider or hooked is STATE.global_provider else None
        STATE.owns_provider = tracer_provider is None
        STATE.settings = settings
        STATE.provider = provider
        STATE.pipeline = pipeline
        STATE.feedback = None
        STATE.tracer = provider.get_tracer("plaudit", __version__)
        if not STATE.exit_hook_registered:
            atexit.register(flush_at_exit)
            STATE.exit_hook_registered = True
    propagate_threads(settings.thread_context)
    forget("config-")  # a new configuration may fix what the collector refused: say it again if not
    stop_in_background(old_pipeline, old_feedback, _RECONFIGURE_WAIT_SECONDS)
    if settings.send and settings.spool_dir is not None:
        _replay_spooled_feedback(settings)


def _replay_spooled_feedback(settings: Settings) -> None:
    """Start the feedback client now when an earlier process left ratings in the spool, so they are sent even
    if this process never gives a rating itself (the client is otherwise made on first use)."""
    from pathlib import Path

    from plaudit._internal.feedback import spool

    if not spool.candidates(Path(settings.spool_dir or ".") / "feedback"):
        return
    from plaudit._internal.feedback.client import build_client

    with STATE.lock:
        if STATE.feedback is None and STATE.settings is settings:
            STATE.feedback = build_client(settings)


def _own_provider(settings: Settings) -> TracerProvider:
    """Plaudit's provider for these settings: the existing one unless the resource changed."""
    resource_attrs: dict[str, str] = {"service.name": settings.service_name}
    if settings.project:
        resource_attrs[semconv.PROJECT] = settings.project
    if STATE.own_provider is not None and STATE.own_resource == resource_attrs:
        return STATE.own_provider
    # A resource is fixed at construction, so a new service name or project needs a new provider. The
    # previous one, if global, stays global and keeps forwarding to the current pipeline.
    provider = TracerProvider(resource=Resource.create(resource_attrs), sampler=STATE.sampler, shutdown_on_exit=False)
    if isinstance(trace_api.get_tracer_provider(), trace_api.ProxyTracerProvider):
        trace_api.set_tracer_provider(provider)
        STATE.global_provider = provider
    STATE.own_provider = provider
    STATE.own_resource = resource_attrs
    return provider


def get_settings() -> Settings:
    """The settings in force, set up from the environment on first use."""
    settings = STATE.settings
    if settings is None:
        _auto_configure()
        settings = STATE.settings or Settings()
    return settings


def _auto_configure() -> None:
    """First use without :func:`configure`: set up from the environment, never raise."""
    with STATE.lock:
        if STATE.tracer is not None:
            return
        try:
            configure()
        except Exception:  # noqa: BLE001 - a bad environment must not break the host app
            logger.warning("Plaudit could not configure itself from the environment; tracing is off", exc_info=True)
            STATE.settings = Settings(send=False)
            STATE.tracer = trace_api.NoOpTracer()


def get_tracer() -> trace_api.Tracer:
    """The tracer Plaudit's own spans start on, set up from the environment on first use."""
    tracer = STATE.tracer
    if tracer is None:
        _auto_configure()
        tracer = STATE.tracer or trace_api.NoOpTracer()
    return tracer
