"""``plaudit.feedback`` and its async twin."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from plaudit._internal.errors import handle_internal_errors, log_internal_error
from plaudit._internal.feedback.items import build_item
from plaudit._internal.feedback.refs import SpanRef
from plaudit._internal.tracing import STATE, current_ref, get_settings

if TYPE_CHECKING:
    from plaudit._internal.feedback.client import FeedbackClient


def _client() -> FeedbackClient:
    from plaudit._internal.feedback.client import FeedbackClient

    with STATE.lock:
        if STATE.feedback is None:
            settings = get_settings()
            STATE.feedback = FeedbackClient(settings.endpoint, settings.api_key)
        return STATE.feedback  # type: ignore[no-any-return]


def feedback(
    ref: SpanRef | str | None,
    name: str,
    value: bool | int | float | str | None = None,
    *,
    comment: str | None = None,
    correction: str | None = None,
    source: str = "human",
    author: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    idempotency_key: str | None = None,
    wait: bool = False,
) -> dict[str, Any] | None:
    """Attach a rating to a span (or, with a trace-only ref, to a whole trace).

    ``value`` is a bool (thumbs), a number (a score) or a string (a label). By default the item
    is queued and sent in the background, retried on failure and flushed at exit; returns None.
    With ``wait=True`` it is posted now and the collector's reply (``{"ids": [...]}``) is
    returned, or None if it could not be stored. ``ref=None`` means the current span.
    Wrong arguments raise ``TypeError``/``ValueError``; delivery problems never raise.
    """
    if ref is None:
        ref = current_ref()
        if ref is None:
            raise ValueError("no ref given and no span is active; pass plaudit.current_ref() from inside the call")
    item = build_item(
        ref,
        name,
        value,
        comment=comment,
        correction=correction,
        source=source,
        author=author,
        metadata=metadata,
        idempotency_key=idempotency_key,
    )
    if wait:
        try:
            return _client().send(item)
        except Exception:  # noqa: BLE001 - delivery failure is logged, never raised into the app
            log_internal_error()
            return None
    with handle_internal_errors:
        _client().submit(item)
    return None


async def afeedback(
    ref: SpanRef | str | None,
    name: str,
    value: bool | int | float | str | None = None,
    *,
    comment: str | None = None,
    correction: str | None = None,
    source: str = "human",
    author: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> dict[str, Any] | None:
    """Async twin of :func:`feedback`: awaits the POST and returns the reply, or None if not stored."""
    if ref is None:
        ref = current_ref()
        if ref is None:
            raise ValueError("no ref given and no span is active; pass plaudit.current_ref() from inside the call")
    item = build_item(
        ref,
        name,
        value,
        comment=comment,
        correction=correction,
        source=source,
        author=author,
        metadata=metadata,
        idempotency_key=idempotency_key,
    )
    from plaudit._internal.feedback.client import AsyncFeedbackClient

    settings = get_settings()
    try:
        return await AsyncFeedbackClient(settings.endpoint, settings.api_key).send(item)
    except Exception:  # noqa: BLE001 - delivery failure is logged, never raised into the app
        log_internal_error()
        return None
