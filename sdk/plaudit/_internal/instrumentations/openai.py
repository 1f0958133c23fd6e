"""Trace the ``openai`` library's chat completions, Responses API and embeddings calls as OTel GenAI CLIENT spans.

Our own thin wrapper rather than ``opentelemetry-instrumentation-openai-v2``: that package (2.4b0) pins
``opentelemetry-semantic-conventions~=0.60b0`` and pulls in ``opentelemetry-instrumentation``,
``opentelemetry-util-genai`` and ``wrapt``; it records message content through the Logs API under its
own environment switches, so Plaudit's ``capture_content``/``redact`` rules could not apply, and it
records no time to first chunk on the span. What we need is small: one span per
``chat.completions.create`` and per ``responses.create`` (sync and async; ``stream=True`` too, which also
covers both ``.stream()`` helpers), request and response attributes under the ``gen_ai.*`` names, and the
stream observed in place.

This module owns the patching and the wrappers all endpoints share. What each endpoint records is built in
``openai_chat.py``, ``openai_responses.py`` and ``openai_embeddings.py`` (an ``embeddings`` span), streams are
observed by ``openai_streams.py``, and the helpers they all use are in ``openai_common.py``. The
structured-output ``parse`` methods of chat completions and the Responses API post on their own rather than
through ``create``, so they are wrapped too, as the same ``chat`` spans; the pydantic class they take
(``response_format``, ``text_format``) is not read.

Every wrapper follows the same order: our parsing in a try (on failure the original runs untraced),
the user's call outside our try, user exceptions recorded and re-raised unchanged, the original
result returned as the very same object. A stream is observed by swapping the private iterator the
``Stream`` object reads from for a generator that passes each chunk through untouched; when that
attribute is missing (another ``openai`` layout) the span ends at once, without the stream's data.
"""

from __future__ import annotations

import functools
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from opentelemetry import context as context_api
from opentelemetry import trace as trace_api
from opentelemetry.trace import SpanKind

from plaudit import semconv
from plaudit._internal.context import capture_allowed
from plaudit._internal.errors import handle_internal_errors, log_internal_error
from plaudit._internal.genai import span_name
from plaudit._internal.instrumentations import openai_embeddings
from plaudit._internal.instrumentations.openai_chat import ChatStreamState, request_attributes, response_attributes
from plaudit._internal.instrumentations.openai_common import OPERATION, get_field, record_error, record_failure
from plaudit._internal.instrumentations.openai_responses import (
    ResponsesStreamState,
    response_failure,
    responses_request_attributes,
    responses_response_attributes,
)
from plaudit._internal.instrumentations.openai_streams import StreamState, observe_async, observe_sync
from plaudit._internal.provider import get_settings, get_tracer

# --- wrappers -----------------------------------------------------------------------------------------------


def _no_failure(result: Any) -> None:
    return None


@dataclass(frozen=True)
class _Endpoint:
    """What differs between the traced endpoints (chat completions, Responses, embeddings); the wrappers are shared."""

    request_attributes: Callable[[dict[str, Any], bool], dict[str, Any]]
    response_attributes: Callable[[Any, bool], dict[str, Any]]
    result_field: str  # present on a parsed result only, not on a ``with_raw_response`` HTTP response
    stream_state: type[StreamState] = StreamState  # the base class for an endpoint that never streams
    failure: Callable[[Any], tuple[str, str] | None] = _no_failure
    operation: str = OPERATION


_CHAT = _Endpoint(request_attributes, response_attributes, "choices", ChatStreamState)
_RESPONSES = _Endpoint(
    responses_request_attributes, responses_response_attributes, "output", ResponsesStreamState, response_failure
)
_EMBEDDINGS = _Endpoint(
    openai_embeddings.embeddings_request_attributes,
    openai_embeddings.embeddings_response_attributes,
    openai_embeddings.RESULT_FIELD,
    operation=openai_embeddings.OPERATION,
)


def _start(kwargs: dict[str, Any], endpoint: _Endpoint) -> tuple[trace_api.Span, bool]:
    settings = get_settings()
    capture = settings.capture_content and capture_allowed()
    attrs = endpoint.request_attributes(kwargs, capture)
    model = attrs.get(semconv.GEN_AI_REQUEST_MODEL)
    span = get_tracer().start_span(span_name(endpoint.operation, model), kind=SpanKind.CLIENT, attributes=attrs)
    return span, capture


