"""Delivery counters for spans and feedback, and :func:`plaudit.stats` that reads them.

Counters are process-wide and only grow, so a reading taken before and after a block says what that
block cost; ``queued`` is read at call time from the current setup.
"""

from __future__ import annotations

import threading

from plaudit._internal.state import STATE

FIELDS = ("sent", "spooled", "dropped", "rejected")


class Counters:
    """Thread-safe running totals for one kind of item."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values = dict.fromkeys(FIELDS, 0)

    def add(self, name: str, amount: int = 1) -> None:
        if amount:
            with self._lock:
                self._values[name] += amount

    def get(self, name: str) -> int:
        with self._lock:
            return self._values[name]

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._values)


SPANS = Counters()
FEEDBACK = Counters()


def stats() -> dict[str, dict[str, int]]:
    """What Plaudit delivered and lost since the process started, for spans and for feedback.

    Each kind has ``queued`` (waiting now: in memory, in flight or in the spool directory), ``sent``
    (acknowledged by the collector), ``spooled`` (written to the spool directory, to be sent later or by
    the next process), ``dropped`` (given up on: past the memory or disk bound, unsent at exit without a
    spool, or an unreadable spool file) and ``rejected`` (refused by the collector as invalid; retrying
    cannot help). Losses are also reported on stderr or the ``plaudit`` logger, one rate-limited line each.

    Returns:
        ``{"spans": {...}, "feedback": {...}}`` with the five counts each.

    Example:
        >>> plaudit.stats()["spans"]["dropped"]  # doctest: +SKIP
        0
    """
    spans = {"queued": 0, **SPANS.snapshot()}
    feedback = {"queued": 0, **FEEDBACK.snapshot()}
    pipeline = STATE.pipeline
    exporter = getattr(pipeline, "exporter", None)
    pending = getattr(exporter, "pending_spans", None)
    if callable(pending):
        try:
            spans["queued"] = int(pending())
        except Exception:  # noqa: BLE001 - a reading must never raise into the app
            spans["queued"] = 0
    client = STATE.feedback
    if client is not None:
        try:
            feedback["queued"] = int(client.pending())
        except Exception:  # noqa: BLE001 - a reading must never raise into the app
            feedback["queued"] = 0
    return {"spans": spans, "feedback": feedback}
