"""Span attributes of ``embeddings.create``, traced by the shared wrappers in ``openai.py``.

The GenAI conventions' embeddings span (``span.gen_ai.embeddings.client``) is named ``embeddings {model}``
and carries the requested model, ``gen_ai.request.encoding_formats``, ``gen_ai.embeddings.dimension.count``,
the response model and the input tokens. The conventions define no content attribute for it; the texts go to
``gen_ai.input.messages`` like a chat call's input (one user message, one text part per embedded input, in
request order), so the same capture, redaction and truncation rules apply and the collector shows them as the
span's input. The vectors are never read: ``data`` can be megabytes, and it is output, not something to inspect.
"""

from __future__ import annotations

from typing import Any

from plaudit import semconv
from plaudit._internal.genai import text_part
from plaudit._internal.instrumentations.openai_common import PROVIDER, captured, get_field, identity_attributes, listed

OPERATION = "embeddings"
RESULT_FIELD = "data"  # on a ``CreateEmbeddingResponse`` only, not on a ``with_raw_response`` HTTP response


def _input_parts(input_: Any) -> list[dict[str, Any]]:
    """One part per embedded input: its text, or a bare ``tokens`` part for a token array (ids are not text)."""
    if isinstance(input_, str):
        return [text_part(input_)]
    items = listed(input_)
    if items and all(isinstance(item, int) for item in items):  # a single token array
        return [{"type": "tokens"}]
    return [text_part(item) if isinstance(item, str) else {"type": "tokens"} for item in items]


def embeddings_request_attributes(kwargs: dict[str, Any], capture: bool) -> dict[str, Any]:
    """Span attributes known before the call, from ``embeddings.create``'s keyword arguments.

    Only what the caller passed: the library asks for base64 on its own when no format is given and
    decodes it, which is transport detail, so ``gen_ai.request.encoding_formats`` is left out then.
    """
    attrs: dict[str, Any] = {
        semconv.GEN_AI_OPERATION_NAME: OPERATION,
        semconv.GEN_AI_PROVIDER_NAME: PROVIDER,
        semconv.SPAN_KIND: "embedding",
    }
    model = kwargs.get("model")
    if isinstance(model, str):
        attrs[semconv.GEN_AI_REQUEST_MODEL] = model
    encoding_format = kwargs.get("encoding_format")
    if isinstance(encoding_format, str):
        attrs[semconv.GEN_AI_REQUEST_ENCODING_FORMATS] = [encoding_format]
    dimensions = kwargs.get("dimensions")
    if isinstance(dimensions, int) and not isinstance(dimensions, bool):
        attrs[semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] = dimensions
    if capture:
        parts = _input_parts(kwargs.get("input"))
        if parts:
            attrs[semconv.GEN_AI_INPUT_MESSAGES] = captured([{"role": "user", "parts": parts}])
    return attrs


def embeddings_response_attributes(response: Any, capture: bool) -> dict[str, Any]:
    """Span attributes from a ``CreateEmbeddingResponse``: the served model and the input tokens."""
    attrs = identity_attributes(response)
    tokens = get_field(get_field(response, "usage"), "prompt_tokens")
    if isinstance(tokens, int):
        attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] = tokens
    return attrs
