"""Provider setup and the two ways to open a span: ``@trace`` and ``span()``."""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from types import TracebackType
from typing import Any, TypeVar, overload

from opentelemetry import context as context_api
from opentelemetry import trace as trace_api
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from plaudit import semconv
from plaudit._internal import errors
from plaudit._internal.config import Settings, resolve
from plaudit._internal.errors import handle_internal_errors, log_internal_error, logger
from plaudit._internal.exporters.otlp import build_span_exporter
from plaudit._internal.feedback.refs import SpanRef
from plaudit._internal.handle import NoopSpan, SpanHandle
from plaudit._internal.processors import ContextAttributesProcessor
from plaudit._internal.prompt import Prompt
from plaudit._internal.serialize import config_attributes, config_hash, to_json
from plaudit._version import __version__
from plaudit.exceptions import PlauditConfigError

F = TypeVar("F", bound=Callable[..., Any])

_GENERATOR_ITEMS_KEPT = 1000


class _State:
    """Everything :func:`configure` sets up; replaced wholesale on re-configuration."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.settings: Settings | None = None
        self.provider: TracerProvider | None = None
        self.owns_provider = False
        self.processors: list[SpanProcessor] = []
        self.tracer: trace_api.Tracer | None = None
        self.feedback: Any = None  # FeedbackClient, imported lazily to keep `import plaudit` light


STATE = _State()


def configure(
    endpoint: str | None = None,
    api_key: str | None = None,
    project: str | None = None,
    service_name: str | None = None,
    *,
    capture_content: bool | None = None,
    max_value_length: int | None = None,
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
    Plaudit's processors to yours instead. Calling it again replaces the earlier setup.
    """
    if tracer_provider is not None and not isinstance(tracer_provider, TracerProvider):
        raise PlauditConfigError("tracer_provider must be an opentelemetry.sdk.trace.TracerProvider")
    settings = resolve(
        endpoint=endpoint,
        api_key=api_key,
        project=project,
        service_name=service_name,
        capture_content=capture_content,
        max_value_length=max_value_length,
        send=send,
        spool_dir=spool_dir,
    )
    with STATE.lock:
        _teardown()
        processors: list[SpanProcessor] = [ContextAttributesProcessor()]
        exporter = _span_exporter
        if exporter is None and settings.send:
            exporter = build_span_exporter(settings)
        if exporter is not None:
            processors.append(
                SimpleSpanProcessor(exporter)
                if _simple_processor
                else BatchSpanProcessor(
                    exporter,
                    max_queue_size=settings.max_queue_spans,
                    schedule_delay_millis=500,
                    max_export_batch_size=512,
                )
            )
        if tracer_provider is None:
            resource_attrs: dict[str, str] = {"service.name": settings.service_name}
            if settings.project:
                resource_attrs[semconv.PROJECT] = settings.project
            provider = TracerProvider(resource=Resource.create(resource_attrs))
            STATE.owns_provider = True
            if isinstance(trace_api.get_tracer_provider(), trace_api.ProxyTracerProvider):
                trace_api.set_tracer_provider(provider)
        else:
            provider = tracer_provider
            STATE.owns_provider = False
        for processor in processors:
            provider.add_span_processor(processor)
        STATE.settings = settings
        STATE.provider = provider
        STATE.processors = processors
        STATE.tracer = provider.get_tracer("plaudit", __version__)


def _teardown() -> None:
    """Flush and stop what an earlier :func:`configure` started."""
    if STATE.provider is not None:
        if STATE.owns_provider:
            STATE.provider.shutdown()
        else:
            for processor in STATE.processors:
                processor.force_flush()
                processor.shutdown()
    if STATE.feedback is not None:
        STATE.feedback.shutdown()
    STATE.provider = None
    STATE.tracer = None
    STATE.feedback = None
    STATE.processors = []


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
        if STATE.provider is not None:
            if STATE.owns_provider:
                ok = STATE.provider.force_flush(int(timeout * 1000)) and ok
            else:
                for processor in STATE.processors:
                    ok = processor.force_flush(int(timeout * 1000)) and ok
        if STATE.feedback is not None:
            ok = STATE.feedback.flush(timeout) and ok
    return ok


def shutdown(timeout: float = 30.0) -> None:
    """Flush, then stop background threads. Tracing is a no-op afterwards until configured again."""
    with handle_internal_errors:
        flush(timeout)
        with STATE.lock:
            _teardown()
            STATE.settings = Settings(send=False)
            STATE.tracer = trace_api.NoOpTracer()


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
    """Validate decorator/span arguments once and turn them into span attributes."""
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
    return attrs


def _otel_kind(kind: str | None) -> SpanKind:
    return SpanKind.CLIENT if kind in ("llm", "embedding") else SpanKind.INTERNAL


def _end_with_error(span: trace_api.Span, token: object, exc: BaseException) -> None:
    try:
        context_api.detach(token)  # type: ignore[arg-type]
        span.record_exception(exc, escaped=True)
        span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
        span.end()
    except Exception:  # noqa: BLE001 - the user's exception matters more than ours
        log_internal_error()


# --- span() ---------------------------------------------------------------------------------------------------


