"""Collector outage: the app keeps producing spans and ratings while the collector is down; nothing is lost.

One scenario (about 70 s, marked slow) shared by the assertions below: a collector subprocess over a
SQLite file is stopped for ``PLAUDIT_TEST_OUTAGE_SECONDS`` (60 by default) while the app produces
20,000 spans and 2,000 feedback items, then restarted on the same port and database.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from rel_helpers import CollectorProcess, sqlite_count, wait_until

import plaudit
from plaudit._internal.exporters.durable import span_export_stats

OUTAGE_SECONDS = float(os.environ.get("PLAUDIT_TEST_OUTAGE_SECONDS", "60"))
SPANS = 20_000
FEEDBACK = 2_000
ROUNDS = 20

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def outage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("outage")
    db_url = f"sqlite:///{tmp / 'plaudit.db'}"
    collector = CollectorProcess(db_url, tmp).start()
    stats_before = span_export_stats()
    plaudit.configure(endpoint=collector.url, service_name="outage-app")
    durations: list[float] = []
    # The test process has run a thousand tests before this one; a full collection of that heap would pause
    # any call for seconds. An app's heap is its own: freeze ours so the timings measure Plaudit, not pytest.
    gc.collect()
    gc.freeze()
    try:
        collector.stop()  # the outage begins
        outage_started = time.monotonic()
        for round_ in range(ROUNDS):
            for index in range(SPANS // ROUNDS):
                started = time.perf_counter()
                with plaudit.span(f"call-{round_}-{index}", kind="llm"):
                    if index % (SPANS // FEEDBACK) == 0:
                        plaudit.feedback(plaudit.current_ref(), "thumbs", index % 3 != 0)
                durations.append(time.perf_counter() - started)
            # Spread the work over the outage, as a live app would.
            time.sleep(max(0.0, outage_started + OUTAGE_SECONDS * (round_ + 1) / ROUNDS - time.monotonic()))
        collector.start()  # the collector is back, same port, same database
        plaudit.flush(30)

        def spans_stored() -> int:
            return sqlite_count(db_url, "SELECT COUNT(*) FROM spans")

        def feedback_stored() -> int:
            return sqlite_count(db_url, "SELECT COUNT(*) FROM feedback")

        wait_until(lambda: spans_stored() >= SPANS, 60, 0.5)
        wait_until(lambda: feedback_stored() >= FEEDBACK, 30, 0.5)
        yield {
            "db_url": db_url,
            "spans": spans_stored(),
            "distinct_spans": sqlite_count(db_url, "SELECT COUNT(DISTINCT span_id) FROM spans"),
            "feedback": feedback_stored(),
            "distinct_feedback": sqlite_count(db_url, "SELECT COUNT(DISTINCT idempotency_key) FROM feedback"),
            "durations": sorted(durations),
            "stats": {k: v - stats_before[k] for k, v in span_export_stats().items()},
            "logs": collector.logs(),
        }
    finally:
        gc.unfreeze()
        plaudit.shutdown(10)
        collector.stop()


def test_outage_loses_no_span(outage: dict[str, Any]) -> None:
    assert outage["spans"] == SPANS, outage["stats"]
    assert outage["distinct_spans"] == SPANS
    assert outage["stats"]["dropped"] == 0


def test_outage_never_blocks_the_app(outage: dict[str, Any]) -> None:
    # A call that waited for an export attempt would take as long as the attempt, and every call made while
    # exports fail would: the 99.9th percentile catches that. The bound on the slowest single call leaves room
    # for the scheduler of a busy machine, which can pause any thread for a moment.
    durations = outage["durations"]
    assert durations[int(len(durations) * 0.999)] < 0.25
    assert durations[-1] < 2.0


def test_outage_loses_no_feedback(outage: dict[str, Any]) -> None:
    assert outage["feedback"] == FEEDBACK
    assert outage["distinct_feedback"] == FEEDBACK
