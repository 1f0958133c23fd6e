"""What every traced ``openai`` endpoint shares: reading response fields, capturing content, common
attributes, recording failures.

The chat completions, Responses API and embeddings modules each build their own span attributes, but they read
the library's objects the same way (a model or a plain dict), serialise content under the same capture and
redaction rules, and record the same request, usage and identity attributes. Those helpers live here so the
endpoint modules and the wrappers in ``openai.py`` depend on this module and never on each other.
"""

from __future__ import annotations

import json
from typing import Any

from opentelemetry import trace as trace_api
from opentelemetry.trace import Status, StatusCode

from plaudit import semconv
from plaudit._internal.genai import scalar
from plaudit._internal.provider import get_settings
from plaudit._internal.serialize import capture_text, dumps

PROVIDER = "openai"
OPERATION = "chat"


def get_field(obj: Any, name: str) -> Any:
    """A field of a response model or of a plain dict (``with_raw_response`` and tests hand either)."""
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def listed(value: Any) -> list[Any]:
    """``value`` as a list when it is one already; any other iterable may be one-shot and stays unread."""
    return list(value) if isinstance(value, (list, tuple)) else []


def parse_arguments(raw: Any) -> Any:
    """A tool call's ``arguments`` JSON string as the value it encodes; text that is not JSON stays text."""
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def captured(value: Any, *, redact: bool = True) -> str:
    """Serialise content for a span attribute under the configured size limit and redact hook."""
    settings = get_settings()
    return capture_text(dumps(value), settings.max_value_length, settings.redact if redact else None)


def common_request_attributes(kwargs: dict[str, Any], params: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    model = kwargs.get("model")
    attrs: dict[str, Any] = {
        semconv.GEN_AI_OPERATION_NAME: OPERATION,
        semconv.GEN_AI_PROVIDER_NAME: PROVIDER,
        semconv.SPAN_KIND: "llm",
    }
    if isinstance(model, str):
        attrs[semconv.GEN_AI_REQUEST_MODEL] = model
    for param, key in params:
        value = kwargs.get(param)
        if scalar(value) and key not in attrs:
            attrs[key] = value
    if kwargs.get("stream") is True:
        attrs[semconv.GEN_AI_REQUEST_STREAM] = True
    return attrs


def usage_attributes(usage: Any, fields: tuple[str, str, str, str]) -> dict[str, Any]:
    """Token counts from a usage object whose (input tokens, output tokens, input details, output details)
    fields are named in ``fields``: each endpoint names them differently."""
    attrs: dict[str, Any] = {}
    if usage is None:
        return attrs
    input_field, output_field, input_details, output_details = fields
    for field, key in (
        (input_field, semconv.GEN_AI_USAGE_INPUT_TOKENS),
        (output_field, semconv.GEN_AI_USAGE_OUTPUT_TOKENS),
    ):
        value = get_field(usage, field)
        if isinstance(value, int):
            attrs[key] = value
    cached = get_field(get_field(usage, input_details), "cached_tokens")
    if isinstance(cached, int):
        attrs[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = cached
    reasoning = get_field(get_field(usage, output_details), "reasoning_tokens")
    if isinstance(reasoning, int):
        attrs[semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = reasoning
    return attrs


def identity_attributes(response: Any) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    for field, key in (("model", semconv.GEN_AI_RESPONSE_MODEL), ("id", semconv.GEN_AI_RESPONSE_ID)):
        value = get_field(response, field)
        if isinstance(value, str):
            attrs[key] = value
    return attrs


def record_error(span: trace_api.Span, exc: BaseException) -> None:
    """Mark the span failed by an exception the call or its stream raised."""
    span.record_exception(exc, escaped=True)
    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
    span.set_attribute(semconv.ERROR_TYPE, type(exc).__qualname__)


def record_failure(span: trace_api.Span, error_type: str, message: str) -> None:
    """Mark the span failed by a failure the provider reported in a result the library returned without raising."""
    span.set_status(Status(StatusCode.ERROR, message))
    span.set_attribute(semconv.ERROR_TYPE, error_type)
