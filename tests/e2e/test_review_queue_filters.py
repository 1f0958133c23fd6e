"""A review queue's filter reads as the trace search reads it, on SQLite and PostgreSQL: for every trace-level
term (text, status, feedback, score range) the queue holds the spans of exactly the traces ``GET /v1/traces``
finds, so the two cannot drift apart."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from tests.e2e.analytics_seed import BASE_NS, Seeder
from tests.e2e.test_review_queue_orders import _order


def _seed(http: httpx.Client) -> dict[str, str]:
    """Eight traces of a root and a child span: varied words, errors and thumbs; span id -> trace id."""
    seeder = Seeder(http)
    spans = {}
    for i in range(8):
        root = seeder.span(
            name="request",
            start_ns=BASE_NS + i * 10**9,
            plaudit__input=f"question about {'rain' if i % 3 == 0 else 'snow'}",
        )
        child = seeder.span(
            name="chat",
            start_ns=BASE_NS + i * 10**9 + 1000,
            error=i % 4 == 1,
            trace_id=root[0],
            parent_span_id=root[1],
            plaudit__span__kind="llm",
            plaudit__output=f"answer {i}",
        )
        spans.update({root[1]: root[0], child[1]: child[0]})
        if i % 2 == 0:
            seeder.rate(child, "thumbs", i % 4 == 0)
    seeder.send()
    return spans


@pytest.mark.parametrize(
    "terms",
    [
        {"q": "rain"},
        {"status": "error"},
        {"status": "ok"},
        {"has_feedback": "thumbs"},
        {"missing_feedback": "thumbs"},
        {"score": "thumbs", "min_score": 0.5},
        {"q": "snow", "has_feedback": "thumbs"},
    ],
)
def test_queue_holds_the_spans_of_the_traces_the_search_finds(http: httpx.Client, terms: dict[str, Any]) -> None:
    spans = _seed(http)
    found = {t["trace_id"] for t in http.get("/v1/traces", params={**terms, "limit": 100}).json()["traces"]}
    assert found, terms
    reply = http.post("/v1/queues", json={"name": "q", "scores": ["thumbs"], "filter": terms})
    assert reply.status_code == 201, reply.text
    queued = _order(http, reply.json())
    assert {spans[s] for s in queued} == found
    assert sorted(queued) == sorted(s for s, t in spans.items() if t in found)  # every span of those traces


def test_span_filters_still_pick_the_spans_within_those_traces(http: httpx.Client) -> None:
    spans = _seed(http)
    terms = {"status": "error", "span_kind": "llm"}
    reply = http.post("/v1/queues", json={"name": "q", "scores": ["thumbs"], "filter": terms})
    assert reply.status_code == 201, reply.text
    queued = _order(http, reply.json())
    found = {t["trace_id"] for t in http.get("/v1/traces", params={**terms, "limit": 100}).json()["traces"]}
    assert len(found) == 2 and len(queued) == 2 and {spans[s] for s in queued} == found  # the chat span of each
