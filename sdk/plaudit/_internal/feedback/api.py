"""``plaudit.feedback`` and friends: preferences, implicit signals, session outcomes, feedback tokens,
score configs and deletes. Wrong arguments raise at the call site; delivery problems never raise."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from plaudit._internal.errors import handle_internal_errors, log_internal_error, logger
from plaudit._internal.feedback.items import (
    SIGNALS,
    as_ref,
    build_item,
    build_preference,
    build_session_item,
    build_signal,
)
from plaudit._internal.feedback.refs import SpanRef, current_ref
from plaudit._internal.provider import get_settings
from plaudit._internal.serialize import redact_text
from plaudit._internal.state import STATE

if TYPE_CHECKING:
    from plaudit._internal.feedback.client import FeedbackClient

SCORE_TYPES = ("numeric", "boolean", "categorical", "text")
MAX_TOKEN_TTL = 7 * 24 * 3600


def _client() -> FeedbackClient:
    from plaudit._internal.feedback.client import build_client

    with STATE.lock:
        if STATE.feedback is None:
            STATE.feedback = build_client(get_settings())
        return STATE.feedback  # type: ignore[no-any-return]


def _redacted(item: dict[str, Any]) -> dict[str, Any]:
    """The item with the configured redact hook applied to its free text (comment and correction)."""
    redact = get_settings().redact
    if redact is not None:
        for key in ("comment", "correction"):
            if isinstance(item.get(key), str):
                item[key] = redact_text(item[key], redact)
    return item


def _resolve_ref(ref: SpanRef | str | None) -> SpanRef | str:
    if ref is None:
        ref = current_ref()
        if ref is None:
            raise ValueError("no ref given and no span is active; pass plaudit.current_ref() from inside the call")
    return ref


def _dispatch(item: dict[str, Any], wait: bool) -> dict[str, Any] | None:
    """Queue the item (returns None), or with ``wait`` post it now and return the collector's reply."""
    with handle_internal_errors:
        item = _redacted(item)
    if wait:
        try:
            return _client().send(item)
        except Exception:  # noqa: BLE001 - delivery failure is logged, never raised into the app
            log_internal_error()
            return None
    with handle_internal_errors:
        _client().submit(item)
    return None


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
    """Attach a judgment to a span (or, with a trace-only ref, to a whole trace).

    Args:
        ref: a :class:`SpanRef` or its string form; None means the current span.
        name: the score's name, such as ``"thumbs"``.
        value: a bool (thumbs), a number (a score) or a string (a label); None with only a comment
            or a ``correction`` (the user's edited version of the output).
        comment: free text.
        correction: the corrected output.
        source: ``human``, ``end_user``, ``annotator``, ``llm_judge`` or ``code``.
        author: who judged; a new value by the same author on the same target and name replaces theirs.
        metadata: extra JSON-able data.
        idempotency_key: retries with the same key store one row (one is generated when omitted).
        wait: post now and return the reply instead of queueing.

    Returns:
        None when queued (sent in the background, retried until acknowledged, flushed at exit);
        with ``wait=True`` the reply ``{"ids": [...], "items": [stored item]}``, or None if not stored.

    Raises:
        TypeError, ValueError: wrong arguments. Delivery problems are logged, never raised.

    Example:
        >>> plaudit.feedback(ref, "thumbs", False, comment="too long", author="user-42")  # doctest: +SKIP
    """
    item = build_item(
        _resolve_ref(ref),
        name,
        value,
        comment=comment,
        correction=correction,
        source=source,
        author=author,
        metadata=metadata,
        idempotency_key=idempotency_key,
    )
    return _dispatch(item, wait)


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
    item = build_item(
        _resolve_ref(ref),
        name,
        value,
        comment=comment,
        correction=correction,
        source=source,
        author=author,
        metadata=metadata,
        idempotency_key=idempotency_key,
    )
    item = _redacted(item)
    from plaudit._internal.feedback.client import AsyncFeedbackClient

    settings = get_settings()
    try:
        return await AsyncFeedbackClient(settings.endpoint, settings.api_key, project=settings.project).send(item)
    except Exception:  # noqa: BLE001 - delivery failure is logged, never raised into the app
        log_internal_error()
        return None


