"""Judges scored through the real openai and anthropic clients against a local fake provider, on a real
collector: each new matching span is rated exactly once, and the calls are traced to the judge project."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from judge_helpers import chat_calls, definition, expected_score, judge_feedback, llm_span

from plaudit_collector.judges import scan
from plaudit_collector.store import judges as judge_store


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_judge_rates_each_new_matching_span_once(
    keyed_collector: Any, fake_judge: Any, post_spans: Any, provider: str
) -> None:
    app, judge_project = keyed_collector.client("app"), keyed_collector.client("app-judges")
    if True:
        post_spans(app, [llm_span("stored before the judge existed")])
        created = app.post("/v1/judges", json={"name": "helpful", **definition(fake_judge, provider)})
        assert created.status_code == 201, created.text
        judge = created.json()
        assert judge["author"] == f"helpful@{judge['hash']}"
        assert judge["api_key_env"] == "JUDGE_TEST_API_KEY" and judge["api_key_set"] is True
        assert "test-key" not in created.text

        answers = ["short", "a longer answer", "yes"]
        spans = post_spans(app, [llm_span(a) for a in answers] + [llm_span("a tool call", kind="tool")])
        ran = app.post("/v1/judges/helpful/run", json={}).json()
        assert ran["scored"] == 3 and ran["dead"] == 0, ran
        for span, answer in zip(spans, answers, strict=False):
            (rating,) = judge_feedback(app, span)
            assert rating["value"] == expected_score(answer)
            assert rating["author"] == judge["author"]
            assert rating["comment"] == f"the answer has {len(answer)} characters"
            assert rating["metadata"]["judge"] == "helpful"
        assert judge_feedback(app, spans[3]) == []  # not an llm span

        # Again: nothing new, nothing called, nothing rated twice.
        calls = len(chat_calls(fake_judge))
        assert app.post("/v1/judges/helpful/run", json={}).json()["scored"] == 0
        assert len(chat_calls(fake_judge)) == calls == 3
        for span in spans[:3]:
            assert len(judge_feedback(app, span)) == 1

        # The calls are traced to the judge project, with their tokens; the app's project holds none.
        board = judge_project.get("/v1/analytics/leaderboard", params={"score": "x", "group_by": "variant"})
        assert board.status_code == 200
        traces = judge_project.get("/v1/traces", params={"limit": 10}).json()["traces"]
        assert len(traces) == 3
        trace = judge_project.get(f"/v1/traces/{traces[0]['trace_id']}").json()
        (call,) = trace["spans"]
        assert call["name"] == "judge helpful" and call["input_tokens"] == 12 and call["output_tokens"] == 7
        assert call["variant"] == judge["author"]
        assert len(app.get("/v1/traces", params={"limit": 50}).json()["traces"]) == 5

        headers = {k.lower(): v for k, v in fake_judge.requests[0]["headers"].items()}
        assert headers.get("authorization", headers.get("x-api-key", "")).endswith("test-key")


def test_without_keys_a_judge_defined_for_a_named_project_rates_and_traces_there(
    collector: Any, fake_judge: Any, post_spans: Any
) -> None:
    """``plaudit.Client(project="shop")`` sends the project header: the judge is shop's, rates shop's spans
    and is traced to ``shop-judges``; the default project sees none of it."""
    import plaudit

    with (
        plaudit.Client(collector.url, project="shop") as client,
        httpx.Client(base_url=collector.url, timeout=30, headers={"X-Plaudit-Project": "shop"}) as shop,
        httpx.Client(base_url=collector.url, timeout=30, headers={"X-Plaudit-Project": "shop-judges"}) as calls,
        httpx.Client(base_url=collector.url, timeout=30) as default,
    ):
        judge = client.add_judge("helpful", **definition(fake_judge))
        (span,) = post_spans(shop, [llm_span("for the shop")])
        assert client.run_judge("helpful")["scored"] == 1
        (rating,) = judge_feedback(shop, span)
        assert rating["author"] == judge["author"] and rating["value"] == expected_score("for the shop")
        (call,) = calls.get("/v1/traces", params={"limit": 10}).json()["traces"]
        assert call["name"] == "judge helpful"
        assert default.get("/v1/judges").json()["data"] == []
        assert default.get("/v1/traces", params={"limit": 10}).json()["traces"] == []


def test_the_background_worker_scores_new_spans_once_across_a_restart(
    db_url: str, fake_judge: Any, post_spans: Any
) -> None:
    from plaudit_collector.server import BackgroundServer
    from plaudit_collector.settings import CollectorSettings

    settings = CollectorSettings(db_url=db_url, judges=True, judge_poll_seconds=0.05)
    answers = [f"answer number {i}" + "!" * i for i in range(6)]
    spans: list[dict[str, Any]] = []
    for batch in (answers[:3], answers[3:]):
        server = BackgroundServer(settings).start()
        try:
            with httpx.Client(base_url=server.url, timeout=30) as client:
                if not spans:
                    assert (
                        client.post("/v1/judges", json={"name": "helpful", **definition(fake_judge)}).status_code == 201
                    )
                spans += post_spans(client, [llm_span(a) for a in batch])
                _wait_for(lambda: all(judge_feedback(client, s) for s in spans))  # noqa: B023
        finally:
            server.stop()
            server.app.state.db.dispose()
    server = BackgroundServer(CollectorSettings(db_url=db_url)).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            for span, answer in zip(spans, answers, strict=True):
                (rating,) = judge_feedback(client, span)
                assert rating["value"] == expected_score(answer)
            assert client.get("/v1/judges/helpful").json()["runs"] == {"pending": 0, "running": 0, "done": 6, "dead": 0}
    finally:
        server.stop()
        server.app.state.db.dispose()
    assert len(chat_calls(fake_judge)) == 6


def test_a_run_whose_worker_died_is_taken_over_without_a_second_rating(
    collector: Any, fake_judge: Any, post_spans: Any
) -> None:
    """A worker that stored the rating but died before closing its run, and one that died mid-call: after
    their leases, another worker finishes both, and each span has one rating."""
    from plaudit_collector.judges.worker import JudgeWorker
    from plaudit_collector.store import judge_runs

    db = collector.app.state.db
    with httpx.Client(base_url=collector.url, timeout=30) as client:
        client.post("/v1/judges", json={"name": "helpful", **definition(fake_judge)})
        spans = post_spans(client, [llm_span("first"), llm_span("second")])
        row = judge_store.get_row(db, "default", "helpful")
        assert scan.discover(db, row) == 2
        now = time.time()
        dead_worker = judge_runs.claim(db, "dead-worker", 10, now, lease=0.5)
        assert len(dead_worker) == 2
        # It stored the first span's rating (same idempotency key a retry uses) and then died.
        first = next(c for c in dead_worker if c.span_id == spans[0]["spanId"])
        client.post(
            "/v1/feedback",
            json={
                "trace_id": first.trace_id,
                "span_id": first.span_id,
                "name": "helpfulness",
                "value": 2,
                "source": "llm_judge",
                "author": f"helpful@{row.hash}",
                "idempotency_key": judge_runs.idempotency_key("helpful", row.hash, first.trace_id, first.span_id),
            },
        ).raise_for_status()
        # Within the lease nobody else may take them.
        assert judge_runs.claim(db, "other", 10, now + 0.1, lease=60.0) == []
        time.sleep(0.6)
        worker = JudgeWorker(db, project="default")
        try:
            stats = worker.run_once()
        finally:
            worker.stop()
        assert stats.scored == 2
        assert [len(judge_feedback(client, s)) for s in spans] == [1, 1]
        assert judge_feedback(client, spans[0])[0]["value"] == 2  # the first write stands


def _wait_for(check: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for the judge worker")
