"""Map the LLM attribute conventions to one schema: Plaudit, OTel GenAI (current and deprecated names),
OpenInference, OpenLLMetry/Traceloop, Langfuse and the Vercel AI SDK.

Each normalised field lists its source keys in priority order; the first present wins. docs/conventions.md
is the table of these mappings; keep the two in step. Values may arrive as strings where the producer
stringified them (Langfuse re-exports do), so numbers are parsed leniently.
"""

from __future__ import annotations

import json
import math
from typing import Any

from plaudit import semconv

MAX_VALUE_CHARS = 64 * 1024

MODEL_KEYS = (
    semconv.GEN_AI_REQUEST_MODEL,
    "llm.request.model_name",
    "ai.model.id",
    "langfuse.observation.model.name",
    "llm.request.model",
    semconv.GEN_AI_RESPONSE_MODEL,
    "llm.model_name",
    "llm.response.model_name",
    "llm.response.model",
    "ai.response.model",
)
RESPONSE_MODEL_KEYS = (
    semconv.GEN_AI_RESPONSE_MODEL,
    "llm.model_name",
    "llm.response.model_name",
    "llm.response.model",
    "ai.response.model",
)
PROVIDER_KEYS = (
    semconv.GEN_AI_PROVIDER_NAME,
    semconv.GEN_AI_SYSTEM,
    "llm.provider",
    "llm.system",
    "ai.model.provider",
)
INPUT_TOKEN_KEYS = (
    semconv.GEN_AI_USAGE_INPUT_TOKENS,
    "gen_ai.usage.prompt_tokens",
    "llm.token_count.prompt",
    "llm.usage.prompt_tokens",
    "ai.usage.inputTokens",
    "ai.usage.promptTokens",
)
OUTPUT_TOKEN_KEYS = (
    semconv.GEN_AI_USAGE_OUTPUT_TOKENS,
    "gen_ai.usage.completion_tokens",
    "llm.token_count.completion",
    "llm.usage.completion_tokens",
    "ai.usage.outputTokens",
    "ai.usage.completionTokens",
)
USAGE_JSON_KEYS = ("langfuse.observation.usage_details",)
COST_KEYS = ("gen_ai.usage.cost", "llm.cost.total", "operation.cost")
COST_JSON_KEYS = ("langfuse.observation.cost_details",)
INPUT_KEYS = (
    semconv.INPUT,
    "input.value",
    "gen_ai.input.messages",
    "traceloop.entity.input",
    "langfuse.observation.input",
    "ai.prompt.messages",
    "ai.prompt",
    "gen_ai.prompt",
    "langfuse.trace.input",
)
OUTPUT_KEYS = (
    semconv.OUTPUT,
    "output.value",
    "gen_ai.output.messages",
    "traceloop.entity.output",
    "langfuse.observation.output",
    "ai.response.text",
    "ai.response.object",
    "gen_ai.completion",
    "langfuse.trace.output",
)
PROMPT_NAME_KEYS = (
    semconv.PROMPT_NAME,
    "gen_ai.prompt.name",
    "langfuse.observation.prompt.name",
    "langfuse.prompt.name",
    "traceloop.prompt.key",
    "prompt.id",
)
PROMPT_VERSION_KEYS = (
    semconv.PROMPT_VERSION,
    "llm.prompt_template.version",
    "langfuse.observation.prompt.version",
    "langfuse.prompt.version",
    "traceloop.prompt.version",
)
USER_KEYS = (
    semconv.USER_ID,
    "enduser.id",
    "langfuse.user.id",
    "traceloop.association.properties.user_id",
    "ai.telemetry.metadata.userId",
)
SESSION_KEYS = (
    semconv.SESSION_ID,
    "langfuse.session.id",
    "gen_ai.conversation.id",
    "traceloop.association.properties.session_id",
    "ai.telemetry.metadata.sessionId",
)
KIND_KEYS = (
    semconv.SPAN_KIND,
    "openinference.span.kind",
    "traceloop.span.kind",
    "langfuse.observation.type",
    "langsmith.span.kind",
    semconv.GEN_AI_OPERATION_NAME,
    "llm.request.type",
)

