"""Provider setup and the two ways to open a span: ``@trace`` and ``span()``."""

from __future__ import annotations

import atexit
import functools
import hashlib
import inspect
import threading
import time
import weakref
from collections.abc import AsyncGenerator, Callable, Generator, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar, overload

from opentelemetry import context as context_api
from opentelemetry import trace as trace_api
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_ON,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import Link, SpanKind, Status, StatusCode
from opentelemetry.util.types import Attributes

from plaudit import semconv
from plaudit._internal import errors
from plaudit._internal.config import Settings, resolve
from plaudit._internal.context import CAPTURE_KEY, VARIANT_KEY
from plaudit._internal.errors import handle_internal_errors, log_internal_error, logger
from plaudit._internal.feedback.refs import SpanRef
from plaudit._internal.genai import fingerprint
from plaudit._internal.handle import NoopSpan, SpanHandle
from plaudit._internal.processors import Pipeline, ProviderHook
from plaudit._internal.prompt import Prompt
from plaudit._internal.serialize import capture_text, config_attributes, config_hash
from plaudit._version import __version__
from plaudit.exceptions import PlauditConfigError

F = TypeVar("F", bound=Callable[..., Any])

_GENERATOR_ITEMS_KEPT = 1000
_RECONFIGURE_WAIT_SECONDS = 5.0
_INHERITED_KEYS = (
    semconv.PROMPT_NAME,
    semconv.PROMPT_VERSION,
    semconv.PROMPT_TEMPLATE_HASH,
    semconv.CONFIG_HASH,
    semconv.VARIANT,
    semconv.CODE_HASH,
)


class _RatioSampler(Sampler):
    """OTel's ``ParentBased(TraceIdRatioBased(rate))`` behind a handle, so re-configuration can change the rate.

    The provider keeps the sampler it was built with; this indirection lets one long-lived provider
    follow ``configure(sample_rate=...)``. Child spans follow their parent's decision, so a trace is
    kept or dropped whole.
    """

    def __init__(self) -> None:
        self._delegate: Sampler = ParentBased(ALWAYS_ON)

    def set_rate(self, rate: float | None) -> None:
        self._delegate = ParentBased(ALWAYS_ON) if rate is None or rate >= 1.0 else ParentBased(TraceIdRatioBased(rate))

    def should_sample(
        self,
        parent_context: context_api.Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: trace_api.TraceState | None = None,
    ) -> SamplingResult:
        return self._delegate.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def get_description(self) -> str:
        return f"Plaudit{{{self._delegate.get_description()}}}"


