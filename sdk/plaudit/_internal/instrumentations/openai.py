"""Trace the ``openai`` library's chat completions as OTel GenAI CLIENT spans.

Our own thin wrapper rather than ``opentelemetry-instrumentation-openai-v2``: that package (2.4b0) pins
``opentelemetry-semantic-conventions~=0.60b0`` and pulls in ``opentelemetry-instrumentation``,
``opentelemetry-util-genai`` and ``wrapt``; it records message content through the Logs API under its
own environment switches, so Plaudit's ``capture_content``/``redact`` rules could not apply, and it
records no time to first chunk on the span. What we need is small: one span per
``chat.completions.create`` (sync and async; ``stream=True`` too, which also covers the ``.stream()``
helper), request and response attributes under the ``gen_ai.*`` names, and the stream observed in place.

Every wrapper follows the same order: our parsing in a try (on failure the original runs untraced),
the user's call outside our try, user exceptions recorded and re-raised unchanged, the original
result returned as the very same object. A stream is observed by swapping the private iterator the
``Stream`` object reads from for a generator that passes each chunk through untouched; when that
attribute is missing (another ``openai`` layout) the span ends at once, without the stream's data.
"""

from __future__ import annotations

import functools
import json
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from opentelemetry import context as context_api
from opentelemetry import trace as trace_api
from opentelemetry.trace import SpanKind, Status, StatusCode

from plaudit import semconv
from plaudit._internal.context import capture_allowed
from plaudit._internal.errors import handle_internal_errors, log_internal_error
from plaudit._internal.genai import scalar, span_name, text_part, tool_call_part, tool_response_part
from plaudit._internal.serialize import capture_text, dumps
from plaudit._internal.tracing import get_settings, get_tracer

PROVIDER = "openai"
OPERATION = "chat"

_REQUEST_PARAMS = (
    ("temperature", semconv.GEN_AI_REQUEST_TEMPERATURE),
    ("top_p", semconv.GEN_AI_REQUEST_TOP_P),
    ("max_completion_tokens", semconv.GEN_AI_REQUEST_MAX_TOKENS),
    ("max_tokens", semconv.GEN_AI_REQUEST_MAX_TOKENS),
    ("seed", semconv.GEN_AI_REQUEST_SEED),
    ("frequency_penalty", semconv.GEN_AI_REQUEST_FREQUENCY_PENALTY),
    ("presence_penalty", semconv.GEN_AI_REQUEST_PRESENCE_PENALTY),
)


def _get(obj: Any, name: str) -> Any:
    """A field of a response model or of a plain dict (``with_raw_response`` and tests hand either)."""
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


# --- request ------------------------------------------------------------------------------------------------


def _message_parts(message: Any) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    content = _get(message, "content")
    if isinstance(content, str):
        parts.append(text_part(content))
    elif isinstance(content, list):
        for block in content:
            if _get(block, "type") == "text":
                parts.append(text_part(str(_get(block, "text"))))
            else:
                parts.append({"type": str(_get(block, "type") or "unknown")})
    for call in _get(message, "tool_calls") or ():
        function = _get(call, "function") or {}
        parts.append(tool_call_part(_get(call, "id"), _get(function, "name"), _arguments(_get(function, "arguments"))))
    return parts


