"""Span attribute keys that Plaudit writes and the collector reads.

Constants only, so the collector may import this module without pulling in the SDK.
Where OpenTelemetry's GenAI conventions already name a concept, the ``gen_ai.*`` key is used.
"""

from __future__ import annotations

SPAN_KIND = "plaudit.span.kind"
PROMPT_NAME = "plaudit.prompt.name"
PROMPT_VERSION = "plaudit.prompt.version"
PROMPT_TEMPLATE_HASH = "plaudit.prompt.template_hash"
PROMPT_VARIABLES = "plaudit.prompt.variables"
CONFIG_HASH = "plaudit.config.hash"
CONFIG_PREFIX = "plaudit.config."
VARIANT = "plaudit.variant"
INPUT = "plaudit.input"
OUTPUT = "plaudit.output"
TAGS = "plaudit.tags"
METADATA_PREFIX = "plaudit.metadata."
PROJECT = "plaudit.project"

USER_ID = "user.id"
SESSION_ID = "session.id"

GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME = "gen_ai.provider.name"
GEN_AI_SYSTEM = "gen_ai.system"
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_RESPONSE_MODEL = "gen_ai.response.model"
GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"

SPAN_KINDS = ("llm", "chain", "tool", "retrieval", "embedding", "agent")
"""The values ``plaudit.span.kind`` may take."""

TRUNCATION_MARKER = "…[truncated]"
"""Appended to a captured value that was cut to the size limit."""