def preference(
    ref_a: SpanRef | str,
    ref_b: SpanRef | str,
    winner: str,
    *,
    name: str = "preference",
    comment: str | None = None,
    source: str = "human",
    author: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    idempotency_key: str | None = None,
    wait: bool = False,
) -> dict[str, Any] | None:
    """Record which of two outputs was better: ``winner`` is ``"a"``, ``"b"`` or ``"tie"``.

    Args:
        ref_a: the first output's span (or trace).
        ref_b: the second output's span (or trace).
        winner: ``"a"``, ``"b"`` or ``"tie"``.
        name: what was compared, such as ``"helpfulness"``.
        comment, source, author, metadata, idempotency_key, wait: as for :func:`feedback`.

    Returns:
        None when queued; with ``wait=True`` the collector's reply, or None if not stored.

    Raises:
        TypeError, ValueError: wrong arguments.

    Example:
        >>> plaudit.preference(ref_v1, ref_v2, winner="b", name="helpfulness")  # doctest: +SKIP
    """
    item = build_preference(
        ref_a,
        ref_b,
        winner,
        name=name,
        comment=comment,
        source=source,
        author=author,
        metadata=metadata,
        idempotency_key=idempotency_key,
    )
    return _dispatch(item, wait)


def signal(
    ref: SpanRef | str | None,
    kind: str,
    *,
    author: str | None = None,
    comment: str | None = None,
    correction: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    idempotency_key: str | None = None,
    wait: bool = False,
) -> dict[str, Any] | None:
    """Report what a user did with an answer: ``copied``, ``regenerated``, ``edited``, ``abandoned`` or ``follow_up``.

    Stored as feedback named after the signal, value ``True``, ``source="end_user"``, so the
    leaderboard reads it like any score (``score=copied`` gives the copy rate among signalled spans).

    Args:
        ref: the answer's span; None means the current span.
        kind: one of the five signals.
        author: the user.
        comment: for ``follow_up``, the follow-up message, say.
        correction: for ``edited``, the edited text.
        metadata, idempotency_key, wait: as for :func:`feedback`.

    Returns:
        None when queued; with ``wait=True`` the collector's reply, or None if not stored.

    Raises:
        ValueError: an unknown signal or wrong arguments.

    Example:
        >>> plaudit.signal(ref, "copied", author="user-42")  # doctest: +SKIP
    """
    if kind not in SIGNALS:
        raise ValueError(f"signal must be one of {', '.join(SIGNALS)}; got {kind!r}")
    item = build_signal(
        _resolve_ref(ref),
        kind,
        author=author,
        comment=comment,
        correction=correction,
        metadata=metadata,
        idempotency_key=idempotency_key,
    )
    return _dispatch(item, wait)


def session_feedback(
    session_id: str,
    name: str,
    value: bool | int | float | str | None = None,
    *,
    comment: str | None = None,
    source: str = "human",
    author: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    idempotency_key: str | None = None,
    wait: bool = False,
) -> dict[str, Any] | None:
    """Judge a whole session (the ``session_id`` given to :func:`plaudit.context`).

    ``value="unknown"`` or ``"ongoing"`` records an outcome not decided yet: it is kept and shown,
    and left out of means.

    Args:
        session_id: the session.
        name: the outcome's name, such as ``"resolved"``.
        value: as for :func:`feedback`, or ``"unknown"``/``"ongoing"``.
        comment, source, author, metadata, idempotency_key, wait: as for :func:`feedback`.

    Returns:
        None when queued; with ``wait=True`` the collector's reply, or None if not stored.

    Raises:
        TypeError, ValueError: wrong arguments.

    Example:
        >>> plaudit.session_feedback("sess-7", "resolved", True)  # doctest: +SKIP
    """
    item = build_session_item(
        session_id,
        name,
        value,
        comment=comment,
        source=source,
        author=author,
        metadata=metadata,
        idempotency_key=idempotency_key,
    )
    return _dispatch(item, wait)


