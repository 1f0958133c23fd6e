"""Map the LLM attribute conventions (Plaudit, OTel GenAI, OpenInference, OpenLLMetry, Langfuse) to one schema.

Each normalised field lists its source keys in priority order; the first present wins.
"""

from __future__ import annotations

import json
import math
from typing import Any

from plaudit import semconv

MAX_VALUE_CHARS = 64 * 1024

MODEL_KEYS = (
    semconv.GEN_AI_REQUEST_MODEL,
    semconv.GEN_AI_RESPONSE_MODEL,
    "llm.model_name",
    "llm.request.model",
    "llm.response.model",
    "ai.model.id",
    "langfuse.observation.model.name",
)
PROVIDER_KEYS = (semconv.GEN_AI_PROVIDER_NAME, semconv.GEN_AI_SYSTEM, "llm.provider", "llm.system", "ai.model.provider")
INPUT_TOKEN_KEYS = (
    semconv.GEN_AI_USAGE_INPUT_TOKENS,
    "gen_ai.usage.prompt_tokens",
    "llm.token_count.prompt",
    "llm.usage.prompt_tokens",
    "ai.usage.promptTokens",
    "ai.usage.inputTokens",
)
OUTPUT_TOKEN_KEYS = (
    semconv.GEN_AI_USAGE_OUTPUT_TOKENS,
    "gen_ai.usage.completion_tokens",
    "llm.token_count.completion",
    "llm.usage.completion_tokens",
    "ai.usage.completionTokens",
    "ai.usage.outputTokens",
)
INPUT_KEYS = (
    semconv.INPUT,
    "input.value",
    "gen_ai.input.messages",
    "traceloop.entity.input",
    "langfuse.observation.input",
    "ai.prompt.messages",
    "ai.prompt",
    "gen_ai.prompt",
)
OUTPUT_KEYS = (
    semconv.OUTPUT,
    "output.value",
    "gen_ai.output.messages",
    "traceloop.entity.output",
    "langfuse.observation.output",
    "ai.response.text",
    "gen_ai.completion",
)
PROMPT_NAME_KEYS = (semconv.PROMPT_NAME, "langfuse.observation.prompt.name", "traceloop.prompt.key")
PROMPT_VERSION_KEYS = (
    semconv.PROMPT_VERSION,
    "llm.prompt_template.version",
    "langfuse.observation.prompt.version",
    "traceloop.prompt.version",
)
USER_KEYS = (semconv.USER_ID, "enduser.id", "langfuse.user.id", "traceloop.association.properties.user_id")
SESSION_KEYS = (
    semconv.SESSION_ID,
    "langfuse.session.id",
    "gen_ai.conversation.id",
    "traceloop.association.properties.session_id",
)
KIND_KEYS = (semconv.SPAN_KIND, "openinference.span.kind", "traceloop.span.kind", "langfuse.observation.type")

_KIND_ALIASES = {
    "llm": "llm",
    "generation": "llm",
    "chat": "llm",
    "text_completion": "llm",
    "generate_content": "llm",
    "chain": "chain",
    "workflow": "chain",
    "task": "chain",
    "span": "chain",
    "tool": "tool",
    "execute_tool": "tool",
    "retriever": "retrieval",
    "retrieval": "retrieval",
    "embedding": "embedding",
    "embeddings": "embedding",
    "agent": "agent",
    "invoke_agent": "agent",
    "create_agent": "agent",
    "reranker": "retrieval",
    "evaluator": "evaluator",
    "guardrail": "guardrail",
}


def _first(attrs: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = attrs.get(key)
        if value is not None and value != "":
            return value
    return None


def _text(value: Any, limit: int = MAX_VALUE_CHARS) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    if len(text) > limit:
        text = text[: limit - len(semconv.TRUNCATION_MARKER)] + semconv.TRUNCATION_MARKER
    return text


def _short(value: Any, limit: int) -> str | None:
    text = _text(value)
    return None if text is None else text[:limit]


def _int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = int(float(value))
    except (TypeError, ValueError):
        return None
    return number if 0 <= number < 2**62 else None


def span_kind(attrs: dict[str, Any]) -> str | None:
    raw = _first(attrs, KIND_KEYS)
    if raw is None:
        op = attrs.get(semconv.GEN_AI_OPERATION_NAME)
        raw = op if isinstance(op, str) else None
    if not isinstance(raw, str):
        return None
    return _KIND_ALIASES.get(raw.strip().lower(), raw.strip().lower()[:32])


def normalise(attrs: dict[str, Any]) -> dict[str, Any]:
    """The normalised columns of a span, from its attributes."""
    return {
        "model": _short(_first(attrs, MODEL_KEYS), 200),
        "provider": _short(_first(attrs, PROVIDER_KEYS), 100),
        "input_tokens": _int(_first(attrs, INPUT_TOKEN_KEYS)),
        "output_tokens": _int(_first(attrs, OUTPUT_TOKEN_KEYS)),
        "input": _text(_first(attrs, INPUT_KEYS)),
        "output": _text(_first(attrs, OUTPUT_KEYS)),
        "prompt_name": _short(_first(attrs, PROMPT_NAME_KEYS), 200),
        "prompt_version": _short(_first(attrs, PROMPT_VERSION_KEYS), 100),
        "config_hash": _short(attrs.get(semconv.CONFIG_HASH), 64),
        "variant": _short(attrs.get(semconv.VARIANT), 200),
        "user_id": _short(_first(attrs, USER_KEYS), 200),
        "session_id": _short(_first(attrs, SESSION_KEYS), 200),
        "span_kind": span_kind(attrs),
    }


def bounded_attributes(attrs: dict[str, Any]) -> dict[str, Any]:
    """Attributes as stored: long string values truncated with the marker, never rejected."""
    out: dict[str, Any] = {}
    for key, value in attrs.items():
        if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
            value = value[: MAX_VALUE_CHARS - len(semconv.TRUNCATION_MARKER)] + semconv.TRUNCATION_MARKER
        elif isinstance(value, float) and not math.isfinite(value):  # NaN/Infinity have no JSON form
            value = str(value)
        out[key] = value
    return out