class span:  # lowercase: used like a function, `with plaudit.span(...)`
    """Open a span for a block: ``with plaudit.span("retrieve", kind="retrieval") as s: ...``.

    Takes the same arguments as :func:`trace`. The block's exceptions are recorded on the
    span and propagate unchanged. Yields a :class:`SpanHandle`.
    """

    __slots__ = ("_attrs", "_handle", "_kind", "_name", "_token")

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
    ) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError("span name must be a non-empty string")
        self._name = name
        self._kind = kind
        self._attrs = _static_attributes(kind, prompt, config, variant, model, provider, attributes)
        self._handle: SpanHandle | None = None
        self._token: object = None

    def __enter__(self) -> SpanHandle:
        try:
            settings = get_settings()
            otel_span = get_tracer().start_span(self._name, kind=_otel_kind(self._kind), attributes=self._attrs)
            self._token = context_api.attach(trace_api.set_span_in_context(otel_span))
            self._handle = SpanHandle(otel_span, settings.capture_content, settings.max_value_length)
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
) -> Any:
    """Trace every call of a function as a span: ``@plaudit.trace`` or ``@plaudit.trace(kind="llm", ...)``.

    Works on plain, async, generator and async-generator functions and on methods. Inputs and
    the output are captured as JSON (truncated, off with ``capture_content=False``); exceptions
    are recorded on the span and re-raised unchanged. ``prompt``, ``config``, ``variant`` and
    ``model`` are stamped on the span so the leaderboard can group by them.
    """
    attrs = _static_attributes(kind, prompt, config, variant, model, None if provider is None else provider, None)
    if name is not None and (not isinstance(name, str) or not name):
        raise TypeError("name must be a non-empty string")
    for flag_name, flag in (("capture_input", capture_input), ("capture_output", capture_output)):
        # A truthy string such as "no" would silently capture content: refuse it at decoration time.
        if flag is not None and not isinstance(flag, bool):
            raise TypeError(f"{flag_name} must be True, False or None, got {type(flag).__name__}")

    def decorate(fn: Callable[..., Any]) -> Any:
        if isinstance(fn, (staticmethod, classmethod)):
            return type(fn)(decorate(fn.__func__))
        if not callable(fn):
            raise TypeError(f"@plaudit.trace needs a function, got {type(fn).__name__}")
        return _wrap(fn, name or getattr(fn, "__qualname__", repr(fn)), kind, attrs, capture_input, capture_output)

    if func is not None:
        return decorate(func)
    return decorate


class _Inputs:
    """Map a call's arguments to a JSON object of parameter names, computed once per function."""

    __slots__ = ("names", "skip_first")

    def __init__(self, fn: Callable[..., Any]) -> None:
        code = getattr(fn, "__code__", None)
        names: tuple[str, ...] = code.co_varnames[: code.co_argcount] if code is not None else ()
        self.skip_first = bool(names) and names[0] in ("self", "cls")
        self.names = names

    def capture(self, args: tuple[Any, ...], kwargs: dict[str, Any], limit: int) -> str | None:
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
        return to_json(bound, limit)


def _wrap(
    fn: Callable[..., Any],
    span_name: str,
    kind: str | None,
    attrs: dict[str, Any],
    capture_input: bool | None,
    capture_output: bool | None,
) -> Any:
    inputs = _Inputs(fn)
    otel_kind = _otel_kind(kind)

    def start(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[trace_api.Span, object, bool, int]:
        settings = STATE.settings or get_settings()
        otel_span = (STATE.tracer or get_tracer()).start_span(span_name, kind=otel_kind, attributes=attrs)
        capture = settings.capture_content
        limit = settings.max_value_length
        if (capture if capture_input is None else capture_input) and otel_span.is_recording():
            captured = inputs.capture(args, kwargs, limit)
            if captured is not None:
                otel_span.set_attribute(semconv.INPUT, captured)
        token = context_api.attach(trace_api.set_span_in_context(otel_span))
        return otel_span, token, (capture if capture_output is None else capture_output), limit

    def finish(otel_span: trace_api.Span, token: object, output: Any, capture_out: bool, limit: int) -> None:
        try:
            context_api.detach(token)  # type: ignore[arg-type]
            if capture_out and output is not None and otel_span.is_recording():
                otel_span.set_attribute(semconv.OUTPUT, to_json(output, limit))
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
                otel_span, token, capture_out, limit = start(args, kwargs)
            except Exception:  # noqa: BLE001 - tracing failed: run the call untraced
                log_internal_error()
                return await fn(*args, **kwargs)
            try:
                result = await fn(*args, **kwargs)
            except BaseException as exc:
                _end_with_error(otel_span, token, exc)
                raise
            finish(otel_span, token, result, capture_out, limit)
            return result

        return async_wrapper

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            otel_span, token, capture_out, limit = start(args, kwargs)
        except Exception:  # noqa: BLE001 - tracing failed: run the call untraced
            log_internal_error()
            return fn(*args, **kwargs)
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            _end_with_error(otel_span, token, exc)
            raise
        finish(otel_span, token, result, capture_out, limit)
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
            otel_span, token, capture_out, limit = start(args, kwargs)
            context_api.detach(token)
            span_ctx = trace_api.set_span_in_context(otel_span)
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
                    finish(otel_span, token, _collected_output(items), capture_out, limit)
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
                    finish(otel_span, token, _collected_output(items), capture_out, limit)
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
            otel_span, token, capture_out, limit = start(args, kwargs)
            context_api.detach(token)
            span_ctx = trace_api.set_span_in_context(otel_span)
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
                    finish(otel_span, token, _collected_output(items), capture_out, limit)
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
                    finish(otel_span, token, _collected_output(items), capture_out, limit)
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
