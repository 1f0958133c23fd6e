"""Trace the ``openai`` library's chat completions, Responses API and embeddings calls as OTel GenAI CLIENT spans.

Our own thin wrapper rather than ``opentelemetry-instrumentation-openai-v2``: that package (2.4b0) pins
``opentelemetry-semantic-conventions~=0.60b0`` and pulls in ``opentelemetry-instrumentation``,
``opentelemetry-util-genai`` and ``wrapt``; it records message content through the Logs API under its
own environment switches, so Plaudit's ``capture_content``/``redact`` rules could not apply, and it
records no time to first chunk on the span. What we need is small: one span per
``chat.completions.create`` and per ``responses.create`` (sync and async; ``stream=True`` too, which also
covers both ``.stream()`` helpers), request and response attributes under the ``gen_ai.*`` names, and the
stream observed in place. The GenAI conventions name a Responses API call ``chat`` like a chat completion
and record its ``instructions`` under ``gen_ai.system_instructions`` (non-normative LLM-call examples).

The structured-output ``parse`` methods of both resources post on their own rather than through ``create``,
so they are wrapped too, as the same ``chat`` spans; the pydantic class they take (``response_format``,
``text_format``) is not read. ``embeddings.create`` is an ``embeddings`` span whose attributes are built in
``openai_embeddings.py``.

Every wrapper follows the same order: our parsing in a try (on failure the original runs untraced),
the user's call outside our try, user exceptions recorded and re-raised unchanged, the original
result returned as the very same object. A stream is observed by swapping the private iterator the
``Stream`` object reads from for a generator that passes each chunk through untouched; when that
attribute is missing (another ``openai`` layout) the span ends at once, without the stream's data.
"""

from __future__ import annotations

import functools
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from opentelemetry import context as context_api
from opentelemetry import trace as trace_api
from opentelemetry.trace import SpanKind, Status, StatusCode

from plaudit import semconv
from plaudit._internal.context import capture_allowed
from plaudit._internal.errors import handle_internal_errors, log_internal_error
from plaudit._internal.genai import span_name, text_part, tool_call_part, tool_response_part
from plaudit._internal.instrumentations import openai_embeddings
from plaudit._internal.instrumentations.openai_common import (
    OPERATION,
    captured,
    common_request_attributes,
    get_field,
    identity_attributes,
    listed,
    parse_arguments,
    usage_attributes,
)
from plaudit._internal.provider import get_settings, get_tracer

_REQUEST_PARAMS = (
    ("temperature", semconv.GEN_AI_REQUEST_TEMPERATURE),
    ("top_p", semconv.GEN_AI_REQUEST_TOP_P),
    ("max_completion_tokens", semconv.GEN_AI_REQUEST_MAX_TOKENS),
    ("max_tokens", semconv.GEN_AI_REQUEST_MAX_TOKENS),
    ("seed", semconv.GEN_AI_REQUEST_SEED),
    ("frequency_penalty", semconv.GEN_AI_REQUEST_FREQUENCY_PENALTY),
    ("presence_penalty", semconv.GEN_AI_REQUEST_PRESENCE_PENALTY),
)
_RESPONSES_PARAMS = (
    ("temperature", semconv.GEN_AI_REQUEST_TEMPERATURE),
    ("top_p", semconv.GEN_AI_REQUEST_TOP_P),
    ("max_output_tokens", semconv.GEN_AI_REQUEST_MAX_TOKENS),
)
# (input tokens, output tokens, input details, output details) in each endpoint's usage object
_CHAT_USAGE = ("prompt_tokens", "completion_tokens", "prompt_tokens_details", "completion_tokens_details")
_RESPONSES_USAGE = ("input_tokens", "output_tokens", "input_tokens_details", "output_tokens_details")


# --- chat completions: request ------------------------------------------------------------------------------


