"""Delivering what is queued and stopping what :func:`configure` started: ``flush()``, ``shutdown()``, exit.

Every way a setup ends goes through here: an explicit ``shutdown()``, a re-``configure()`` replacing the
previous pipeline, and interpreter exit. They share one rule, kept in :func:`stop_in_background`: the host
never waits on an unreachable collector longer than it asked to.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from opentelemetry import trace as trace_api

from plaudit._internal.config import Settings
from plaudit._internal.errors import handle_internal_errors
from plaudit._internal.processors import Pipeline
from plaudit._internal.state import STATE


def stop_in_background(pipeline: Pipeline | None, feedback: Any, wait: float) -> None:
    """Flush and stop what an earlier setup started, waiting at most ``wait`` seconds.

    OpenTelemetry's processors flush on shutdown with their own 30 s bound and exporters retry, so
    with the collector down this can take long: it runs on a daemon thread and the caller waits only
    ``wait`` seconds. Re-configuration and shutdown never hang the host on an unreachable collector.
    """
    if pipeline is None and feedback is None:
        return

    def stop() -> None:
        with handle_internal_errors:
            if pipeline is not None:
                pipeline.shutdown(int(max(wait, 0.0) * 1000))
        with handle_internal_errors:
            if feedback is not None:
                feedback.shutdown()

    worker = threading.Thread(target=stop, name="plaudit-stop", daemon=True)
    worker.start()
    worker.join(max(wait, 0.0))


def flush_at_exit() -> None:
    """The ``atexit`` hook :func:`configure` registers once: deliver the current pipeline's spans."""
    with handle_internal_errors:
        pipeline = STATE.pipeline
        if pipeline is not None:
            pipeline.shutdown()


def flush(timeout: float = 30.0) -> bool:
    """Export queued spans and send queued feedback; True when everything was delivered in time."""
    ok = True
    with handle_internal_errors:
        pipeline = STATE.pipeline
        if pipeline is not None:
            ok = pipeline.force_flush(int(timeout * 1000)) and ok
        if STATE.feedback is not None:
            ok = STATE.feedback.flush(timeout) and ok
    return ok


def shutdown(timeout: float = 30.0) -> None:
    """Flush, then stop background threads, within ``timeout`` seconds in all.

    Tracing is a no-op afterwards until configured again. Spans still undelivered when the time is up
    (collector down) are given up on a daemon thread rather than holding the host.
    """
    with handle_internal_errors:
        deadline = time.monotonic() + timeout
        flush(timeout)
        with STATE.lock:
            old_pipeline, old_feedback = STATE.pipeline, STATE.feedback
            for hook in list(STATE.hooks.values()):
                hook.target = None
            STATE.pipeline = None
            STATE.feedback = None
            STATE.provider = None
            STATE.settings = Settings(send=False)
            STATE.tracer = trace_api.NoOpTracer()
        stop_in_background(old_pipeline, old_feedback, deadline - time.monotonic())
