"""What ``@trace`` and ``span()`` share: their arguments turned into span attributes, the context the
traced code runs in, and how a span ends when that code raises.

Both openers take the same ``kind``/``prompt``/``config``/``variant``/``model``/``provider`` arguments and
must validate them, stamp them and pass the inherited part on to LLM spans opened inside identically;
keeping that here lets ``decorator.py`` and ``span_block.py`` depend on it instead of on each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry import context as context_api
from opentelemetry import trace as trace_api
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.trace import Span as SdkSpan
from opentelemetry.trace import SpanKind, Status, StatusCode

from plaudit import semconv
from plaudit._internal.context import CAPTURE_KEY, VARIANT_KEY
from plaudit._internal.errors import log_internal_error
from plaudit._internal.feedback.refs import remember
from plaudit._internal.genai import fingerprint
from plaudit._internal.prompt import Prompt
from plaudit._internal.serialize import config_attributes, config_hash

_INHERITED_KEYS = (
    semconv.PROMPT_NAME,
    semconv.PROMPT_VERSION,
    semconv.PROMPT_TEMPLATE_HASH,
    semconv.CONFIG_HASH,
    semconv.VARIANT,
    semconv.CODE_HASH,
)


def static_attributes(
    kind: str | None,
    prompt: Prompt | None,
    config: Mapping[str, Any] | None,
    variant: str | None,
    model: str | None,
    provider: str | None,
    attributes: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """Validate decorator/span arguments once and turn them into span attributes (fingerprint included)."""
    attrs: dict[str, Any] = {}
    if kind is not None:
        if kind not in semconv.SPAN_KINDS:
            raise ValueError(f"kind must be one of {', '.join(semconv.SPAN_KINDS)}; got {kind!r}")
        attrs[semconv.SPAN_KIND] = kind
    if prompt is not None:
        if not isinstance(prompt, Prompt):
            raise TypeError(f"prompt must be a plaudit.Prompt, got {type(prompt).__name__}")
        attrs.update(prompt.attributes())
    if config is not None:
        if not isinstance(config, Mapping):
            raise TypeError(f"config must be a mapping, got {type(config).__name__}")
        attrs.update(config_attributes(config, semconv.CONFIG_PREFIX))
        attrs[semconv.CONFIG_HASH] = config_hash(config)
    if variant is not None:
        if not isinstance(variant, str):
            raise TypeError(f"variant must be a string, got {type(variant).__name__}")
        attrs[semconv.VARIANT] = variant
    if model is not None:
        if not isinstance(model, str):
            raise TypeError(f"model must be a string, got {type(model).__name__}")
        attrs[semconv.GEN_AI_REQUEST_MODEL] = model
    if provider is not None:
        if not isinstance(provider, str):
            raise TypeError(f"provider must be a string, got {type(provider).__name__}")
        attrs[semconv.GEN_AI_PROVIDER_NAME] = provider
    if attributes:
        attrs.update(attributes)
    fp = fingerprint(attrs)
    if fp is not None:
        attrs[semconv.FINGERPRINT] = fp
    return attrs


def inherited_attributes(attrs: Mapping[str, Any]) -> dict[str, Any] | None:
    """The part of a span's static attributes that LLM spans opened inside it inherit, or None."""
    inherited = {key: attrs[key] for key in attrs if key in _INHERITED_KEYS or key.startswith(semconv.CONFIG_PREFIX)}
    return inherited or None


def child_context(
    otel_span: trace_api.Span,
    inherited: dict[str, Any] | None,
    capture: bool | None,
    parent: context_api.Context | None = None,
) -> context_api.Context:
    """The context the traced code runs in: ``parent`` (the current one by default) with the span, plus what
    its descendants inherit."""
    ctx = context_api.get_current() if parent is None else parent
    if inherited is None and capture is None:
        return trace_api.set_span_in_context(otel_span, ctx)
    if inherited is not None:
        outer = ctx.get(VARIANT_KEY)
        ctx = context_api.set_value(VARIANT_KEY, {**outer, **inherited} if outer else inherited, ctx)  # type: ignore[dict-item]
    if capture is not None:
        ctx = context_api.set_value(CAPTURE_KEY, capture, ctx)
    return trace_api.set_span_in_context(otel_span, ctx)


