"""OpenTelemetry GenAI semantic-convention helpers shared by ``@trace`` and the client instrumentations.

Attribute names follow the GenAI registry (``gen_ai.*``, semantic conventions v1.41): inference spans
are named ``"{gen_ai.operation.name} {gen_ai.request.model}"``, are CLIENT spans, and carry the
messages as JSON strings in the shapes of ``gen-ai-input-messages.json``/``gen-ai-output-messages.json``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from plaudit import semconv

_FINGERPRINT_PARTS = (
    semconv.PROMPT_NAME,
    semconv.PROMPT_VERSION,
    semconv.PROMPT_TEMPLATE_HASH,
    semconv.CONFIG_HASH,
    semconv.VARIANT,
    semconv.CODE_HASH,
)


def fingerprint(attrs: Mapping[str, Any]) -> str | None:
    """A 16-hex hash of what makes a variant, or None when the span names no prompt, config, variant or code.

    Two calls share a fingerprint exactly when they used the same prompt (name, version, template),
    config, variant label, requested model and code hash, in any process: the leaderboard can group
    by ``attr.plaudit.fingerprint`` without the app naming its variants.
    """
    if not any(attrs.get(key) is not None for key in _FINGERPRINT_PARTS):
        return None
    parts = [f"{key}={attrs.get(key)!s}" for key in (*_FINGERPRINT_PARTS, semconv.GEN_AI_REQUEST_MODEL)]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def span_name(operation: str, model: str | None) -> str:
    """The convention's inference span name: ``chat gpt-4o-mini``, or the operation alone without a model."""
    return f"{operation} {model}" if model else operation


def text_part(content: str) -> dict[str, Any]:
    return {"type": "text", "content": content}


def tool_call_part(call_id: str | None, name: str | None, arguments: Any) -> dict[str, Any]:
    return {"type": "tool_call", "id": call_id, "name": name, "arguments": arguments}


def tool_response_part(call_id: str | None, response: Any) -> dict[str, Any]:
    return {"type": "tool_call_response", "id": call_id, "response": response}


def scalar(value: Any) -> bool:
    """Whether ``value`` can be an attribute value as it is (numbers, strings, booleans; not None)."""
    return isinstance(value, (str, bool, int, float))
