"""Span attributes of ``chat.completions.create`` and ``.parse``: request, response and streamed chunks.

The request's messages and tools, the response's choices and the chunks of a ``stream=True`` call become the
OTel GenAI ``chat`` attributes (``gen_ai.input.messages``, ``gen_ai.output.messages``, finish reasons, usage);
the wrappers in ``openai.py`` decide when each is read.
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

_REQUEST_PARAMS = (
    ("temperature", semconv.GEN_AI_REQUEST_TEMPERATURE),
    ("top_p", semconv.GEN_AI_REQUEST_TOP_P),
    ("max_completion_tokens", semconv.GEN_AI_REQUEST_MAX_TOKENS),
    ("max_tokens", semconv.GEN_AI_REQUEST_MAX_TOKENS),
    ("seed", semconv.GEN_AI_REQUEST_SEED),
    ("frequency_penalty", semconv.GEN_AI_REQUEST_FREQUENCY_PENALTY),
    ("presence_penalty", semconv.GEN_AI_REQUEST_PRESENCE_PENALTY),
)
# (input tokens, output tokens, input details, output details) in this endpoint's usage object
_CHAT_USAGE = ("prompt_tokens", "completion_tokens", "prompt_tokens_details", "completion_tokens_details")


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


# --- chat completions: stream -------------------------------------------------------------------------------


class ChatStreamState(StreamState):
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
