"""Retention deletes old spans and the feedback they leave behind, in bounded batches, and nothing newer."""

from __future__ import annotations

import time
from typing import Any

import httpx

DAY_NS = 86_400 * 10**9


def test_sweep_deletes_old_spans_and_their_orphaned_feedback(collector: Any, http: httpx.Client, otlp: Any) -> None:
    from plaudit_collector.store.retention import sweep

    now = time.time_ns()
    old_trace, new_trace, pending_trace = otlp.trace_id(), otlp.trace_id(), otlp.trace_id()
    old_spans = [otlp.span(f"old{i}", trace_id=old_trace, start_ns=now - 40 * DAY_NS) for i in range(7)]
    new_spans = [otlp.span("new", trace_id=new_trace, start_ns=now - DAY_NS)]
    assert http.post("/v1/traces", json=otlp.request(old_spans + new_spans)).status_code == 200
    for trace_id in (old_trace, new_trace, pending_trace):  # pending: its spans have not arrived yet
        assert (
            http.post("/v1/feedback", json={"trace_id": trace_id, "name": "thumbs", "value": True}).status_code == 201
        )

    result = sweep(collector.app.state.db, 30, batch_size=3)  # 7 old spans: three batches

    assert (result.spans, result.feedback) == (7, 1)
    assert http.get(f"/v1/traces/{old_trace}").status_code == 404
    assert len(http.get(f"/v1/traces/{new_trace}").json()["spans"]) == 1
    assert http.get(f"/v1/traces/{pending_trace}").json()["feedback"][0]["name"] == "thumbs"
    assert sweep(collector.app.state.db, 30).spans == 0
