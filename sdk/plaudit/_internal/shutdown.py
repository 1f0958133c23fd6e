"""Delivering what is queued and stopping what :func:`configure` started: ``flush()``, ``shutdown()``, exit.

Every way a setup ends goes through here: an explicit ``shutdown()``, a re-``configure()`` replacing the
previous pipeline, and interpreter exit. They share one rule: spans and feedback are settled side by side
against one deadline, and when it passes, what is still undelivered is spooled (with a spool directory)
or counted as dropped, and the call returns. A request that never gets an answer is left to its daemon
thread; the host never waits on an unreachable collector longer than it asked to.
"""

from __future__ import annotations

import time
from typing import Any

from opentelemetry import trace as trace_api

from plaudit._internal.config import Settings
from plaudit._internal.errors import handle_internal_errors
from plaudit._internal.processors import Pipeline
from plaudit._internal.state import STATE
from plaudit._internal.threads import start_daemon

EXIT_SECONDS = 4.0
"""What interpreter exit spends settling spans and feedback; with the interpreter's own teardown, exit stays
under the 5 s RELIABILITY.md promises."""


def _left(deadline: float) -> float:
    return max(deadline - time.monotonic(), 0.0)


def settle(pipeline: Pipeline | None, feedback: Any, deadline: float, *, stop: bool) -> bool:
    """Flush (``stop=False``) or stop spans and feedback side by side by ``deadline``; True if all was delivered."""
    outcome: dict[str, bool] = {}

    def feedback_part() -> None:
        with handle_internal_errors:
            if stop:
                outcome["feedback"] = feedback.shutdown(_left(deadline)) is not False
            else:
                outcome["feedback"] = feedback.flush(_left(deadline))

    worker = start_daemon(feedback_part, "plaudit-feedback-settle") if feedback is not None else None
    spans_ok = True
    with handle_internal_errors:
        if pipeline is not None:
            millis = int(_left(deadline) * 1000)
            if stop:
                pipeline.shutdown(millis)
            else:
                spans_ok = pipeline.force_flush(millis)
    if worker is None:
        return spans_ok
    worker.join(_left(deadline) + 0.05)
    return spans_ok and outcome.get("feedback", False)


def stop_in_background(pipeline: Pipeline | None, feedback: Any, wait: float) -> None:
    """Settle and stop what an earlier setup started, waiting at most ``wait`` seconds."""
    if pipeline is not None or feedback is not None:
        settle(pipeline, feedback, time.monotonic() + max(wait, 0.0), stop=True)


def flush_at_exit() -> None:
    """The ``atexit`` hook :func:`configure` registers once: settle spans and feedback within ``EXIT_SECONDS``."""
    with handle_internal_errors:
        shutdown(EXIT_SECONDS)


def flush(timeout: float = 30.0) -> bool:
    """Deliver queued spans and feedback, both within ``timeout`` seconds in all.

    Args:
        timeout: seconds to wait, shared by spans and feedback.

    Returns:
        True when the collector acknowledged everything queued and nothing was dropped since the previous
        flush; False when the time ran out first or something was lost (see :func:`plaudit.stats`).

    Example:
        >>> plaudit.flush(timeout=5)  # doctest: +SKIP
        True
    """
    with handle_internal_errors:
        return settle(STATE.pipeline, STATE.feedback, time.monotonic() + max(timeout, 0.0), stop=False)
    return False


def shutdown(timeout: float = 30.0) -> None:
    """Deliver what is queued, then stop background threads, returning within ``timeout`` seconds.

    Tracing is a no-op afterwards until configured again. What is still undelivered when the time is up
    (collector down or silent) goes to the spool directory if one is set, else is counted as dropped and
    reported once.

    Args:
        timeout: seconds to wait, shared by spans and feedback.

    Example:
        >>> plaudit.shutdown(timeout=2)  # doctest: +SKIP
    """
    with handle_internal_errors:
        deadline = time.monotonic() + max(timeout, 0.0)
        with STATE.lock:
            old_pipeline, old_feedback = STATE.pipeline, STATE.feedback
            for hook in list(STATE.hooks.values()):
                hook.target = None
            STATE.pipeline = None
            STATE.feedback = None
            STATE.provider = None
            STATE.settings = Settings(send=False)
            STATE.tracer = trace_api.NoOpTracer()
        settle(old_pipeline, old_feedback, deadline, stop=True)