class _State:
    """Everything :func:`configure` sets up.

    Plaudit's own provider lives as long as the process (a global provider cannot be replaced);
    re-configuration swaps the :class:`Pipeline` its :class:`ProviderHook` forwards to.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.settings: Settings | None = None
        self.provider: TracerProvider | None = None  # the provider Plaudit's own spans start on
        self.owns_provider = False
        self.own_provider: TracerProvider | None = None
        self.own_resource: dict[str, str] | None = None
        self.global_provider: TracerProvider | None = None  # ours, if we installed it globally
        self.hooks: weakref.WeakKeyDictionary[TracerProvider, ProviderHook] = weakref.WeakKeyDictionary()
        self.sampler = _RatioSampler()
        self.pipeline: Pipeline | None = None
        self.tracer: trace_api.Tracer | None = None
        self.feedback: Any = None  # FeedbackClient, imported lazily to keep `import plaudit` light
        self.exit_hook_registered = False


STATE = _State()


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
        spool_dir: where undeliverable spans and feedback are spilled.
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
            atexit.register(_flush_at_exit)
            STATE.exit_hook_registered = True
    _stop(old_pipeline, old_feedback, _RECONFIGURE_WAIT_SECONDS)


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


def _stop(pipeline: Pipeline | None, feedback: Any, wait: float) -> None:
    """Flush and stop what an earlier setup started, waiting at most ``wait`` seconds.

    OpenTelemetry's processors flush on shutdown with their own 30 s bound and exporters retry, so
    with the collector down this can take long: it runs on a daemon thread and the caller waits only
    ``wait`` seconds. Re-configuration and shutdown never hang the host on an unreachable collector.
    """
    if pipeline is None and feedback is None:
        return

    def stop() -> None:
        with handle_internal_errors:
            if pipeline is not None:
                pipeline.shutdown(int(max(wait, 0.0) * 1000))
        with handle_internal_errors:
            if feedback is not None:
                feedback.shutdown()

    worker = threading.Thread(target=stop, name="plaudit-stop", daemon=True)
    worker.start()
    worker.join(max(wait, 0.0))


def _flush_at_exit() -> None:
    with handle_internal_errors:
        pipeline = STATE.pipeline
        if pipeline is not None:
            pipeline.shutdown()


def get_settings() -> Settings:
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
    tracer = STATE.tracer
    if tracer is None:
        _auto_configure()
        tracer = STATE.tracer or trace_api.NoOpTracer()
    return tracer


def flush(timeout: float = 30.0) -> bool:
    """Export queued spans and send queued feedback; True when everything was delivered in time."""
    ok = True
    with handle_internal_errors:
        pipeline = STATE.pipeline
        if pipeline is not None:
            ok = pipeline.force_flush(int(timeout * 1000)) and ok
        if STATE.feedback is not None:
            ok = STATE.feedback.flush(timeout) and ok
    return ok


def shutdown(timeout: float = 30.0) -> None:
    """Flush, then stop background threads, within ``timeout`` seconds in all.

    Tracing is a no-op afterwards until configured again. Spans still undelivered when the time is up
    (collector down) are given up on a daemon thread rather than holding the host.
    """
    with handle_internal_errors:
        deadline = time.monotonic() + timeout
        flush(timeout)
        with STATE.lock:
            old_pipeline, old_feedback = STATE.pipeline, STATE.feedback
            for hook in list(STATE.hooks.values()):
                hook.target = None
            STATE.pipeline = None
            STATE.feedback = None
            STATE.provider = None
            STATE.settings = Settings(send=False)
            STATE.tracer = trace_api.NoOpTracer()
        _stop(old_pipeline, old_feedback, deadline - time.monotonic())


def current_ref() -> SpanRef | None:
    """A reference to the innermost active span, to hand to a frontend for feedback."""
    ctx = trace_api.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return SpanRef.from_ids(ctx.trace_id, ctx.span_id)


# --- static attributes shared by @trace and span() ---------------------------------------------------------


def _static_attributes(
    kind: str | None,
    prompt: Prompt | None,
    config: Mapping[str, Any] | None,
    variant: str | None,
    model: str | None,
    provider: str | None,
    attributes: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """Validate decorator/span arguments once and turn them into span attributes (fingerprint included)."""
    attrs: dict[str, Any] = {}
    if kind is not None:
        if kind not in semconv.SPAN_KINDS:
            raise ValueError(f"kind must be one of {', '.join(semconv.SPAN_KINDS)}; got {kind!r}")
        attrs[semconv.SPAN_KIND] = kind
    if prompt is not None:
        if not isinstance(prompt, Prompt):
            raise TypeError(f"prompt must be a plaudit.Prompt, got {type(prompt).__name__}")
        attrs.update(prompt.attributes())
    if config is not None:
        if not isinstance(config, Mapping):
            raise TypeError(f"config must be a mapping, got {type(config).__name__}")
        attrs.update(config_attributes(config, semconv.CONFIG_PREFIX))
        attrs[semconv.CONFIG_HASH] = config_hash(config)
    if variant is not None:
        if not isinstance(variant, str):
            raise TypeError(f"variant must be a string, got {type(variant).__name__}")
        attrs[semconv.VARIANT] = variant
    if model is not None:
        if not isinstance(model, str):
            raise TypeError(f"model must be a string, got {type(model).__name__}")
        attrs[semconv.GEN_AI_REQUEST_MODEL] = model
    if provider is not None:
        if not isinstance(provider, str):
            raise TypeError(f"provider must be a string, got {type(provider).__name__}")
        attrs[semconv.GEN_AI_PROVIDER_NAME] = provider
    if attributes:
        attrs.update(attributes)
    fp = fingerprint(attrs)
    if fp is not None:
        attrs[semconv.FINGERPRINT] = fp
    return attrs


def _inherited(attrs: Mapping[str, Any]) -> dict[str, Any] | None:
    """The part of a span's static attributes that LLM spans opened inside it inherit, or None."""
    inherited = {key: attrs[key] for key in attrs if key in _INHERITED_KEYS or key.startswith(semconv.CONFIG_PREFIX)}
    return inherited or None