def _arguments(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def _input_messages(messages: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for message in messages or ():
        role = str(_get(message, "role") or "user")
        if role == "tool":
            out.append(
                {"role": "tool", "parts": [tool_response_part(_get(message, "tool_call_id"), _get(message, "content"))]}
            )
        else:
            out.append({"role": role, "parts": _message_parts(message)})
    return out


def request_attributes(kwargs: dict[str, Any], capture: bool) -> dict[str, Any]:
    """Span attributes known before the call, from ``create``'s keyword arguments."""
    model = kwargs.get("model")
    attrs: dict[str, Any] = {
        semconv.GEN_AI_OPERATION_NAME: OPERATION,
        semconv.GEN_AI_PROVIDER_NAME: PROVIDER,
        semconv.SPAN_KIND: "llm",
    }
    if isinstance(model, str):
        attrs[semconv.GEN_AI_REQUEST_MODEL] = model
    for param, key in _REQUEST_PARAMS:
        value = kwargs.get(param)
        if scalar(value) and key not in attrs:
            attrs[key] = value
    stop = kwargs.get("stop")
    if isinstance(stop, str):
        attrs[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = [stop]
    elif isinstance(stop, (list, tuple)) and all(isinstance(s, str) for s in stop):
        attrs[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = list(stop)
    n = kwargs.get("n")
    if isinstance(n, int) and n != 1:
        attrs[semconv.GEN_AI_REQUEST_CHOICE_COUNT] = n
    if kwargs.get("stream") is True:
        attrs[semconv.GEN_AI_REQUEST_STREAM] = True
    if capture:
        settings = get_settings()
        attrs[semconv.GEN_AI_INPUT_MESSAGES] = capture_text(
            dumps(_input_messages(kwargs.get("messages"))), settings.max_value_length, settings.redact
        )
        tools = kwargs.get("tools")
        if tools:
            attrs[semconv.GEN_AI_TOOL_DEFINITIONS] = capture_text(dumps(list(tools)), settings.max_value_length, None)
    return attrs


# --- response -----------------------------------------------------------------------------------------------


def _usage_attributes(usage: Any) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    if usage is None:
        return attrs
    for field, key in (
        ("prompt_tokens", semconv.GEN_AI_USAGE_INPUT_TOKENS),
        ("completion_tokens", semconv.GEN_AI_USAGE_OUTPUT_TOKENS),
    ):
        value = _get(usage, field)
        if isinstance(value, int):
            attrs[key] = value
    cached = _get(_get(usage, "prompt_tokens_details"), "cached_tokens")
    if isinstance(cached, int):
        attrs[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = cached
    reasoning = _get(_get(usage, "completion_tokens_details"), "reasoning_tokens")
    if isinstance(reasoning, int):
        attrs[semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = reasoning
    return attrs


def _output_message(message: Any, finish_reason: Any) -> dict[str, Any]:
    return {
        "role": str(_get(message, "role") or "assistant"),
        "parts": _message_parts(message),
        "finish_reason": str(finish_reason) if finish_reason is not None else "",
    }


def response_attributes(response: Any, capture: bool) -> dict[str, Any]:
    """Span attributes from a ``ChatCompletion``."""
    attrs: dict[str, Any] = {}
    for field, key in (("model", semconv.GEN_AI_RESPONSE_MODEL), ("id", semconv.GEN_AI_RESPONSE_ID)):
        value = _get(response, field)
        if isinstance(value, str):
            attrs[key] = value
    choices = _get(response, "choices") or []
    reasons = [str(_get(c, "finish_reason")) for c in choices if _get(c, "finish_reason") is not None]
    if reasons:
        attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS] = reasons
    attrs.update(_usage_attributes(_get(response, "usage")))
    if capture and choices:
        settings = get_settings()
        messages = [_output_message(_get(c, "message"), _get(c, "finish_reason")) for c in choices]
        attrs[semconv.GEN_AI_OUTPUT_MESSAGES] = capture_text(
            dumps(messages), settings.max_value_length, settings.redact
        )
    return attrs


class _StreamState:
    """What the chunks of a streamed completion add up to; turned into attributes when the stream ends."""

    def __init__(self, span: trace_api.Span, started: float, capture: bool) -> None:
        self.span = span
        self.started = started
        self.capture = capture
        self.first_chunk_at: float | None = None
        self.model: str | None = None
        self.response_id: str | None = None
        self.usage: Any = None
        self.choices: dict[int, dict[str, Any]] = {}
        self.ended = False

    def add(self, chunk: Any) -> None:
        if self.first_chunk_at is None:
            self.first_chunk_at = time.perf_counter()
        self.model = _get(chunk, "model") or self.model
        self.response_id = _get(chunk, "id") or self.response_id
        usage = _get(chunk, "usage")
        if usage is not None:  # the final chunk, with stream_options={"include_usage": True}
            self.usage = usage
        for choice in _get(chunk, "choices") or ():
            index = _get(choice, "index") or 0
            acc = self.choices.setdefault(index, {"text": [], "tools": {}, "finish_reason": None, "role": None})
            finish = _get(choice, "finish_reason")
            if finish is not None:
                acc["finish_reason"] = str(finish)
            delta = _get(choice, "delta")
            if delta is None:
                continue
            acc["role"] = _get(delta, "role") or acc["role"]
            content = _get(delta, "content")
            if isinstance(content, str) and self.capture:
                acc["text"].append(content)
            for call in _get(delta, "tool_calls") or ():
                slot = acc["tools"].setdefault(_get(call, "index") or 0, {"id": None, "name": None, "arguments": []})
                slot["id"] = _get(call, "id") or slot["id"]
                function = _get(call, "function")
                if function is not None:
                    slot["name"] = _get(function, "name") or slot["name"]
                    arguments = _get(function, "arguments")
                    if isinstance(arguments, str) and self.capture:
                        slot["arguments"].append(arguments)

    def attributes(self) -> dict[str, Any]:
        attrs: dict[str, Any] = {}
        if self.first_chunk_at is not None:
            attrs[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = self.first_chunk_at - self.started
        if self.model:
            attrs[semconv.GEN_AI_RESPONSE_MODEL] = self.model
        if self.response_id:
            attrs[semconv.GEN_AI_RESPONSE_ID] = self.response_id
        ordered = [self.choices[i] for i in sorted(self.choices)]
        reasons = [c["finish_reason"] for c in ordered if c["finish_reason"] is not None]
        if reasons:
            attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS] = reasons
        attrs.update(_usage_attributes(self.usage))
        if self.capture and ordered:
            messages = []
            for choice in ordered:
                parts: list[dict[str, Any]] = []
                text = "".join(choice["text"])
                if text:
                    parts.append(text_part(text))
                for _, tool in sorted(choice["tools"].items()):
                    parts.append(tool_call_part(tool["id"], tool["name"], _arguments("".join(tool["arguments"]))))
                messages.append(
                    {
                        "role": choice["role"] or "assistant",
                        "parts": parts,
                        "finish_reason": choice["finish_reason"] or "",
                    }
                )
            settings = get_settings()
            attrs[semconv.GEN_AI_OUTPUT_MESSAGES] = capture_text(
                dumps(messages), settings.max_value_length, settings.redact
            )
        return attrs

    def end(self, error: BaseException | None = None) -> None:
        """End the span once: on exhaustion, close, or an error while reading (recorded, never raised here)."""
        if self.ended:
            return
        self.ended = True
        try:
            self.span.set_attributes(self.attributes())
            if error is not None:
                _record_error(self.span, error)
            self.span.end()
        except Exception:  # noqa: BLE001 - the stream is the user's; our failure stays ours
            log_internal_error()


def _record_error(span: trace_api.Span, exc: BaseException) -> None:
    span.record_exception(exc, escaped=True)
    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
    span.set_attribute(semconv.ERROR_TYPE, type(exc).__qualname__)


def _observe_sync(stream: Any, state: _StreamState) -> None:
    inner: Iterator[Any] = stream._iterator

    def observed() -> Iterator[Any]:
        try:
            for chunk in inner:
                with handle_internal_errors:
                    state.add(chunk)
                yield chunk
        except GeneratorExit:
            state.end()
            raise
        except BaseException as exc:
            state.end(exc)
            raise
        state.end()

    original_close = stream.close

    @functools.wraps(original_close)
    def close() -> None:
        try:
            original_close()
        finally:
            state.end()

    stream._iterator = observed()
    stream.close = close


def _observe_async(stream: Any, state: _StreamState) -> None:
    inner: AsyncIterator[Any] = stream._iterator

    async def observed() -> AsyncIterator[Any]:
        try:
            async for chunk in inner:
                with handle_internal_errors:
                    state.add(chunk)
                yield chunk
        except GeneratorExit:
            state.end()
            raise
        except BaseException as exc:
            state.end(exc)
            raise
        state.end()

    original_close = stream.close

    @functools.wraps(original_close)
    async def close() -> None:
        try:
            await original_close()
        finally:
            state.end()

    stream._iterator = observed()
    stream.close = close


# --- wrappers -----------------------------------------------------------------------------------------------


def _start(kwargs: dict[str, Any]) -> tuple[trace_api.Span, bool]:
    settings = get_settings()
    capture = settings.capture_content and capture_allowed()
    attrs = request_attributes(kwargs, capture)
    model = attrs.get(semconv.GEN_AI_REQUEST_MODEL)
    span = get_tracer().start_span(span_name(OPERATION, model), kind=SpanKind.CLIENT, attributes=attrs)
    return span, capture


def _finish(span: trace_api.Span, result: Any, capture: bool, started: float, stream_kind: str) -> None:
    """Record the result on the span and end it, or hand the span to the stream that will end it."""
    if stream_kind and hasattr(result, "_iterator") and hasattr(result, "close"):
        state = _StreamState(span, started, capture)
        (_observe_async if stream_kind == "async" else _observe_sync)(result, state)
        weakref.finalize(result, state.end)  # a stream dropped unread and unclosed still ends its span
        return
    if _get(result, "choices") is not None:
        span.set_attributes(response_attributes(result, capture))
    span.end()


def _is_stream(result: Any, cls: type | None) -> bool:
    return cls is not None and isinstance(result, cls)


def wrap_sync(original: Callable[..., Any], stream_cls: type | None) -> Callable[..., Any]:
    @functools.wraps(original)
    def create(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            span, capture = _start(kwargs)
            token = context_api.attach(trace_api.set_span_in_context(span))
        except Exception:  # noqa: BLE001 - telemetry must not alter the call
            log_internal_error()
            return original(self, *args, **kwargs)
        started = time.perf_counter()
        try:
            result = original(self, *args, **kwargs)
        except BaseException as exc:
            with handle_internal_errors:
                context_api.detach(token)
                _record_error(span, exc)
                span.end()
            raise
        with handle_internal_errors:
            context_api.detach(token)
            _finish(span, result, capture, started, "sync" if _is_stream(result, stream_cls) else "")
        return result

    create.__plaudit_original__ = original  # type: ignore[attr-defined]
    return create


def wrap_async(original: Callable[..., Any], stream_cls: type | None) -> Callable[..., Any]:
    @functools.wraps(original)
    async def create(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            span, capture = _start(kwargs)
            token = context_api.attach(trace_api.set_span_in_context(span))
        except Exception:  # noqa: BLE001 - telemetry must not alter the call
            log_internal_error()
            return await original(self, *args, **kwargs)
        started = time.perf_counter()
        try:
            result = await original(self, *args, **kwargs)
        except BaseException as exc:
            with handle_internal_errors:
                context_api.detach(token)
                _record_error(span, exc)
                span.end()
            raise
        with handle_internal_errors:
            context_api.detach(token)
            _finish(span, result, capture, started, "async" if _is_stream(result, stream_cls) else "")
        return result

    create.__plaudit_original__ = original  # type: ignore[attr-defined]
    return create


def apply() -> Callable[[], None]:
    """Patch ``Completions.create`` and ``AsyncCompletions.create``; return the undo."""
    import openai
    from openai.resources.chat.completions import AsyncCompletions, Completions

    originals = {Completions: Completions.create, AsyncCompletions: AsyncCompletions.create}
    Completions.create = wrap_sync(originals[Completions], openai.Stream)  # type: ignore[method-assign]
    AsyncCompletions.create = wrap_async(originals[AsyncCompletions], openai.AsyncStream)  # type: ignore[method-assign]

    def undo() -> None:
        for cls, original in originals.items():
            cls.create = original  # type: ignore[method-assign]

    return undo