_SDK_SET_ATTRIBUTE = SdkSpan.set_attribute


def stored_directly(span: trace_api.Span, key: str, text: str | None, other: str, other_text: str | None) -> bool:
    """Put ``text`` under ``key`` and ``other_text`` under ``other`` (each unless None) straight into the attribute
    map of the SDK's own span, and say so; False, having written nothing, where ``set_attribute`` could store
    something else: a span of another SDK or a subclass with its own ``set_attribute``, another version's
    internals, a per-value length limit, a closed span or map, a key to write already set, no room for two more
    under the count limit. Under the same two locks as ``set_attribute``."""
    if type(span).set_attribute is not _SDK_SET_ATTRIBUTE:
        return False
    try:
        attributes = span._attributes  # type: ignore[attr-defined]
        if type(attributes) is not BoundedAttributes or attributes.max_value_len is not None:
            return False
        with span._lock, attributes._lock:  # type: ignore[attr-defined] # set_attribute's two locks
            stored = attributes._dict
            if (
                span._end_time is not None  # type: ignore[attr-defined]
                or attributes._immutable
                or (text is not None and key in stored)
                or (other_text is not None and other in stored)
                or (attributes.maxlen is not None and len(stored) + 2 > attributes.maxlen)
            ):
                return False
            if text is not None:
                stored[key] = text
            if other_text is not None:
                stored[other] = other_text
            return True
    except AttributeError:  # another version's internals
        return False


def set_text(span: trace_api.Span, key: str, text: str) -> None:
    """Set a text attribute Plaudit made itself (captured input or output, already redacted and cut to size).

    OpenTelemetry's ``set_attribute`` checks the value's type and length again and stores it through two layers
    of calls: for input and output, about a tenth of a traced call. Where nothing could change the value, the
    text goes into the attribute map directly (:func:`stored_directly`); anywhere else, the public path.
    """
    if not stored_directly(span, key, text, key, None):
        span.set_attribute(key, text)


def set_captured(span: trace_api.Span, input_text: str | None, output_text: str | None) -> None:
    """Write a traced call's captured input and output as it ends, in one step: what :func:`set_text` would store
    for each, the input only if the traced code did not set one itself meanwhile (as its own value replaced the
    input set at start before).

    The input is serialised when the call starts (the arguments as they were then) but written here: one pass
    through the span's locks instead of two, a measurable part of a traced call's own cost.
    """
    if not stored_directly(span, semconv.INPUT, input_text, semconv.OUTPUT, output_text):
        set_captured_publicly(span, input_text, output_text)


def set_captured_publicly(span: trace_api.Span, input_text: str | None, output_text: str | None) -> None:
    """:func:`set_captured` through ``set_attribute``, for where :func:`stored_directly` could not write."""
    if input_text is not None and semconv.INPUT not in (getattr(span, "attributes", None) or {}):
        span.set_attribute(semconv.INPUT, input_text)
    if output_text is not None:
        span.set_attribute(semconv.OUTPUT, output_text)


def otel_kind(kind: str | None) -> SpanKind:
    """OTel's span kind: CLIENT for LLM and embedding calls (a request to a provider), INTERNAL otherwise."""
    return SpanKind.CLIENT if kind in ("llm", "embedding") else SpanKind.INTERNAL


def check_flag(name: str, flag: object) -> None:
    """Refuse a capture switch that is not True, False or None: a truthy string such as "no" would capture content."""
    if flag is not None and not isinstance(flag, bool):
        raise TypeError(f"{name} must be True, False or None, got {type(flag).__name__}")


def end_with_error(span: trace_api.Span, token: object, exc: BaseException, input_text: str | None = None) -> None:
    """Leave the span's context and end it with the user's exception recorded (and the traced call's captured
    ``input_text``, see :func:`set_captured`); never raise our own."""
    try:
        context_api.detach(token)  # type: ignore[arg-type]
        if input_text is not None:
            try:
                set_captured(span, input_text, None)
            except Exception:  # noqa: BLE001 - the span still ends with the error
                log_internal_error()
        span.record_exception(exc, escaped=True)
        span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
        span.end()
        remember(span)
    except Exception:  # noqa: BLE001 - the user's exception matters more than ours
        log_internal_error()