def _child_context(
    otel_span: trace_api.Span, inherited: dict[str, Any] | None, capture: bool | None
) -> context_api.Context:
    """The context the traced code runs in: the span, plus what its descendants inherit."""
    if inherited is None and capture is None:
        return trace_api.set_span_in_context(otel_span)
    ctx = context_api.get_current()
    if inherited is not None:
        outer = ctx.get(VARIANT_KEY)
        ctx = context_api.set_value(VARIANT_KEY, {**outer, **inherited} if outer else inherited, ctx)  # type: ignore[dict-item]
    if capture is not None:
        ctx = context_api.set_value(CAPTURE_KEY, capture, ctx)
    return trace_api.set_span_in_context(otel_span, ctx)


def _code_hash(fn: Callable[..., Any]) -> str:
    """A short hash of a function's source (its bytecode when the source is unavailable)."""
    target = inspect.unwrap(fn)
    try:
        material = inspect.getsource(target).encode()
    except (OSError, TypeError):
        code = getattr(target, "__code__", None)
        material = code.co_code + repr(code.co_consts).encode() if code is not None else repr(target).encode()
    return hashlib.sha256(material).hexdigest()[:16]


def _default_name(fn: Callable[..., Any]) -> str:
    """``module-free qualname``; a partial is named after the function it wraps, never by its repr (an address)."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    name = getattr(fn, "__qualname__", None)
    if isinstance(name, str) and name:
        return name
    return type(fn).__qualname__


def _otel_kind(kind: str | None) -> SpanKind:
    return SpanKind.CLIENT if kind in ("llm", "embedding") else SpanKind.INTERNAL


def _check_flag(name: str, flag: object) -> None:
    # A truthy string such as "no" would silently capture content: refuse it at the call site.
    if flag is not None and not isinstance(flag, bool):
        raise TypeError(f"{name} must be True, False or None, got {type(flag).__name__}")


def _end_with_error(span: trace_api.Span, token: object, exc: BaseException) -> None:
    try:
        context_api.detach(token)  # type: ignore[arg-type]
        span.record_exception(exc, escaped=True)
        span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
        span.end()
    except Exception:  # noqa: BLE001 - the user's exception matters more than ours
        log_internal_error()


def _capture_enabled(settings: Settings, local: bool | None) -> bool:
    """Global off wins; then an enclosing ``capture_content=False`` block; then the local switch."""
    if not settings.capture_content or context_api.get_value(CAPTURE_KEY) is False:
        return False
    return local is not False


# --- span() ---------------------------------------------------------------------------------------------------


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
        _check_flag("capture_content", capture_content)
        self._name = name
        self._kind = kind
        self._attrs = _static_attributes(kind, prompt, config, variant, model, provider, attributes)
        self._inherited = _inherited(self._attrs)
        self._capture = capture_content
        self._handle: SpanHandle | None = None
        self._token: object = None

    def __enter__(self) -> SpanHandle:
        try:
            settings = get_settings()
            capture = _capture_enabled(settings, self._capture)
            otel_span = get_tracer().start_span(self._name, kind=_otel_kind(self._kind), attributes=self._attrs)
            self._token = context_api.attach(_child_context(otel_span, self._inherited, self._capture))
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
            _end_with_error(handle.otel_span, token, exc)
            return
        with handle_internal_errors:
            context_api.detach(token)  # type: ignore[arg-type]
            handle.otel_span.end()


# --- @trace ---------------------------------------------------------------------------------------------------


@overload
def trace(func: F, /) -> F: ...


@overload
def trace(
    *,
    name: str | None = None,
    kind: str | None = None,
    prompt: Prompt | None = None,
    config: Mapping[str, Any] | None = None,
    variant: str | None = None,
    model: str | None = None,
    provider: str | None = None,
    capture_input: bool | None = None,
    capture_output: bool | None = None,
    capture_content: bool | None = None,
    hash_code: bool = False,
) -> Callable[[F], F]: ...


def trace(
    func: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    kind: str | None = None,
    prompt: Prompt | None = None,
    config: Mapping[str, Any] | None = None,
    variant: str | None = None,
    model: str | None = None,
    provider: str | None = None,
    capture_input: bool | None = None,
    capture_output: bool | None = None,
    capture_content: bool | None = None,
    hash_code: bool = False,
) -> Any:
    """Trace every call of a function as a span: ``@plaudit.trace`` or ``@plaudit.trace(kind="llm", ...)``.

    Works on plain, async, generator and async-generator functions and on methods. Inputs and
    the output are captured as JSON (redacted, truncated; off with ``capture_content=False``,
    which also covers everything called inside); exceptions are recorded on the span and re-raised
    unchanged. ``prompt``, ``config``, ``variant`` and ``model`` are stamped on the span, and
    inherited by LLM spans opened inside it, so the leaderboard can group by them;
    ``hash_code=True`` adds a hash of the function's source to the variant fingerprint.
    A global ``configure(capture_content=False)`` wins over ``capture_input=True``.
    """
    if name is not None and (not isinstance(name, str) or not name):
        raise TypeError("name must be a non-empty string")
    for flag_name, flag in (
        ("capture_input", capture_input),
        ("capture_output", capture_output),
        ("capture_content", capture_content),
    ):
        _check_flag(flag_name, flag)
    if not isinstance(hash_code, bool):
        raise TypeError("hash_code must be True or False")
    if capture_content is False:
        capture_input = capture_output = False
    static = _static_attributes(kind, prompt, config, variant, model, provider, None)

    def decorate(fn: Callable[..., Any]) -> Any:
        if isinstance(fn, (staticmethod, classmethod)):
            return type(fn)(decorate(fn.__func__))
        if not callable(fn):
            raise TypeError(f"@plaudit.trace needs a function, got {type(fn).__name__}")
        attrs = static
        if hash_code:
            attrs = {**static, semconv.CODE_HASH: _code_hash(fn)}
            attrs[semconv.FINGERPRINT] = fingerprint(attrs)
        return _wrap(fn, name or _default_name(fn), kind, attrs, capture_input, capture_output, capture_content)

    if func is not None:
        return decorate(func)
    return decorate


class _Inputs:
    """Map a call's arguments to a JSON object of parameter names, computed once per function."""

    __slots__ = ("names", "skip_first")

    def __init__(self, fn: Callable[..., Any]) -> None:
        target = fn.func if isinstance(fn, functools.partial) else fn
        code = getattr(target, "__code__", None)
        names: tuple[str, ...] = code.co_varnames[: code.co_argcount] if code is not None else ()
        if isinstance(fn, functools.partial):
            names = names[len(fn.args) :]
        self.skip_first = bool(names) and names[0] in ("self", "cls")
        self.names = names

    def capture(self, args: tuple[Any, ...], kwargs: dict[str, Any], settings: Settings) -> str | None:
        names = self.names
        if self.skip_first:
            names, args = names[1:], args[1:]
        if not args and not kwargs:
            return None
        bound: dict[str, Any] = dict(zip(names, args, strict=False))
        if len(args) > len(names):
            bound["*args"] = list(args[len(names) :])
        if kwargs:
            bound.update(kwargs)
        return capture_text(bound, settings.max_value_length, settings.redact)


