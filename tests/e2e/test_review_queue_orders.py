"""Review queues ordered by what a human rating would tell, over REST on SQLite and PostgreSQL: ``disagreement``
puts the spans where judge and humans differ most on the queue's first score first, ``informative`` the spans
``GET /v1/analytics/informative`` ranks first; the other matching spans follow, newest first."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from tests.e2e.test_review_queues import _create, _seed
from tests.e2e.test_review_queues_client import _cli

import plaudit

JUDGE = "grader@0a1b2c3d4e5f"


def _rate(http: httpx.Client, ref: tuple[str, str], value: float, source: str, author: str) -> None:
    item = {"trace_id": ref[0], "span_id": ref[1], "name": "stars", "value": value, "source": source}
    reply = http.post("/v1/feedback", json={**item, "author": author})
    assert reply.status_code == 201, reply.text


def _order(http: httpx.Client, queue: dict[str, Any]) -> list[str]:
    """The span ids in the order reviewers get them (each skipped to reach the next)."""
    seen = []
    while (reply := http.get(f"/v1/queues/{queue['id']}/next", params={"reviewer": "ann"})).status_code == 200:
        item = reply.json()
        seen.append(item["span"]["span_id"])
        http.post(f"/v1/queues/{queue['id']}/items/{item['id']}", json={"reviewer": "ann", "skip": True})
    return seen


def test_disagreement_order_puts_the_largest_gap_first(http: httpx.Client) -> None:
    refs = _seed(http, n=6)
    http.put("/v1/score-configs/stars", json={"type": "numeric", "min": 1, "max": 5})
    for ref, human, judge in zip(refs, [4, 2, 5, 1, 3, 3], [4, 3, 5, 4, 3, 5], strict=True):
        _rate(http, ref, human, "human", "ann")
        _rate(http, ref, judge, "llm_judge", JUDGE)
    queue = _create(http, scores=["stars"], order="disagreement")
    assert queue["order"] == "disagreement" and queue["items"] == 6
    order = _order(http, queue)
    newest_first = [span for _, span in reversed(refs)]
    assert order[:3] == [refs[3][1], refs[5][1], refs[1][1]]  # gaps 3, 2, 1
    assert order[3:] == [s for s in newest_first if s not in order[:3]]  # no gap: newest first

    only_v1 = _create(http, scores=["stars"], order="disagreement", filter={"where": "variant=v1"}, sample=2)
    assert _order(http, only_v1) == [refs[4][1], refs[2][1]]  # v1 spans only: no gap among them, newest first


def test_equal_gaps_rank_by_target_whatever_order_the_ratings_were_summed_in(http: httpx.Client) -> None:
    """Judges 0.3, 0.2, 0.1 and 0.1, 0.2, 0.3 summed in their order give means a few bits apart; the means are
    exact, so the two gaps tie and the spans come in the order stored on both databases, after the larger gap."""
    refs = _seed(http, n=3)
    http.put("/v1/score-configs/stars", json={"type": "numeric", "min": 0, "max": 5})
    for ref, judges in zip(refs, [[0.3, 0.2, 0.1], [0.1, 0.2, 0.3], [3.0, 3.0, 3.0]], strict=True):
        _rate(http, ref, 0.0, "human", "ann")
        for i, value in enumerate(judges):
            _rate(http, ref, value, "llm_judge", f"grader-{i}@0a1b2c3d4e5f")
    items = http.get("/v1/analytics/disagreements", params={"score": "stars"}).json()["items"]
    assert [item["span_id"] for item in items] == [refs[2][1], refs[0][1], refs[1][1]]  # ties: as stored
    assert items[1]["disagreement"] == items[2]["disagreement"] == items[2]["judge_mean"] == pytest.approx(0.2)


def test_informative_order_follows_the_informative_ranking(http: httpx.Client) -> None:
    refs = _seed(http, n=6)
    http.put("/v1/score-configs/stars", json={"type": "numeric", "min": 1, "max": 5})
    for i, ref in enumerate(refs):
        _rate(http, ref, [4, 2, 5, 1, 3, 3][i], "llm_judge", JUDGE)
        if i < 2:
            _rate(http, ref, [4, 3][i], "human", "ann")
    ranked = http.get("/v1/analytics/informative", params={"score": "stars"}).json()["items"]
    assert ranked, "the judge-only spans of groups in contention are informative"
    queue = _create(http, scores=["stars"], order="informative")
    order = _order(http, queue)
    assert order[: len(ranked)] == [item["span_id"] for item in ranked]
    assert sorted(order) == sorted(span for _, span in refs)


@pytest.mark.parametrize("order", ["disagreement", "informative"])
def test_ranked_orders_are_for_single_spans(http: httpx.Client, order: str) -> None:
    _seed(http, n=4)
    reply = http.post("/v1/queues", json={"name": "q", "kind": "pairwise", "order": order})
    assert reply.status_code == 422 and reply.json()["error"]["field"] == "order"
    assert http.get("/v1/queues").json()["queues"] == []


def test_client_and_cli_create_a_disagreement_queue(http: httpx.Client, collector: Any) -> None:
    refs = _seed(http, n=4)
    for ref, human, judge in zip(refs, [1, 5, 3, 3], [1, 1, 4, 3], strict=True):
        _rate(http, ref, human, "human", "ann")
        _rate(http, ref, judge, "llm_judge", JUDGE)
    with plaudit.Client(collector.url) as client:
        queue = client.create_queue("disputed", ["stars"], order="disagreement", sample=2)
        assert queue.order == "disagreement"  # type: ignore[attr-defined]
    assert _order(http, http.get(f"/v1/queues/{queue.id}").json()) == [refs[1][1], refs[2][1]]
    made = _cli(collector, "create", "informative", "--score", "stars", "--order", "informative")
    assert made.returncode == 0, made.stderr
    assert {q["order"] for q in http.get("/v1/queues").json()["queues"]} == {"disagreement", "informative"}
    bad = _cli(collector, "create", "pairs", "--pairwise", "--order", "disagreement")
    assert bad.returncode != 0 and "order" in bad.stdout + bad.stderr