# Indexed message attributes: (prefix, role suffix, content suffix) of the flattened message lists.
INPUT_MESSAGE_PREFIXES = (
    ("llm.input_messages.", ".message.role", ".message.content"),
    ("gen_ai.prompt.", ".role", ".content"),
)
OUTPUT_MESSAGE_PREFIXES = (
    ("llm.output_messages.", ".message.role", ".message.content"),
    ("gen_ai.completion.", ".role", ".content"),
)

CONTENT_KEYS = frozenset(
    (
        *INPUT_KEYS,
        *OUTPUT_KEYS,
        semconv.PROMPT_VARIABLES,
        "input.value",
        "output.value",
        "gen_ai.system_instructions",
        "gen_ai.tool.call.arguments",
        "gen_ai.tool.call.result",
        "llm.prompts",
        "llm.prompt_template.variables",
        "traceloop.prompt.template_variables",
        "ai.toolCall.args",
        "ai.toolCall.result",
        "ai.response.toolCalls",
        "tool_arguments",
        "tool_response",
        "llm.function_call",
        "reranker.query",
        "ai.value",
        "ai.values",
        "ai.embedding",
        "ai.embeddings",
        "events",
        "all_messages_events",
        "pydantic_ai.all_messages",
        "final_result",
        "exception.message",
        "exception.stacktrace",
        "logfire.feedback.comment",
    )
)
CONTENT_PREFIXES = (
    "llm.input_messages.",
    "llm.output_messages.",
    "gen_ai.prompt.",
    "gen_ai.completion.",
    "langfuse.observation.input",
    "langfuse.observation.output",
    "langfuse.trace.input",
    "langfuse.trace.output",
    "retrieval.documents.",
    "reranker.input_documents.",
    "reranker.output_documents.",
    "embedding.embeddings.",
    "tool_call.function.arguments",
)
"""Keys a project that stores no content drops at ingest (``gen_ai.prompt.name`` is kept); docs/privacy.md
lists what counts as content. Any key ending in ``.explanation`` (annotation and evaluation explanations)
is content too."""
EVENT_CONTENT_KEYS = frozenset(("content", "message", "body", "tool_calls", "arguments", "result"))
"""What GenAI message events carry their content in, besides the keys above."""

_KIND_ALIASES = {
    "llm": "llm",
    "generation": "llm",
    "chat": "llm",
    "completion": "llm",
    "text_completion": "llm",
    "generate_content": "llm",
    "chain": "chain",
    "workflow": "chain",
    "invoke_workflow": "chain",
    "task": "chain",
    "span": "chain",
    "prompt": "chain",
    "tool": "tool",
    "execute_tool": "tool",
    "retriever": "retrieval",
    "retrieval": "retrieval",
    "reranker": "retrieval",
    "rerank": "retrieval",
    "embedding": "embedding",
    "embeddings": "embedding",
    "agent": "agent",
    "invoke_agent": "agent",
    "create_agent": "agent",
    "evaluator": "evaluator",
    "guardrail": "guardrail",
    "event": "event",
    "unknown": "chain",
}
# Vercel AI SDK ``ai.operationId``: the provider call (``.doGenerate``/``.doStream``) is the LLM span.
_VERCEL_KINDS = {
    "doGenerate": "llm",
    "doStream": "llm",
    "doEmbed": "embedding",
    "toolCall": "tool",
}


def first(attrs: dict[str, Any], keys: tuple[str, ...]) -> Any:
    """The first non-empty value among ``keys``."""
    for key in keys:
        value = attrs.get(key)
        if value is not None and value != "":
            return value
    return None


def truncate(text: str, limit: int = MAX_VALUE_CHARS) -> str:
    if len(text) > limit:
        return text[: limit - len(semconv.TRUNCATION_MARKER)] + semconv.TRUNCATION_MARKER
    return text


def _text(value: Any, limit: int = MAX_VALUE_CHARS) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return truncate(text, limit)


def _short(value: Any, limit: int) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else _text(value)
    return text[:limit] if text else None


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if type(value) is float:  # the common case, without float()'s round trip
        return value if math.isfinite(value) else None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


_INT_LIMIT = 2**31


def _int(value: Any) -> int | None:
    if type(value) is int and 0 <= value < _INT_LIMIT:  # the common case: what the float round trip gives back
        return value
    number = _number(value)
    if number is None:
        return None
    return int(number) if 0 <= number < _INT_LIMIT else None  # the token columns are 32-bit integers