_Started = tuple[trace_api.Span, context_api.Context, object, bool, Settings]


def _wrap(
    fn: Callable[..., Any],
    span_name: str,
    kind: str | None,
    attrs: dict[str, Any],
    capture_input: bool | None,
    capture_output: bool | None,
    capture_content: bool | None,
) -> Any:
    inputs = _Inputs(fn)
    otel_kind = _otel_kind(kind)
    inherited = _inherited(attrs)

    def start(args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Started:
        settings = STATE.settings or get_settings()
        otel_span = (STATE.tracer or get_tracer()).start_span(span_name, kind=otel_kind, attributes=attrs)
        capture_out = False
        if otel_span.is_recording() and settings.capture_content and context_api.get_value(CAPTURE_KEY) is not False:
            capture_out = capture_output is not False
            if capture_input is not False:
                captured = inputs.capture(args, kwargs, settings)
                if captured is not None:
                    otel_span.set_attribute(semconv.INPUT, captured)
        ctx = _child_context(otel_span, inherited, capture_content)
        token = context_api.attach(ctx)
        return otel_span, ctx, token, capture_out, settings

    def finish(otel_span: trace_api.Span, token: object, output: Any, capture_out: bool, settings: Settings) -> None:
        try:
            context_api.detach(token)  # type: ignore[arg-type]
            if capture_out and output is not None:
                otel_span.set_attribute(
                    semconv.OUTPUT, capture_text(output, settings.max_value_length, settings.redact)
                )
            otel_span.end()
        except Exception:  # noqa: BLE001 - the result is the user's; our failure stays ours
            log_internal_error()

    if inspect.isasyncgenfunction(fn):
        return _wrap_async_generator(fn, start, finish)
    if inspect.isgeneratorfunction(fn):
        return _wrap_generator(fn, start, finish)
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                otel_span, _, token, capture_out, settings = start(args, kwargs)
            except Exception:  # noqa: BLE001 - tracing failed: run the call untraced
                log_internal_error()
                return await fn(*args, **kwargs)
            try:
                result = await fn(*args, **kwargs)
            except BaseException as exc:
                _end_with_error(otel_span, token, exc)
                raise
            finish(otel_span, token, result, capture_out, settings)
            return result

        return async_wrapper

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            otel_span, _, token, capture_out, settings = start(args, kwargs)
        except Exception:  # noqa: BLE001 - tracing failed: run the call untraced
            log_internal_error()
            return fn(*args, **kwargs)
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            _end_with_error(otel_span, token, exc)
            raise
        finish(otel_span, token, result, capture_out, settings)
        return result

    return wrapper


def _collected_output(items: list[Any]) -> Any:
    if items and all(isinstance(item, str) for item in items):
        return "".join(items)
    return items


def _wrap_generator(fn: Callable[..., Generator[Any, Any, Any]], start: Any, finish: Any) -> Any:
    """The span covers the whole iteration; the generator body runs inside the span's context."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        try:
            otel_span, span_ctx, token, capture_out, settings = start(args, kwargs)
            context_api.detach(token)
        except Exception:  # noqa: BLE001 - tracing failed: run the generator untraced
            log_internal_error()
            return (yield from fn(*args, **kwargs))
        items: list[Any] = []
        closed = False
        token = context_api.attach(span_ctx)
        try:
            gen = fn(*args, **kwargs)
            to_send: Any = None
            to_throw: BaseException | None = None
            while True:
                try:
                    item = gen.throw(to_throw) if to_throw is not None else gen.send(to_send)
                except StopIteration as stop:
                    finish(otel_span, token, _collected_output(items), capture_out, settings)
                    token = None
                    return stop.value
                to_throw = None
                if len(items) < _GENERATOR_ITEMS_KEPT:
                    items.append(item)
                context_api.detach(token)
                token = None
                try:
                    to_send = yield item
                except GeneratorExit:
                    token = context_api.attach(span_ctx)
                    gen.close()
                    closed = True
                    finish(otel_span, token, _collected_output(items), capture_out, settings)
                    raise
                except BaseException as exc:  # noqa: BLE001 - thrown in by the consumer: pass it to the generator
                    to_throw = exc
                token = context_api.attach(span_ctx)
        except BaseException as exc:
            if closed:
                raise
            if token is None:
                token = context_api.attach(span_ctx)
            _end_with_error(otel_span, token, exc)
            raise

    return wrapper


def _wrap_async_generator(fn: Callable[..., AsyncGenerator[Any, Any]], start: Any, finish: Any) -> Any:
    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        try:
            otel_span, span_ctx, token, capture_out, settings = start(args, kwargs)
            context_api.detach(token)
        except Exception:  # noqa: BLE001 - tracing failed: run the generator untraced
            log_internal_error()
            async for item in fn(*args, **kwargs):
                yield item
            return
        items: list[Any] = []
        closed = False
        token = context_api.attach(span_ctx)
        try:
            agen = fn(*args, **kwargs)
            to_send: Any = None
            to_throw: BaseException | None = None
            while True:
                try:
                    item = await (agen.athrow(to_throw) if to_throw is not None else agen.asend(to_send))
                except StopAsyncIteration:
                    finish(otel_span, token, _collected_output(items), capture_out, settings)
                    token = None
                    return
                to_throw = None
                if len(items) < _GENERATOR_ITEMS_KEPT:
                    items.append(item)
                context_api.detach(token)
                token = None
                try:
                    to_send = yield item
                except GeneratorExit:
                    token = context_api.attach(span_ctx)
                    await agen.aclose()
                    closed = True
                    finish(otel_span, token, _collected_output(items), capture_out, settings)
                    raise
                except BaseException as exc:  # noqa: BLE001 - thrown in by the consumer: pass it on
                    to_throw = exc
                token = context_api.attach(span_ctx)
        except BaseException as exc:
            if closed:
                raise
            if token is None:
                token = context_api.attach(span_ctx)
            _end_with_error(otel_span, token, exc)
            raise

    return wrapper


def _set_raise_internal_errors(value: bool) -> None:
    errors.RAISE_INTERNAL_ERRORS = value
