"""``@plaudit.trace``: one decorator for plain, async, generator and async-generator functions.

It owns what is particular to wrapping a function: naming the span after it, binding the call's
arguments to parameter names for the captured input, capturing the return value, and keeping a
generator's span open across every ``yield`` (with the generator body running inside the span's
context, the consumer's code outside it) until the generator is exhausted, closed or fails. Argument
checking and attribute stamping are shared with ``span()`` through ``span_common.py``.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from typing import Any, TypeVar, overload

from opentelemetry import context as context_api
from opentelemetry import trace as trace_api

from plaudit import semconv
from plaudit._internal.config import Settings
from plaudit._internal.context import CAPTURE_KEY, CONTEXT_KEY, STAMPED_KEY, VARIANT_KEY, PlainStart
from plaudit._internal.errors import log_internal_error
from plaudit._internal.feedback.refs import remember
from plaudit._internal.genai import fingerprint
from plaudit._internal.prompt import Prompt
from plaudit._internal.provider import get_settings, get_tracer
from plaudit._internal.serialize import (
    ITEM_SEPARATOR,
    LONG_STRING,
    SCALAR_JSON,
    capture_text,
    encode_string,
    json_key,
    quoted_as_is,
)
from plaudit._internal.span_common import (
    check_flag,
    child_context,
    end_with_error,
    inherited_attributes,
    otel_kind,
    set_captured,
    set_captured_publicly,
    static_attributes,
    stored_directly,
)
from plaudit._internal.state import STATE

F = TypeVar("F", bound=Callable[..., Any])

_GENERATOR_ITEMS_KEPT = 1000
_OPEN, _CLOSE = "{", "}"
_scalar_encoder = SCALAR_JSON.get


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
        check_flag(flag_name, flag)
    if not isinstance(hash_code, bool):
        raise TypeError("hash_code must be True or False")
    if capture_content is False:
        capture_input = capture_output = False
    static = static_attributes(kind, prompt, config, variant, model, provider, None)

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


class _Inputs:
    """Map a call's arguments to a JSON object of parameter names, computed once per function."""

    __slots__ = ("heads", "members", "names", "positions", "skip_first")

    def __init__(self, fn: Callable[..., Any]) -> None:
        target = fn.func if isinstance(fn, functools.partial) else fn
        code = getattr(target, "__code__", None)
        names: tuple[str, ...] = code.co_varnames[: code.co_argcount] if code is not None else ()
        if isinstance(fn, functools.partial):
            names = names[len(fn.args) :]
        self.skip_first = bool(names) and names[0] in ("self", "cls")
        self.names = names[1:] if self.skip_first else names
        self.members = {name: json_key(name) for name in self.names}  # `"name": `
        # What precedes each positional value: the object's opening or a separator, then its member name.
        self.heads = tuple((ITEM_SEPARATOR if i else _OPEN) + self.members[name] for i, name in enumerate(self.names))
        self.positions = {name: i for i, name in enumerate(self.names)}

    def capture(self, args: tuple[Any, ...], kwargs: dict[str, Any], settings: Settings) -> str | None:
        """The call's arguments as a JSON object of parameter names, redacted and truncated; None without any.

        When every argument is a plain scalar (the common call) the text is written here, as the encoder would
        write the :meth:`_bound` mapping, in one frame: no mapping, no encoder set-up, one join copying each value
        once. Anything else goes to the encoder through :func:`capture_text`."""
        if self.skip_first:
            args = args[1:]
        if not args and not kwargs:
            return None
        heads = self.heads
        if len(args) > len(heads):
            return self._encoded(args, kwargs, settings)
        parts: list[str] = []
        append = parts.append
        for head, value in zip(heads, args):  # noqa: B905 - no more args than heads (checked above); strict= costs a call
            if type(value) is str:  # what the str entry of SCALAR_JSON returns, without its frame
                if len(value) < LONG_STRING or not quoted_as_is(value):
                    text = encode_string(value)
                else:  # quoted in the join itself: a long value is copied once, not twice
                    append(head)
                    append('"')
                    append(value)
                    append('"')
                    continue
            else:
                encode = _scalar_encoder(type(value))
                text = encode(value) if encode is not None else None
                if text is None:
                    return self._encoded(args, kwargs, settings)
            append(head)
            append(text)
        if kwargs:
            members, positions, given = self.members, self.positions, len(args)
            for name, value in kwargs.items():
                position = positions.get(name)
                if position is not None and position < given:
                    return self._encoded(args, kwargs, settings)  # also passed by position: the mapping says which wins
                encode = _scalar_encoder(type(value))
                text = encode(value) if encode is not None else None
                if text is None:
                    return self._encoded(args, kwargs, settings)
                append(ITEM_SEPARATOR if parts else _OPEN)
                append(members.get(name) or json_key(name))
                append(text)
        append(_CLOSE)
        text = "".join(parts)
        limit, redact = settings.max_value_length, settings.redact
        if redact is None and len(text) <= limit:
            return text  # capture_text's own fast path, without its frame
        return capture_text(text, limit, redact)

    def _encoded(self, args: tuple[Any, ...], kwargs: dict[str, Any], settings: Settings) -> str:
        """The captured text of the :meth:`_bound` mapping, through the shared encoder."""
        return capture_text(self._bound(args, kwargs), settings.max_value_length, settings.redact)

    def _bound(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        names = self.names
        bound: dict[str, Any] = dict(zip(names, args, strict=False))
        if len(args) > len(names):
            bound["*args"] = list(args[len(names) :])
        if kwargs:
            bound.update(kwargs)
        return bound


_Started = tuple[trace_api.Span, context_api.Context, object, bool, Settings, str | None]
"""The span, its context, the context token, whether to capture the output, the settings, and the captured input
not yet written (see :func:`~plaudit._internal.span_common.set_captured`)."""


def _will_record(parent: context_api.Context) -> bool:
    """Whether a span started in ``parent`` is sure to be recorded, so its input is worth serialising first.

    Known only for Plaudit's own provider keeping every trace (a root span, or the child of a kept one);
    otherwise the span is started first and asked (a sampled-out call then serialises nothing).
    """
    if not STATE.owns_provider or not STATE.sampler.keeps_all:
        return False
    parent_span = trace_api.get_current_span(parent).get_span_context()
    return not parent_span.is_valid or parent_span.trace_flags.sampled


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
    span_kind = otel_kind(kind)
    inherited = inherited_attributes(attrs)
    plain_context = inherited is None and capture_content is None  # the body's context only gains the span

    def start(args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Started:
        settings = STATE.settings or get_settings()
        tracer = STATE.tracer or get_tracer()
        parent = context_api.get_current()
        allowed = parent.get(CAPTURE_KEY) is not False
        capture = settings.capture_content and allowed
        input_pending = capture and capture_input is not False
        span_attrs, start_ctx = attrs, parent
        if not attrs:
            if allowed and STATE.owns_provider and CONTEXT_KEY not in parent and VARIANT_KEY not in parent:
                start_ctx = PlainStart(parent)
        elif (input_pending or CONTEXT_KEY in parent) and _will_record(parent):
            # Known to be kept: the input and the plaudit.context attributes join the static attributes, one dict
            # at span start, in the order the processor would have set them. (Without static attributes, writing
            # the input with the output as the call ends is the cheaper way: no mapping for OpenTelemetry to check.)
            extra: dict[str, Any] = {}
            if input_pending:
                captured = inputs.capture(args, kwargs, settings)
                if captured is not None:
                    extra[semconv.INPUT] = captured
                input_pending = False
            request = parent.get(CONTEXT_KEY)
            if request:
                extra.update(request)  # type: ignore[call-overload]
                start_ctx = context_api.set_value(STAMPED_KEY, request, parent)  # only for the processor
            if extra:
                span_attrs = {**attrs, **extra}
        otel_span = tracer.start_span(span_name, context=start_ctx, kind=span_kind, attributes=span_attrs)
        capture_out = False
        pending = None  # the input, serialised now and written with the output as the call ends
        if capture and otel_span.is_recording():
            capture_out = capture_output is not False
            if input_pending:
                pending = inputs.capture(args, kwargs, settings)
        if plain_context:
            ctx = trace_api.set_span_in_context(otel_span, parent)
        else:
            ctx = child_context(otel_span, inherited, capture_content, parent)
        token = context_api.attach(ctx)
        return otel_span, ctx, token, capture_out, settings, pending

    def finish(
        otel_span: trace_api.Span,
        token: object,
        output: Any,
        capture_out: bool,
        settings: Settings,
        pending: str | None,
    ) -> None:
        try:
            context_api.detach(token)  # type: ignore[arg-type]
            if capture_out and output is not None:
                if type(output) is str and len(output) <= settings.max_value_length and settings.redact is None:
                    text = output  # capture_text's own fast path (the common reply), without its frame
                else:
                    text = capture_text(output, settings.max_value_length, settings.redact)
                if not stored_directly(otel_span, semconv.INPUT, pending, semconv.OUTPUT, text):
                    set_captured_publicly(otel_span, pending, text)  # set_captured, without its frame
            elif pending is not None:
                set_captured(otel_span, pending, None)
            otel_span.end()
            remember(otel_span)
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
                otel_span, _, token, capture_out, settings, pending = start(args, kwargs)
            except Exception:  # noqa: BLE001 - tracing failed: run the call untraced
                log_internal_error()
                return await fn(*args, **kwargs)
            try:
                result = await fn(*args, **kwargs)
            except BaseException as exc:
                end_with_error(otel_span, token, exc, pending)
                raise
            finish(otel_span, token, result, capture_out, settings, pending)
            return result

        return async_wrapper

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            otel_span, _, token, capture_out, settings, pending = start(args, kwargs)
        except Exception:  # noqa: BLE001 - tracing failed: run the call untraced
            log_internal_error()
            return fn(*args, **kwargs)
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            end_with_error(otel_span, token, exc, pending)
            raise
        finish(otel_span, token, result, capture_out, settings, pending)
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
            otel_span, span_ctx, token, capture_out, settings, pending = start(args, kwargs)
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
                    finish(otel_span, token, _collected_output(items), capture_out, settings, pending)
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
                    finish(otel_span, token, _collected_output(items), capture_out, settings, pending)
                    raise
                except BaseException as exc:  # noqa: BLE001 - thrown in by the consumer: pass it to the generator
                    to_throw = exc
                token = context_api.attach(span_ctx)
        except BaseException as exc:
            if closed:
                raise
            if token is None:
                token = context_api.attach(span_ctx)
            end_with_error(otel_span, token, exc, pending)
            raise

    return wrapper


def _wrap_async_generator(fn: Callable[..., AsyncGenerator[Any, Any]], start: Any, finish: Any) -> Any:
    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        try:
            otel_span, span_ctx, token, capture_out, settings, pending = start(args, kwargs)
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
                    finish(otel_span, token, _collected_output(items), capture_out, settings, pending)
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
                    finish(otel_span, token, _collected_output(items), capture_out, settings, pending)
                    raise
                except BaseException as exc:  # noqa: BLE001 - thrown in by the consumer: pass it on
                    to_throw = exc
                token = context_api.attach(span_ctx)
        except BaseException as exc:
            if closed:
                raise
            if token is None:
                token = context_api.attach(span_ctx)
            end_with_error(otel_span, token, exc, pending)
            raise

    return wrapper
