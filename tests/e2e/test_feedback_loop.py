"""The whole loop over real HTTP: SDK spans + feedback → collector → leaderboard."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

import plaudit

PROMPT_A = plaudit.Prompt("answer", "v1", "Answer: {q}")
PROMPT_B = plaudit.Prompt("answer", "v2", "Answer kindly: {q}")


def _answer(prompt: plaudit.Prompt, model: str, question: str) -> plaudit.SpanRef:
    with plaudit.span("chat", kind="llm", prompt=prompt, model=model, variant=f"{prompt.version}/{model}") as span:
        span.set_output(prompt.format(q=question))
        ref = span.ref
    assert ref is not None
    return ref


def test_leaderboard_counts_means_and_order_are_exact(sdk: Any, http: httpx.Client) -> None:
    # variant -> thumbs given, chosen so the means are exact fractions
    plan = {
        ("v2", "m-large"): [True] * 9 + [False],
        ("v1", "m-large"): [True] * 6 + [False] * 4,
        ("v1", "m-small"): [True] * 2 + [False] * 6,
    }
    prompts = {"v1": PROMPT_A, "v2": PROMPT_B}
    for (version, model), votes in plan.items():
        for i, vote in enumerate(votes):
            with plaudit.context(user_id=f"u{i}", session_id="s1"):
                ref = _answer(prompts[version], model, f"question {i}")
            plaudit.feedback(ref, "thumbs", vote, author=f"u{i}")
    # one unrated span for v1/m-small: spans > count there
    _answer(PROMPT_A, "m-small", "unrated")
    assert plaudit.flush()

    board = http.get("/v1/analytics/leaderboard", params={"score": "thumbs", "group_by": "variant"}).json()
    rows = [(r["group"]["variant"], r["count"], r["mean"], r["spans"]) for r in board["rows"]]
    assert rows == [("v2/m-large", 10, 0.9, 10), ("v1/m-large", 10, 0.6, 10), ("v1/m-small", 8, 0.25, 9)]
    for row in board["rows"]:
        assert row["method"] == "wilson"
        assert 0 <= row["ci_low"] <= row["mean"] <= row["ci_high"] <= 1

    by_two = http.get(
        "/v1/analytics/leaderboard", params=[("score", "thumbs"), ("group_by", "model"), ("group_by", "prompt.version")]
    ).json()
    assert by_two["group_by"] == ["model", "prompt.version"]
    assert by_two["rows"][0]["group"] == {"model": "m-large", "prompt.version": "v2"}

    # the SDK's query client reads the same answer
    with plaudit.Client(sdk.url) as client:
        typed = client.leaderboard("thumbs", group_by="model")
    assert [(r.group["model"], r.count) for r in typed.rows] == [("m-large", 20), ("m-small", 8)]
    assert typed.rows[0].mean == pytest.approx(0.75)


def test_numeric_scores_use_t_interval_and_trace_level_feedback_joins_root(sdk: Any, http: httpx.Client) -> None:
    @plaudit.trace(variant="short")
    def short(q: str) -> str:
        return q[:3]

    @plaudit.trace(variant="long")
    def long(q: str) -> str:
        global _ref
        _ref = plaudit.current_ref()
        return q * 2

    scores = {"short": [1, 2, 3], "long": [4, 5, 5, 4]}
    for variant, values in scores.items():
        for value in values:
            fn = short if variant == "short" else long
            with plaudit.span("request"):
                fn("hello")
                trace_ref = plaudit.current_ref()
            assert trace_ref is not None
            # trace-level feedback (no span id) is credited to the trace's root span
            plaudit.feedback(plaudit.SpanRef(trace_ref.trace_id), "stars", value)
    assert plaudit.flush()
    board = http.get("/v1/analytics/leaderboard", params={"score": "stars", "group_by": "span.name"}).json()
    assert [(r["group"]["span.name"], r["count"], r["mean"]) for r in board["rows"]] == [("request", 7, 24 / 7)]
    assert board["rows"][0]["method"] == "t"


def test_a_changed_vote_replaces_the_earlier_one(sdk: Any, http: httpx.Client) -> None:
    ref = _answer(PROMPT_A, "m", "q")
    plaudit.flush()
    first = plaudit.feedback(ref, "thumbs", True, author="alice", wait=True)
    second = plaudit.feedback(ref, "thumbs", False, author="alice", wait=True)
    assert first and second and first["ids"] != second["ids"]
    board = http.get("/v1/analytics/leaderboard", params={"score": "thumbs", "group_by": "model"}).json()
    assert [(r["count"], r["mean"]) for r in board["rows"]] == [(1, 0.0)]
    trace = http.get(f"/v1/traces/{ref.trace_id}").json()
    assert [(f["author"], f["value"]) for f in trace["spans"][0]["feedback"]] == [("alice", False)]


def test_leader_is_marked_only_when_separated(sdk: Any, http: httpx.Client) -> None:
    for variant, ups in (("a", 6), ("b", 5)):
        for i in range(10):
            ref = _answer(PROMPT_A, variant, str(i))
            plaudit.feedback(ref, "close", i < ups)
    assert plaudit.flush()
    board = http.get("/v1/analytics/leaderboard", params={"score": "close", "group_by": "model"}).json()
    assert board["rows"][0]["group"] == {"model": "a"}
    assert board["leader"] is None
    assert board["verdict"].startswith("no clear leader")
    assert board["needed_per_group"] > 10
