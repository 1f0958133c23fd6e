"""Request-scoped attributes (user, session, tags, metadata) carried in the OpenTelemetry context."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as context_api

from plaudit import semconv

CONTEXT_KEY = context_api.create_key("plaudit-attributes")
"""User, session, tags and metadata: stamped on every span opened inside :func:`context`."""
VARIANT_KEY = context_api.create_key("plaudit-variant")
"""Prompt/config/variant attributes of the enclosing traced call: inherited by the LLM spans opened inside it."""
STAMPED_KEY = context_api.create_key("plaudit-attributes-stamped")
"""Set, in the context a span is started in, to the :data:`CONTEXT_KEY` mapping its opener already put among
the start attributes, so the processor does not set them again; never in the context code runs in."""
CAPTURE_KEY = context_api.create_key("plaudit-capture-content")
"""False inside a block that turned content capture off; absent otherwise."""


class PlainStart(context_api.Context):
    """A span's start context, as passed to ``start_span``, that tells Plaudit's processor it has nothing to do.

    The opener uses it only when it knows so: no :func:`context` values, nothing to inherit, capture not turned
    off, and no start attributes on a span of Plaudit's own provider (whose sampler adds none), so there is
    nothing to stamp or keep. It is a copy of the real context and means the same to everything else; the code
    never runs in it."""


def capture_allowed(ctx: context_api.Context | None = None) -> bool:
    """False when an enclosing block said ``capture_content=False``."""
    return context_api.get_value(CAPTURE_KEY, ctx) is not False


def current_attributes(ctx: context_api.Context | None = None) -> Mapping[str, Any] | None:
    """The attributes set by enclosing :func:`context` blocks, if any."""
    return context_api.get_value(CONTEXT_KEY, ctx)  # type: ignore[return-value]


@contextmanager
def context(
    *,
    user_id: str | None = None,
    session_id: str | None = None,
    tags: Sequence[str] | None = None,
    metadata: Mapping[str, Any] | None = None,
    capture_content: bool | None = None,
) -> Iterator[None]:
    """Apply user, session, tags and metadata to every span opened inside the block.

    Nested blocks add to (and override) the outer ones; async tasks and generators started
    inside inherit them through ``contextvars``. ``capture_content=False`` records no inputs,
    outputs or messages for any span inside the block, instrumented client calls included
    (``True`` cannot turn capture back on when :func:`plaudit.configure` turned it off).
    """
    if capture_content is not None and not isinstance(capture_content, bool):
        raise TypeError("capture_content must be True, False or None")
    if user_id is not None and not isinstance(user_id, str):
        raise TypeError("user_id must be a string")
    if session_id is not None and not isinstance(session_id, str):
        raise TypeError("session_id must be a string")
    if tags is not None and (isinstance(tags, str) or not all(isinstance(t, str) for t in tags)):
        raise TypeError("tags must be a sequence of strings")
    if metadata is not None and not isinstance(metadata, Mapping):
        raise TypeError("metadata must be a mapping")
    merged: dict[str, Any] = dict(current_attributes() or {})
    if user_id is not None:
        merged[semconv.USER_ID] = user_id
    if session_id is not None:
        merged[semconv.SESSION_ID] = session_id
    if tags:
        merged[semconv.TAGS] = tuple(dict.fromkeys((*merged.get(semconv.TAGS, ()), *tags)))
    for key, value in (metadata or {}).items():
        merged[semconv.METADATA_PREFIX + str(key)] = value if isinstance(value, (bool, int, float, str)) else str(value)
    ctx = context_api.set_value(CONTEXT_KEY, merged)
    if capture_content is not None:
        ctx = context_api.set_value(CAPTURE_KEY, capture_content, ctx)
    token = context_api.attach(ctx)
    try:
        yield
    finally:
        context_api.detach(token)