def _json_field(attrs: dict[str, Any], keys: tuple[str, ...], field: str) -> Any:
    """A field of a JSON-object attribute (Langfuse's usage and cost details)."""
    for key in keys:
        raw = attrs.get(key)
        if isinstance(raw, str) and raw.startswith("{"):
            try:
                doc = json.loads(raw)
            except ValueError:
                continue
            if isinstance(doc, dict) and doc.get(field) is not None:
                return doc[field]
    return None


def _messages(attrs: dict[str, Any], prefixes: tuple[tuple[str, str, str], ...]) -> str | None:
    """Rebuild ``[{"role", "content"}, ...]`` from flattened, indexed message attributes."""
    for prefix, role_suffix, content_suffix in prefixes:
        role0, content0 = _FIRST_MESSAGE_KEYS[prefix]
        if role0 not in attrs and content0 not in attrs:
            continue
        messages: list[dict[str, Any]] = []
        for index in range(10_000):
            role = attrs.get(f"{prefix}{index}{role_suffix}")
            content = attrs.get(f"{prefix}{index}{content_suffix}")
            if content is None and prefix.startswith("llm."):  # multi-part: message.contents.<j>.message_content.*
                parts = []
                for part in range(1000):
                    text = attrs.get(f"{prefix}{index}.message.contents.{part}.message_content.text")
                    if text is None:
                        break
                    parts.append(text)
                content = "\n".join(parts) if parts else None
            if role is None and content is None:
                break
            messages.append({"role": role, "content": content})
        return _text(messages)
    return None


_FIRST_MESSAGE_KEYS = {
    prefix: (f"{prefix}0{role_suffix}", f"{prefix}0{content_suffix}")
    for prefix, role_suffix, content_suffix in (*INPUT_MESSAGE_PREFIXES, *OUTPUT_MESSAGE_PREFIXES)
}
"""The keys of each message list's first message: most spans have none, and this is what tells."""


def _kind(raw: Any) -> str | None:
    if not isinstance(raw, str):
        return None
    value = raw.strip().lower()
    return _KIND_ALIASES.get(value, value[:32])


def span_kind(attrs: dict[str, Any]) -> str | None:
    """The span's kind from the first kind key present, else from a Vercel AI SDK operation id."""
    kind = _kind(first(attrs, KIND_KEYS))
    return _operation_kind(attrs) if kind is None else kind


def _operation_kind(attrs: dict[str, Any]) -> str | None:
    operation = attrs.get("ai.operationId")
    if isinstance(operation, str) and operation.startswith("ai."):
        return _VERCEL_KINDS.get(operation.rsplit(".", 1)[-1], "chain")
    return None


_FIELD_KEYS: dict[str, tuple[str, ...]] = {
    "model": MODEL_KEYS,
    "response_model": RESPONSE_MODEL_KEYS,
    "provider": PROVIDER_KEYS,
    "input_tokens": INPUT_TOKEN_KEYS,
    "output_tokens": OUTPUT_TOKEN_KEYS,
    "cost": COST_KEYS,
    "input": INPUT_KEYS,
    "output": OUTPUT_KEYS,
    "prompt_name": PROMPT_NAME_KEYS,
    "prompt_version": PROMPT_VERSION_KEYS,
    "config_hash": (semconv.CONFIG_HASH,),
    "variant": (semconv.VARIANT,),
    "user_id": USER_KEYS,
    "session_id": SESSION_KEYS,
    "kind": KIND_KEYS,
}
"""Each field's source keys, best first; :func:`_pick` returns the fields in this order."""
_LOOKUP: dict[str, tuple[tuple[int, int], ...]] = {}
"""Attribute key → (field's position in :data:`_FIELD_KEYS`, the key's rank among the field's keys) for each field
it feeds."""
for _index, _keys in enumerate(_FIELD_KEYS.values()):
    for _rank, _key in enumerate(_keys):
        _LOOKUP[_key] = (*_LOOKUP.get(_key, ()), (_index, _rank))
_UNRANKED = len(max(_FIELD_KEYS.values(), key=len))
_INPUT_AT, _OUTPUT_AT = list(_FIELD_KEYS).index("input"), list(_FIELD_KEYS).index("output")