def _finish(
    span: trace_api.Span, result: Any, capture: bool, started: float, stream_kind: str, endpoint: _Endpoint
) -> None:
    """Record the result on the span and end it, or hand the span to the stream that will end it."""
    if stream_kind and hasattr(result, "_iterator") and hasattr(result, "close"):
        state = endpoint.stream_state(span, started, capture)
        weakref.finalize(result, state.end)  # a stream dropped unread and unclosed still ends its span
        (observe_async if stream_kind == "async" else observe_sync)(result, state)
        return
    if get_field(result, endpoint.result_field) is not None:
        span.set_attributes(endpoint.response_attributes(result, capture))
        failure = endpoint.failure(result)
        if failure is not None:
            record_failure(span, *failure)
    span.end()


def _is_stream(result: Any, cls: type | None) -> bool:
    return cls is not None and isinstance(result, cls)


def wrap_sync(original: Callable[..., Any], stream_cls: type | None, endpoint: _Endpoint = _CHAT) -> Callable[..., Any]:
    @functools.wraps(original)
    def create(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            span, capture = _start(kwargs, endpoint)
            token = context_api.attach(trace_api.set_span_in_context(span))
        except Exception:  # noqa: BLE001 - telemetry must not alter the call
            log_internal_error()
            return original(self, *args, **kwargs)
        started = time.perf_counter()
        try:
            result = original(self, *args, **kwargs)
        except BaseException as exc:
            with handle_internal_errors:
                context_api.detach(token)
                record_error(span, exc)
                span.end()
            raise
        with handle_internal_errors:
            context_api.detach(token)
            _finish(span, result, capture, started, "sync" if _is_stream(result, stream_cls) else "", endpoint)
        return result

    create.__plaudit_original__ = original  # type: ignore[attr-defined]
    return create


def wrap_async(
    original: Callable[..., Any], stream_cls: type | None, endpoint: _Endpoint = _CHAT
) -> Callable[..., Any]:
    @functools.wraps(original)
    async def create(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            span, capture = _start(kwargs, endpoint)
            token = context_api.attach(trace_api.set_span_in_context(span))
        except Exception:  # noqa: BLE001 - telemetry must not alter the call
            log_internal_error()
            return await original(self, *args, **kwargs)
        started = time.perf_counter()
        try:
            result = await original(self, *args, **kwargs)
        except BaseException as exc:
            with handle_internal_errors:
                context_api.detach(token)
                record_error(span, exc)
                span.end()
            raise
        with handle_internal_errors:
            context_api.detach(token)
            _finish(span, result, capture, started, "async" if _is_stream(result, stream_cls) else "", endpoint)
        return result

    create.__plaudit_original__ = original  # type: ignore[attr-defined]
    return create


def _patch(cls: type, name: str, wrap: Callable[[Callable[..., Any]], Callable[..., Any]]) -> Callable[[], None]:
    """Replace ``cls.name`` with ``wrap(original)``; the undo puts back exactly what was there.

    A method this ``openai`` version lacks (``parse`` in older releases) is skipped, and its undo does nothing.
    """
    own = name in cls.__dict__
    original = cls.__dict__[name] if own else getattr(cls, name, None)
    if not callable(original):
        return lambda: None
    setattr(cls, name, wrap(original))

    def undo() -> None:
        if own:
            setattr(cls, name, original)
        else:
            delattr(cls, name)

    return undo


def apply() -> Callable[[], None]:
    """Patch ``create`` and ``parse`` of the chat completions and Responses resources and ``create`` of the
    embeddings resource, sync and async; return the undo."""
    import openai
    from openai.resources.chat.completions import AsyncCompletions, Completions

    # (sync resource, async resource, endpoint, traced methods)
    targets: list[tuple[type, type, _Endpoint, tuple[str, ...]]] = [
        (Completions, AsyncCompletions, _CHAT, ("create", "parse"))
    ]
    try:
        from openai.resources.responses import AsyncResponses, Responses
    except ImportError:  # openai before 1.66 has no Responses API; the other endpoints are still traced
        pass
    else:
        targets.append((Responses, AsyncResponses, _RESPONSES, ("create", "parse")))
    try:
        from openai.resources.embeddings import AsyncEmbeddings, Embeddings
    except ImportError:  # a layout without this module: embeddings stay untraced
        pass
    else:
        targets.append((Embeddings, AsyncEmbeddings, _EMBEDDINGS, ("create",)))

    undos: list[Callable[[], None]] = []
    for sync_cls, async_cls, endpoint, names in targets:
        for name in names:
            undos.append(
                _patch(sync_cls, name, functools.partial(wrap_sync, stream_cls=openai.Stream, endpoint=endpoint))
            )
            undos.append(
                _patch(async_cls, name, functools.partial(wrap_async, stream_cls=openai.AsyncStream, endpoint=endpoint))
            )

    def undo() -> None:
        for step in reversed(undos):
            step()

    return undo