def feedback_token(
    ref: SpanRef | str | None,
    *,
    names: Sequence[str],
    ttl: int = 3600,
    author: str | None = None,
) -> str | None:
    """Mint a token a browser can post feedback with, without the API key.

    The token allows feedback on ``ref``'s span only (or, for a trace-only ref, the trace and its
    spans), for the score ``names`` only, until ``ttl`` seconds from now; with ``author`` set,
    every item posted with it is by that author. The browser sends it in the
    ``X-Plaudit-Feedback-Token`` header to ``POST /v1/feedback``.

    Args:
        ref: the answer's span; None means the current span.
        names: the scores the browser may send, such as ``["thumbs", "comment"]``.
        ttl: lifetime in seconds (at most 7 days).
        author: pin the author (the signed-in user), so a vote change replaces that user's vote.

    Returns:
        The token, or None when the collector could not be reached (logged).

    Raises:
        TypeError, ValueError: wrong arguments.

    Example:
        >>> token = plaudit.feedback_token(ref, names=["thumbs"], author="user-42")  # doctest: +SKIP
    """
    span_ref = as_ref(_resolve_ref(ref))
    if isinstance(names, str) or not isinstance(names, Sequence) or not names:
        raise TypeError("names must be a non-empty list of score names")
    if not all(isinstance(n, str) and n.strip() and len(n) <= 200 for n in names):
        raise ValueError("each name must be a non-empty string of at most 200 characters")
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 1 <= ttl <= MAX_TOKEN_TTL:
        raise ValueError(f"ttl must be an integer number of seconds between 1 and {MAX_TOKEN_TTL}")
    if author is not None and not isinstance(author, str):
        raise TypeError("author must be a string")
    body = {"ref": str(span_ref), "names": list(names), "ttl": ttl, "author": author}
    reply = _call("POST", "/v1/feedback-tokens", body)
    return None if reply is None else str(reply["token"])


def score_config(
    name: str,
    type: str,
    *,
    min: float | None = None,
    max: float | None = None,
    categories: Sequence[str] | None = None,
    strict: bool = True,
    description: str | None = None,
) -> dict[str, Any] | None:
    """Declare what the score ``name`` may hold; with ``strict`` the collector refuses feedback that breaks it.

    Args:
        name: the score's name.
        type: ``numeric``, ``boolean``, ``categorical`` or ``text``.
        min: lowest allowed value (numeric).
        max: highest allowed value (numeric).
        categories: allowed labels (categorical).
        strict: reject violating feedback with a 422 (default) instead of only documenting the score.
        description: what the score means, for people reading the dashboard.

    Returns:
        The stored config, or None when the collector could not be reached or refused it (logged).

    Raises:
        TypeError, ValueError: wrong arguments.

    Example:
        >>> plaudit.score_config("stars", "numeric", min=1, max=5)  # doctest: +SKIP
    """
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise ValueError("name must be a non-empty string of at most 200 characters")
    if type not in SCORE_TYPES:
        raise ValueError(f"type must be one of {', '.join(SCORE_TYPES)}; got {type!r}")
    if not isinstance(strict, bool):
        raise TypeError("strict must be True or False")
    if categories is not None and (isinstance(categories, str) or not all(isinstance(c, str) for c in categories)):
        raise TypeError("categories must be a list of strings")
    body = {
        "type": type,
        "min": min,
        "max": max,
        "categories": list(categories) if categories is not None else None,
        "strict": strict,
        "description": description,
    }
    return _call("PUT", f"/v1/score-configs/{quote(name, safe='')}", body)


def delete_feedback(feedback_id: int) -> bool:
    """Delete one stored feedback item by id (it stops counting everywhere; the row is kept for audit).

    Args:
        feedback_id: an id from a ``wait=True`` reply or the collector's feedback list.

    Returns:
        True when deleted, False when there is no such item or the collector could not be reached.

    Raises:
        TypeError: ``feedback_id`` is not an integer.

    Example:
        >>> plaudit.delete_feedback(reply["ids"][0])  # doctest: +SKIP
    """
    if isinstance(feedback_id, bool) or not isinstance(feedback_id, int):
        raise TypeError("feedback_id must be an integer")
    return _call("DELETE", f"/v1/feedback/{feedback_id}", None) is not None


def _call(method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any] | None:
    """A blocking collector call; None (logged) on any failure, so the host app carries on."""
    try:
        response = _client().request(method, path, body)
    except Exception:  # noqa: BLE001 - delivery failure is logged, never raised into the app
        log_internal_error()
        return None
    if response.status_code >= 300:
        logger.warning("Plaudit %s %s failed with %d: %s", method, path, response.status_code, response.text[:500])
        return None
    return response.json() if response.content else {}  # type: ignore[no-any-return]