def _pick(attrs: dict[str, Any]) -> tuple[list[Any], list[int]]:
    """For every field (in :data:`_FIELD_KEYS` order), the value of its highest-priority key present, and that
    key's rank: one pass over the span's attributes (typically ~10) instead of probing every known key (~70)."""
    ranks = [_UNRANKED] * len(_FIELD_KEYS)
    values: list[Any] = [None] * len(_FIELD_KEYS)
    lookup = _LOOKUP
    for key, value in attrs.items():
        hits = lookup.get(key)
        if hits is None or value is None or value == "":
            continue
        for field, rank in hits:
            if rank < ranks[field]:
                ranks[field] = rank
                values[field] = value
    return values, ranks


def _content(
    attrs: dict[str, Any], value: Any, keys: tuple[str, ...], rank: int, prefixes: tuple[tuple[str, str, str], ...]
) -> tuple[str | None, str | None]:
    """A content column, and the attribute it was read from (``keys[rank]``, the one picked), or None when the
    column is rebuilt from a flattened message list."""
    if value is None:
        return _messages(attrs, prefixes), None
    return _text(value), keys[rank]


def normalise(attrs: dict[str, Any]) -> dict[str, Any]:
    """The normalised columns of a span, from its attributes, and under ``input_key``/``output_key`` the
    attributes the ``input`` and ``output`` columns were read from (None when built otherwise, or absent)."""
    values, ranks = _pick(attrs)
    (
        model,
        response_model,
        provider,
        input_tokens,
        output_tokens,
        cost,
        input_value,
        output_value,
        prompt_name,
        prompt_version,
        config_hash,
        variant,
        user_id,
        session_id,
        kind,
    ) = values
    if input_tokens is None:
        input_tokens = _json_field(attrs, USAGE_JSON_KEYS, "input")
    if output_tokens is None:
        output_tokens = _json_field(attrs, USAGE_JSON_KEYS, "output")
    if cost is None:
        cost = _json_field(attrs, COST_JSON_KEYS, "total")
    input_text, input_key = _content(attrs, input_value, INPUT_KEYS, ranks[_INPUT_AT], INPUT_MESSAGE_PREFIXES)
    output_text, output_key = _content(attrs, output_value, OUTPUT_KEYS, ranks[_OUTPUT_AT], OUTPUT_MESSAGE_PREFIXES)
    # Most fields are absent from a given span: the None tests spare a call each.
    return {
        "model": None if model is None else _short(model, 200),
        "response_model": None if response_model is None else _short(response_model, 200),
        "provider": None if provider is None else _short(provider, 100),
        "input_tokens": None if input_tokens is None else _int(input_tokens),
        "output_tokens": None if output_tokens is None else _int(output_tokens),
        "cost": None if cost is None else _number(cost),
        "input": input_text,
        "output": output_text,
        "prompt_name": None if prompt_name is None else _short(prompt_name, 200),
        "prompt_version": None if prompt_version is None else _short(prompt_version, 100),
        "config_hash": None if config_hash is None else _short(config_hash, 64),
        "variant": None if variant is None else _short(variant, 200),
        "user_id": None if user_id is None else _short(user_id, 200),
        "session_id": None if session_id is None else _short(session_id, 200),
        "span_kind": _operation_kind(attrs) if kind is None else _kind(kind),
        "input_key": input_key,
        "output_key": output_key,
    }


def is_content_key(key: str) -> bool:
    """True for an attribute that carries content (dropped for projects that store none)."""
    return (
        key in CONTENT_KEYS
        or key.endswith(".explanation")
        or (key.startswith(CONTENT_PREFIXES) and not key.startswith("gen_ai.prompt.name"))
    )


def without_content(attrs: dict[str, Any], *, event: bool = False) -> dict[str, Any]:
    """``attrs`` less every content key; ``event`` for the attributes of a span event or log record."""
    return {
        key: value
        for key, value in attrs.items()
        if not is_content_key(key) and not (event and key in EVENT_CONTENT_KEYS)
    }


def bounded_attributes(attrs: dict[str, Any]) -> dict[str, Any]:
    """Attributes as stored: long string values truncated with the marker, never rejected."""
    out: dict[str, Any] = {}
    for key, value in attrs.items():
        if isinstance(value, str):
            if len(value) > MAX_VALUE_CHARS:
                value = truncate(value)
        elif isinstance(value, float) and not math.isfinite(value):  # NaN/Infinity have no JSON form
            value = str(value)
        out[key] = value
    return out
