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
PROJECT_HEADER = "X-Plaudit-Project"
"""HTTP header naming the project a request is for; the SDK sends it when ``configure(project=...)`` is set."""
CODE_HASH = "plaudit.code.hash"
"""Hash of the decorated function's code, with ``@plaudit.trace(hash_code=True)``."""
FINGERPRINT = "plaudit.fingerprint"
"""Stable hash of what makes a variant: prompt, config, variant label, model and (optionally) code hash."""
EXPERIMENT = "plaudit.experiment"
"""The experiment whose choice produced the span (see ``plaudit.Experiment``)."""
EXPERIMENT_PROBABILITY = "plaudit.experiment.probability"
"""The probability with which the span's variant was chosen: what unbiased (inverse-propensity) estimates need."""
EXPERIMENT_SEGMENT = "plaudit.experiment.segment"
"""The segment (a value of the experiment's ``segment_by`` key) the choice was made for."""
EXPERIMENT_CHOICE = "plaudit.experiment.choice"
"""One id per choice, shared by every span opened inside it: traffic counts choices, not spans."""

USER_ID = "user.id"
SESSION_ID = "session.id"

GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME = "gen_ai.provider.name"
GEN_AI_SYSTEM = "gen_ai.system"
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_RESPONSE_MODEL = "gen_ai.response.model"
GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS = "gen_ai.usage.reasoning.output_tokens"
GEN_AI_REQUEST_TEMPERATURE = "gen_ai.request.temperature"
GEN_AI_REQUEST_TOP_P = "gen_ai.request.top_p"
GEN_AI_REQUEST_TOP_K = "gen_ai.request.top_k"
GEN_AI_REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_SEED = "gen_ai.request.seed"
GEN_AI_REQUEST_STOP_SEQUENCES = "gen_ai.request.stop_sequences"
GEN_AI_REQUEST_FREQUENCY_PENALTY = "gen_ai.request.frequency_penalty"
GEN_AI_REQUEST_PRESENCE_PENALTY = "gen_ai.request.presence_penalty"
GEN_AI_REQUEST_CHOICE_COUNT = "gen_ai.request.choice.count"
GEN_AI_REQUEST_STREAM = "gen_ai.request.stream"
GEN_AI_REQUEST_ENCODING_FORMATS = "gen_ai.request.encoding_formats"
"""Formats an embeddings request asked for (``["float"]``, ``["base64"]``), when it named one."""
GEN_AI_EMBEDDINGS_DIMENSION_COUNT = "gen_ai.embeddings.dimension.count"
"""Dimensions an embeddings request asked its vectors to have."""
GEN_AI_RESPONSE_ID = "gen_ai.response.id"
GEN_AI_RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk"
"""Seconds from issuing a streaming request to receiving its first chunk."""
GEN_AI_INPUT_MESSAGES = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES = "gen_ai.output.messages"
GEN_AI_SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"
GEN_AI_TOOL_DEFINITIONS = "gen_ai.tool.definitions"
GEN_AI_OUTPUT_TYPE = "gen_ai.output.type"
ERROR_TYPE = "error.type"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"

CONTENT_KEYS = (
    INPUT,
    OUTPUT,
    GEN_AI_INPUT_MESSAGES,
    GEN_AI_OUTPUT_MESSAGES,
    GEN_AI_SYSTEM_INSTRUCTIONS,
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result",
    "gen_ai.retrieval.query.text",
    "gen_ai.retrieval.documents",
    "gen_ai.prompt",
    "gen_ai.completion",
    "input.value",
    "output.value",
    "traceloop.entity.input",
    "traceloop.entity.output",
)
"""Attributes that hold prompt/response content: dropped when capture is off, redacted and truncated otherwise."""
CONTENT_PREFIXES = ("llm.input_messages.", "llm.output_messages.", "gen_ai.prompt.", "gen_ai.completion.")
"""Key prefixes of content attributes flattened per message (OpenInference, older OpenLLMetry)."""

SPAN_KINDS = ("llm", "chain", "tool", "retrieval", "embedding", "agent")
"""The values ``plaudit.span.kind`` may take."""

TRUNCATION_MARKER = "…[truncated]"
"""Appended to a captured value that was cut to the size limit."""

KEY_ATTRIBUTES = (
    SPAN_KIND,
    PROMPT_NAME,
    PROMPT_VERSION,
    PROMPT_TEMPLATE_HASH,
    CONFIG_HASH,
    VARIANT,
    FINGERPRINT,
    EXPERIMENT,
    EXPERIMENT_PROBABILITY,
    EXPERIMENT_SEGMENT,
    EXPERIMENT_CHOICE,
    USER_ID,
    SESSION_ID,
    GEN_AI_OPERATION_NAME,
    GEN_AI_PROVIDER_NAME,
    GEN_AI_SYSTEM,
    GEN_AI_REQUEST_MODEL,
    GEN_AI_RESPONSE_MODEL,
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
)
"""What analytics group by: kept on a span even when OpenTelemetry's attribute count limit drops others."""
