"""Span attributes of the Responses API (``responses.create`` and ``.parse``): request, response and stream events.

The GenAI conventions name a Responses API call ``chat`` like a chat completion and record its
``instructions`` under ``gen_ai.system_instructions`` (non-normative LLM-call examples). The API reports a
status rather than a finish reason, and can fail inside a result or a stream without the library raising;
both are translated here so the wrappers in ``openai.py`` treat this endpoint like the others.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import trace as trace_api

from plaudit import semconv
from plaudit._internal.genai import text_part, tool_call_part, tool_response_part
from plaudit._internal.instrumentations.openai_common import (
    captured,
    common_request_attributes,
    get_field,
    identity_attributes,
    listed,
    parse_arguments,
    usage_attributes,
)
from plaudit._internal.instrumentations.openai_streams import StreamState

_RESPONSES_PARAMS = (
    ("temperature", semconv.GEN_AI_REQUEST_TEMPERATURE),
    ("top_p", semconv.GEN_AI_REQUEST_TOP_P),
    ("max_output_tokens", semconv.GEN_AI_REQUEST_MAX_TOKENS),
)
# (input tokens, output tokens, input details, output details) in this endpoint's usage object
_RESPONSES_USAGE = ("input_tokens", "output_tokens", "input_tokens_details", "output_tokens_details")


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


def response_failure(response: Any) -> tuple[str, str] | None:
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


# --- Responses API: stream ----------------------------------------------------------------------------------


class ResponsesStreamState(StreamState):
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
        return self.error or response_failure(self.response)