def _message_parts(message: Any) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    content = get_field(message, "content")
    if isinstance(content, str):
        parts.append(text_part(content))
    elif isinstance(content, list):
        for block in content:
            if get_field(block, "type") == "text":
                parts.append(text_part(str(get_field(block, "text"))))
            else:
                parts.append({"type": str(get_field(block, "type") or "unknown")})
    for call in get_field(message, "tool_calls") or ():
        function = get_field(call, "function") or {}
        parts.append(
            tool_call_part(
                get_field(call, "id"), get_field(function, "name"), parse_arguments(get_field(function, "arguments"))
            )
        )
    return parts


def _input_messages(messages: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for message in listed(messages):
        role = str(get_field(message, "role") or "user")
        if role == "tool":
            out.append(
                {
                    "role": "tool",
                    "parts": [tool_response_part(get_field(message, "tool_call_id"), get_field(message, "content"))],
                }
            )
        else:
            out.append({"role": role, "parts": _message_parts(message)})
    return out


def request_attributes(kwargs: dict[str, Any], capture: bool) -> dict[str, Any]:
    """Span attributes known before the call, from ``chat.completions.create``'s keyword arguments."""
    attrs = common_request_attributes(kwargs, _REQUEST_PARAMS)
    stop = kwargs.get("stop")
    if isinstance(stop, str):
        attrs[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = [stop]
    elif isinstance(stop, (list, tuple)) and all(isinstance(s, str) for s in stop):
        attrs[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = list(stop)
    n = kwargs.get("n")
    if isinstance(n, int) and n != 1:
        attrs[semconv.GEN_AI_REQUEST_CHOICE_COUNT] = n
    if capture:
        attrs[semconv.GEN_AI_INPUT_MESSAGES] = captured(_input_messages(kwargs.get("messages")))
        tools = listed(kwargs.get("tools"))
        if tools:
            attrs[semconv.GEN_AI_TOOL_DEFINITIONS] = captured(tools, redact=False)
    return attrs


# --- chat completions: response -----------------------------------------------------------------------------


def _output_message(message: Any, finish_reason: Any) -> dict[str, Any]:
    return {
        "role": str(get_field(message, "role") or "assistant"),
        "parts": _message_parts(message),
        "finish_reason": str(finish_reason) if finish_reason is not None else "",
    }


def response_attributes(response: Any, capture: bool) -> dict[str, Any]:
    """Span attributes from a ``ChatCompletion``."""
    attrs = identity_attributes(response)
    choices = get_field(response, "choices") or []
    reasons = [str(get_field(c, "finish_reason")) for c in choices if get_field(c, "finish_reason") is not None]
    if reasons:
        attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS] = reasons
    attrs.update(usage_attributes(get_field(response, "usage"), _CHAT_USAGE))
    if capture and choices:
        messages = [_output_message(get_field(c, "message"), get_field(c, "finish_reason")) for c in choices]
        attrs[semconv.GEN_AI_OUTPUT_MESSAGES] = captured(messages)
    return attrs


# --- Responses API: request ---------------------------------------------------------------------------------


def _content_parts(content: Any) -> list[dict[str, Any]]:
    """Parts of a Responses message's ``content``: a string, or a list of input/output content parts."""
    if isinstance(content, str):
        return [text_part(content)]
    parts: list[dict[str, Any]] = []
    for block in listed(content):
        kind = get_field(block, "type")
        if kind in ("input_text", "output_text", "text"):
            parts.append(text_part(str(get_field(block, "text"))))
        elif kind == "refusal":
            parts.append({"type": "refusal", "content": str(get_field(block, "refusal"))})
        else:
            parts.append({"type": str(kind or "unknown")})
    return parts


def _item_parts(item: Any) -> list[dict[str, Any]]:
    """Parts of one model-produced item (an ``output`` entry, or one replayed in ``input``)."""
    kind = get_field(item, "type")
    if kind == "message":
        return _content_parts(get_field(item, "content"))
    if kind == "function_call":
        return [
            tool_call_part(
                get_field(item, "call_id"), get_field(item, "name"), parse_arguments(get_field(item, "arguments"))
            )
        ]
    if kind == "reasoning":
        texts = [get_field(s, "text") for s in listed(get_field(item, "summary"))]
        text = "\n".join(t for t in texts if isinstance(t, str))
        return [{"type": "reasoning", "content": text}] if text else []
    return [{"type": str(kind or "unknown")}]


def _responses_input_messages(input_: Any) -> list[dict[str, Any]]:
    """``input`` as GenAI messages: a string is one user message; a list holds messages and items.

    Function calls and other items the model produced earlier join the assistant message before them,
    the way a chat completion's assistant message carries its tool calls.
    """
    if isinstance(input_, str):
        return [{"role": "user", "parts": [text_part(input_)]}]
    out: list[dict[str, Any]] = []
    for item in listed(input_):
        kind = get_field(item, "type")
        role = get_field(item, "role")
        if role is not None and kind in (None, "message"):
            out.append({"role": str(role), "parts": _content_parts(get_field(item, "content"))})
        elif kind == "function_call_output":
            out.append(
                {"role": "tool", "parts": [tool_response_part(get_field(item, "call_id"), get_field(item, "output"))]}
            )
        elif out and out[-1]["role"] == "assistant":
            out[-1]["parts"].extend(_item_parts(item))
        else:
            out.append({"role": "assistant", "parts": _item_parts(item)})
    return out


def responses_request_attributes(kwargs: dict[str, Any], capture: bool) -> dict[str, Any]:
    """Span attributes known before the call, from ``responses.create``'s keyword arguments."""
    attrs = common_request_attributes(kwargs, _RESPONSES_PARAMS)
    if capture:
        instructions = kwargs.get("instructions")
        if isinstance(instructions, str):
            attrs[semconv.GEN_AI_SYSTEM_INSTRUCTIONS] = captured([text_part(instructions)])
        attrs[semconv.GEN_AI_INPUT_MESSAGES] = captured(_responses_input_messages(kwargs.get("input")))
        tools = listed(kwargs.get("tools"))
        if tools:
            attrs[semconv.GEN_AI_TOOL_DEFINITIONS] = captured(tools, redact=False)
    return attrs


# --- Responses API: response --------------------------------------------------------------------------------

# The API reports a status, not a finish reason; these are the GenAI output-message schema's reasons.
_INCOMPLETE_REASONS = {"max_output_tokens": "length", "content_filter": "content_filter"}
_TERMINAL_STATUSES = ("completed", "incomplete", "failed", "cancelled")
# Stream events that carry a snapshot of the whole response; the last three end the stream.
_LIFECYCLE_EVENTS = frozenset(
    ("response.created", "response.queued", "response.in_progress")
    + ("response.completed", "response.incomplete", "response.failed")
)


def _finish_reason(response: Any) -> str | None:
    """Why generation stopped, or None while a (background) response is still queued or running."""
    status = get_field(response, "status")
    output = listed(get_field(response, "output"))
    if status == "completed" or (status is None and output):
        return "tool_call" if any(get_field(item, "type") == "function_call" for item in output) else "stop"
    if status == "incomplete":
        reason = get_field(get_field(response, "incomplete_details"), "reason")
        return _INCOMPLETE_REASONS.get(str(reason), str(reason or "incomplete"))
    if status == "failed":
        return "error"
    return str(status) if status in _TERMINAL_STATUSES else None


def _response_failure(response: Any) -> tuple[str, str] | None:
    """``(error.type, message)`` of a response that failed without the library raising."""
    if get_field(response, "status") != "failed":
        return None
    error = get_field(response, "error")
    return str(get_field(error, "code") or "failed"), str(get_field(error, "message") or "response failed")


def _responses_output(parts: list[dict[str, Any]], finish_reason: str | None) -> list[dict[str, Any]]:
    """A response's output items are one generation, so one assistant message holds all their parts."""
    return [{"role": "assistant", "parts": parts, "finish_reason": finish_reason or ""}]


def responses_response_attributes(response: Any, capture: bool) -> dict[str, Any]:
    """Span attributes from a ``Response``."""
    attrs = identity_attributes(response)
    reason = _finish_reason(response)
    if reason is not None:
        attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS] = [reason]
    attrs.update(usage_attributes(get_field(response, "usage"), _RESPONSES_USAGE))
    output = listed(get_field(response, "output"))
    if capture and output:
        parts = [part for item in output for part in _item_parts(item)]
        attrs[semconv.GEN_AI_OUTPUT_MESSAGES] = captured(_responses_output(parts, reason))
    return attrs


# --- streams ------------------------------------------------------------------------------------------------


class _StreamState:
    """What a stream's chunks add up to, turned into attributes when the stream ends; ends the span once."""

    def __init__(self, span: trace_api.Span, started: float, capture: bool) -> None:
        self.span = span
        self.started = started
        self.capture = capture
        self.first_chunk_at: float | None = None
        self.ended = False

    def add(self, chunk: Any) -> None:
        if self.first_chunk_at is None:
            self.first_chunk_at = time.perf_counter()
        self._add(chunk)

    def _add(self, chunk: Any) -> None:
        raise NotImplementedError

    def attributes(self) -> dict[str, Any]:
        attrs: dict[str, Any] = {}
        if self.first_chunk_at is not None:
            attrs[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = self.first_chunk_at - self.started
        return attrs

    def failure(self) -> tuple[str, str] | None:
        """A failure the provider reported inside the stream without the library raising it."""
        return None

    def end(self, error: BaseException | None = None) -> None:
        """End the span once: on exhaustion, close, or an error while reading (recorded, never raised here)."""
        if self.ended:
            return
        self.ended = True
        try:
            self.span.set_attributes(self.attributes())
            if error is not None:
                _record_error(self.span, error)
            else:
                failure = self.failure()
                if failure is not None:
                    _record_failure(self.span, *failure)
            self.span.end()
        except Exception:  # noqa: BLE001 - the stream is the user's; our failure stays ours
            log_internal_error()


class _ChatStreamState(_StreamState):
    """Chat completion chunks: deltas per choice, usage on the final chunk."""

    def __init__(self, span: trace_api.Span, started: float, capture: bool) -> None:
        super().__init__(span, started, capture)
        self.model: str | None = None
        self.response_id: str | None = None
        self.usage: Any = None
        self.choices: dict[int, dict[str, Any]] = {}

    def _add(self, chunk: Any) -> None:
        self.model = get_field(chunk, "model") or self.model
        self.response_id = get_field(chunk, "id") or self.response_id
        usage = get_field(chunk, "usage")
        if usage is not None:  # the final chunk, with stream_options={"include_usage": True}
            self.usage = usage
        for choice in get_field(chunk, "choices") or ():
            index = get_field(choice, "index") or 0
            acc = self.choices.setdefault(index, {"text": [], "tools": {}, "finish_reason": None, "role": None})
            finish = get_field(choice, "finish_reason")
            if finish is not None:
                acc["finish_reason"] = str(finish)
            delta = get_field(choice, "delta")
            if delta is None:
                continue
            acc["role"] = get_field(delta, "role") or acc["role"]
            content = get_field(delta, "content")
            if isinstance(content, str) and self.capture:
                acc["text"].append(content)
            for call in get_field(delta, "tool_calls") or ():
                slot = acc["tools"].setdefault(
                    get_field(call, "index") or 0, {"id": None, "name": None, "arguments": []}
                )
                slot["id"] = get_field(call, "id") or slot["id"]
                function = get_field(call, "function")
                if function is not None:
                    slot["name"] = get_field(function, "name") or slot["name"]
                    arguments = get_field(function, "arguments")
                    if isinstance(arguments, str) and self.capture:
                        slot["arguments"].append(arguments)

    def attributes(self) -> dict[str, Any]:
        attrs = super().attributes()
        if self.model:
            attrs[semconv.GEN_AI_RESPONSE_MODEL] = self.model
        if self.response_id:
            attrs[semconv.GEN_AI_RESPONSE_ID] = self.response_id
        ordered = [self.choices[i] for i in sorted(self.choices)]
        reasons = [c["finish_reason"] for c in ordered if c["finish_reason"] is not None]
        if reasons:
            attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS] = reasons
        attrs.update(usage_attributes(self.usage, _CHAT_USAGE))
        if self.capture and ordered:
            messages = []
            for choice in ordered:
                parts: list[dict[str, Any]] = []
                text = "".join(choice["text"])
                if text:
                    parts.append(text_part(text))
                for _, tool in sorted(choice["tools"].items()):
                    parts.append(tool_call_part(tool["id"], tool["name"], parse_arguments("".join(tool["arguments"]))))
                messages.append(
                    {
                        "role": choice["role"] or "assistant",
                        "parts": parts,
                        "finish_reason": choice["finish_reason"] or "",
                    }
                )
            attrs[semconv.GEN_AI_OUTPUT_MESSAGES] = captured(messages)
        return attrs


class _ResponsesStreamState(_StreamState):
    """Responses API events: lifecycle snapshots of the response, and per-item deltas for a stream cut short.

    The terminal event (``response.completed``/``.incomplete``/``.failed``) carries the whole response,
    usage and output included; the deltas are only needed when the stream ends before it.
    """

    def __init__(self, span: trace_api.Span, started: float, capture: bool) -> None:
        super().__init__(span, started, capture)
        self.response: Any = None
        self.items: dict[int, dict[str, Any]] = {}
        self.error: tuple[str, str] | None = None

    def _slot(self, event: Any) -> dict[str, Any]:
        index = get_field(event, "output_index") or 0
        return self.items.setdefault(index, {"item": None, "text": [], "arguments": []})

    def _add(self, event: Any) -> None:
        kind = get_field(event, "type")
        if kind == "error":  # the documented flat shape, which the library yields rather than raises
            self.error = (str(get_field(event, "code") or "error"), str(get_field(event, "message") or "stream error"))
        elif kind in _LIFECYCLE_EVENTS:
            self.response = get_field(event, "response") or self.response
        elif kind in ("response.output_item.added", "response.output_item.done"):
            self._slot(event)["item"] = get_field(event, "item")
        elif kind == "response.output_text.delta" and self.capture:
            self._slot(event)["text"].append(str(get_field(event, "delta")))
        elif kind == "response.function_call_arguments.delta" and self.capture:
            self._slot(event)["arguments"].append(str(get_field(event, "delta")))

    def _partial_parts(self) -> list[dict[str, Any]]:
        """Output parts assembled from the deltas, for a stream that ended before its terminal event."""
        parts: list[dict[str, Any]] = []
        for _, slot in sorted(self.items.items()):
            item = slot["item"]
            if get_field(item, "type") == "function_call":
                arguments = "".join(slot["arguments"]) or get_field(item, "arguments")
                parts.append(
                    tool_call_part(get_field(item, "call_id"), get_field(item, "name"), parse_arguments(arguments))
                )
            elif slot["text"]:
                parts.append(text_part("".join(slot["text"])))
            elif item is not None:
                parts.extend(_item_parts(item))
        return parts

    def attributes(self) -> dict[str, Any]:
        attrs = super().attributes()
        if self.response is None:
            return attrs
        if get_field(self.response, "status") in _TERMINAL_STATUSES:
            attrs.update(responses_response_attributes(self.response, self.capture))
        else:
            attrs.update(identity_attributes(self.response))
        if self.capture and semconv.GEN_AI_OUTPUT_MESSAGES not in attrs:
            parts = self._partial_parts()
            if parts:
                output = _responses_output(parts, _finish_reason(self.response))
                attrs[semconv.GEN_AI_OUTPUT_MESSAGES] = captured(output)
        return attrs

    def failure(self) -> tuple[str, str] | None:
        return self.error or _response_failure(self.response)


def _record_error(span: trace_api.Span, exc: BaseException) -> None:
    span.record_exception(exc, escaped=True)
    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
    span.set_attribute(semconv.ERROR_TYPE, type(exc).__qualname__)


def _record_failure(span: trace_api.Span, error_type: str, message: str) -> None:
    span.set_status(Status(StatusCode.ERROR, message))
    span.set_attribute(semconv.ERROR_TYPE, error_type)


def _end_when_response_closes(stream: Any, state: _StreamState, running: Callable[[], bool], is_async: bool) -> None:
    """End the span when the HTTP response is closed too: the ``.stream()`` helpers close it, not the ``Stream``.

    While our generator runs, the close comes from the library finishing or failing the stream inside it,
    and the generator ends the span itself, with the error if there is one.
    """
    response = getattr(stream, "response", None)
    name = "aclose" if is_async else "close"
    original = getattr(response, name, None)
    if original is None:
        return
    hooked: Callable[[], Any]
    if is_async:

        @functools.wraps(original)
        async def hooked_async() -> None:
            try:
                await original()
            finally:
                if not running():
                    state.end()

        hooked = hooked_async
    else:

        @functools.wraps(original)
        def hooked_sync() -> None:
            try:
                original()
            finally:
                if not running():
                    state.end()

        hooked = hooked_sync
    try:
        setattr(response, name, hooked)
    except (AttributeError, TypeError):
        pass  # a response that takes no instance attributes: an early helper close then ends the span at GC


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

    generator = observed()
    stream._iterator = generator
    stream.close = close
    _end_when_response_closes(stream, state, lambda: generator.gi_running, is_async=False)


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

    generator = observed()
    stream._iterator = generator
    stream.close = close
    _end_when_response_closes(stream, state, lambda: generator.ag_running, is_async=True)


# --- wrappers -----------------------------------------------------------------------------------------------


def _no_failure(result: Any) -> None:
    return None


@dataclass(frozen=True)
class _Endpoint:
    """What differs between the traced endpoints (chat completions, Responses, embeddings); the wrappers are shared."""

    request_attributes: Callable[[dict[str, Any], bool], dict[str, Any]]
    response_attributes: Callable[[Any, bool], dict[str, Any]]
    result_field: str  # present on a parsed result only, not on a ``with_raw_response`` HTTP response
    stream_state: type[_StreamState] = _StreamState  # the base class for an endpoint that never streams
    failure: Callable[[Any], tuple[str, str] | None] = _no_failure
    operation: str = OPERATION


_CHAT = _Endpoint(request_attributes, response_attributes, "choices", _ChatStreamState)
_RESPONSES = _Endpoint(
    responses_request_attributes, responses_response_attributes, "output", _ResponsesStreamState, _response_failure
)
_EMBEDDINGS = _Endpoint(
    openai_embeddings.embeddings_request_attributes,
    openai_embeddings.embeddings_response_attributes,
    openai_embeddings.RESULT_FIELD,
    operation=openai_embeddings.OPERATION,
)


def _start(kwargs: dict[str, Any], endpoint: _Endpoint) -> tuple[trace_api.Span, bool]:
    settings = get_settings()
    capture = settings.capture_content and capture_allowed()
    attrs = endpoint.request_attributes(kwargs, capture)
    model = attrs.get(semconv.GEN_AI_REQUEST_MODEL)
    span = get_tracer().start_span(span_name(endpoint.operation, model), kind=SpanKind.CLIENT, attributes=attrs)
    return span, capture


def _finish(
    span: trace_api.Span, result: Any, capture: bool, started: float, stream_kind: str, endpoint: _Endpoint
) -> None:
    """Record the result on the span and end it, or hand the span to the stream that will end it."""
    if stream_kind and hasattr(result, "_iterator") and hasattr(result, "close"):
        state = endpoint.stream_state(span, started, capture)
        weakref.finalize(result, state.end)  # a stream dropped unread and unclosed still ends its span
        (_observe_async if stream_kind == "async" else _observe_sync)(result, state)
        return
    if get_field(result, endpoint.result_field) is not None:
        span.set_attributes(endpoint.response_attributes(result, capture))
        failure = endpoint.failure(result)
        if failure is not None:
            _record_failure(span, *failure)
    span.end()


def _is_stream(result: Any, cls: type | None) -> bool:
    return cls is not None and isinstance(result, cls)


def wrap_sync(original: Callable[..., Any], stream_cls: type | None, endpoint: _Endpoint = _CHAT) -> Callable[..., Any]:
    @functools.wraps(original)
    def create(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            span, capture = _start(kwargs, endpoint)
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
            _finish(span, result, capture, started, "sync" if _is_stream(result, stream_cls) else "", endpoint)
        return result

    create.__plaudit_original__ = original  # type: ignore[attr-defined]
    return create


def wrap_async(
    original: Callable[..., Any], stream_cls: type | None, endpoint: _Endpoint = _CHAT
) -> Callable[..., Any]:
    @functools.wraps(original)
    async def create(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            span, capture = _start(kwargs, endpoint)
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
            _finish(span, result, capture, started, "async" if _is_stream(result, stream_cls) else "", endpoint)
        return result

    create.__plaudit_original__ = original  # type: ignore[attr-defined]
    return create


def _patch(cls: type, name: str, wrap: Callable[[Callable[..., Any]], Callable[..., Any]]) -> Callable[[], None]:
    """Replace ``cls.name`` with ``wrap(original)``; the undo puts back exactly what was there.

    A method this ``openai`` version lacks (``parse`` in older releases) is skipped, and its undo does nothing.
    """
    own = name in cls.__dict__
    original = cls.__dict__[name] if own else getattr(cls, name, None)
    if not callable(original):
        return lambda: None
    setattr(cls, name, wrap(original))

    def undo() -> None:
        if own:
            setattr(cls, name, original)
        else:
            delattr(cls, name)

    return undo


def apply() -> Callable[[], None]:
    """Patch ``create`` and ``parse`` of the chat completions and Responses resources and ``create`` of the
    embeddings resource, sync and async; return the undo."""
    import openai
    from openai.resources.chat.completions import AsyncCompletions, Completions

    # (sync resource, async resource, endpoint, traced methods)
    targets: list[tuple[type, type, _Endpoint, tuple[str, ...]]] = [
        (Completions, AsyncCompletions, _CHAT, ("create", "parse"))
    ]
    try:
        from openai.resources.responses import AsyncResponses, Responses
    except ImportError:  # openai before 1.66 has no Responses API; the other endpoints are still traced
        pass
    else:
        targets.append((Responses, AsyncResponses, _RESPONSES, ("create", "parse")))
    try:
        from openai.resources.embeddings import AsyncEmbeddings, Embeddings
    except ImportError:  # a layout without this module: embeddings stay untraced
        pass
    else:
        targets.append((Embeddings, AsyncEmbeddings, _EMBEDDINGS, ("create",)))

    undos: list[Callable[[], None]] = []
    for sync_cls, async_cls, endpoint, names in targets:
        for name in names:
            undos.append(
                _patch(sync_cls, name, functools.partial(wrap_sync, stream_cls=openai.Stream, endpoint=endpoint))
            )
            undos.append(
                _patch(async_cls, name, functools.partial(wrap_async, stream_cls=openai.AsyncStream, endpoint=endpoint))
            )

    def undo() -> None:
        for step in reversed(undos):
            step()

    return undo
