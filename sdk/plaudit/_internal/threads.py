"""Plaudit's own background threads: daemons that run outside any app context, with instrumentation suppressed.

A thread started while a traced request is running would otherwise inherit that request's context (through
``opentelemetry-instrumentation-threading``), so our HTTP calls could show up as children of the app's span.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from opentelemetry import context as context_api

try:  # OpenTelemetry's own processors set this key while exporting; isolated here because it is private
    from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY as SUPPRESS_KEY
except ImportError:  # pragma: no cover - a future OTel without it: HTTP instrumentations may trace exports
    SUPPRESS_KEY = context_api.create_key("suppress_instrumentation")


def start_daemon(target: Callable[[], None], name: str) -> threading.Thread:
    """Start ``target`` on a daemon thread in a fresh context where instrumentation is suppressed."""

    def run() -> None:
        token = context_api.attach(context_api.set_value(SUPPRESS_KEY, True, context_api.Context()))
        try:
            target()
        finally:
            context_api.detach(token)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread
