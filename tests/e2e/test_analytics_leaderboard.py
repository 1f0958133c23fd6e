"""Leaderboard on seeded data with known truth, over real HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

import random

import httpx
import pytest
from analytics_seed import BASE_NS, DAY_NS, Seeder

LB = "/v1/analytics/leaderboard"


def _thumbs(seed: Seeder, variant: str, ups: int, downs: int, **attrs: object) -> None:
    for value in [True] * ups + [False] * downs:
        ref = seed.span(plaudit__variant=variant, **attrs)
        seed.rate(ref, "thumbs", value)


def _row(board: dict, **group: object) -> dict:
    return next(r for r in board["rows"] if r["group"] == group)


def test_intervals_contain_the_true_rates_and_the_right_group_leads(http: httpx.Client) -> None:
    rng = random.Random(20260101)
    truth = {"a": 0.8, "b": 0.5, "c": 0.3}
    seed = Seeder(http)
    for variant, rate in truth.items():
        for i in range(150):
            ref = seed.span(
                plaudit__variant=variant,
                duration_ms=float(10 * (i + 1)),  # 10, 20, ..., 1500 ms: p50 ≈ 750, p95 ≈ 1425
                error=variant == "a" and i % 10 == 0,
                gen_ai__usage__input_tokens=100 + (i % 2) * 50,
                gen_ai__usage__output_tokens=20,
                gen_ai__usage__cost=0.002,
            )
            seed.rate(ref, "thumbs", rng.random() < rate)
        for _ in range(50):  # unrated spans lower the coverage
            seed.span(
                plaudit__variant=variant,
                duration_ms=750.0,
                gen_ai__usage__input_tokens=125,
                gen_ai__usage__output_tokens=20,
                gen_ai__usage__cost=0.002,
            )
    seed.send()

    board = http.get(LB, params={"score": "thumbs", "group_by": "variant"}).json()
    assert [r["group"]["variant"] for r in board["rows"]] == ["a", "b", "c"]
    for row in board["rows"]:
        true_rate = truth[row["group"]["variant"]]
        assert row["method"] == "wilson"
        assert row["ci_low"] <= true_rate <= row["ci_high"]
        assert (row["count"], row["rated"], row["spans"]) == (150, 150, 200)
        assert row["coverage"] == pytest.approx(0.75)
        assert row["input_tokens_mean"] == pytest.approx(125.0)
        assert row["output_tokens_mean"] == pytest.approx(20.0)
        assert row["cost_mean"] == pytest.approx(0.002)
    a = _row(board, variant="a")
    assert a["error_rate"] == pytest.approx(15 / 200)
    assert _row(board, variant="b")["error_rate"] == 0
    # 150 spans at 10..1500 ms plus 50 at 750 ms: the median is 750 ms, p95 is about 1400 ms
    assert a["latency_p50_ms"] == pytest.approx(750, rel=0.03)
    assert a["latency_p95_ms"] == pytest.approx(1400, rel=0.04)
    assert board["leader"] == {"variant": "a"}
    assert board["verdict"].startswith("variant=a leads")
    assert all(r["p_vs_leader"] < 0.05 for r in board["rows"][1:])


def test_equal_true_rates_give_no_clear_leader_and_a_power_estimate(http: httpx.Client) -> None:
    seed = Seeder(http)
    _thumbs(seed, "v3/fake-large", 36, 24)
    _thumbs(seed, "v2/fake-small", 35, 25)
    seed.send()
    board = http.get(LB, params={"score": "thumbs", "group_by": "variant"}).json()
    assert board["leader"] is None
    assert board["verdict"].startswith(
        "no clear leader: variant=v3/fake-large is not separated from variant=v2/fake-small"
    )
    assert "{" not in board["verdict"]
    assert board["needed_per_group"] > 1000


def test_a_group_rated_once_neither_tops_the_board_nor_hides_a_clear_leader(http: httpx.Client) -> None:
    seed = Seeder(http)
    _thumbs(seed, "good", 45, 5)
    _thumbs(seed, "poor", 20, 30)
    _thumbs(seed, "lucky", 1, 0)
    seed.send()
    board = http.get(LB, params={"score": "thumbs", "group_by": "variant"}).json()
    assert board["rows"][0]["group"] == {"variant": "good"}
    assert board["leader"] == {"variant": "good"}
    lucky = _row(board, variant="lucky")
    assert lucky["mean"] == 1.0 and lucky["eligible"] is False and lucky["p_vs_leader"] is None
    assert "1 group(s) with fewer than 5 rated items not ranked" in board["verdict"]
    # ranked by the raw mean, the lucky group comes first, but the leader is still the same
    by_mean = http.get(LB, params={"score": "thumbs", "group_by": "variant", "sort": "mean"}).json()
    assert by_mean["rows"][0]["group"] == {"variant": "lucky"}
    assert by_mean["leader"] == {"variant": "good"}


def test_source_filter_that_removes_everything_says_so(http: httpx.Client) -> None:
    seed = Seeder(http)
    _thumbs(seed, "a", 3, 1)
    seed.send()
    board = http.get(LB, params={"score": "thumbs", "source": "llm_judge"}).json()
    assert board["rows"] == []
    assert (
        board["verdict"]
        == "no feedback for this score matches the filters (source=llm_judge); 4 rating(s) exist without them"
    )
    assert http.get(LB, params={"score": "nothing"}).json()["verdict"] == "no feedback yet for this score"


def test_sources_are_kept_apart(http: httpx.Client) -> None:
    seed = Seeder(http)
    for i in range(10):
        ref = seed.span(plaudit__variant="a")
        seed.rate(ref, "helpful", 1.0, source="human", author=f"h{i}")
        seed.rate(ref, "helpful", 0.0 if i < 8 else 1.0, source="llm_judge", author="judge")
    seed.send()
    human = http.get(LB, params={"score": "helpful", "source": "human"}).json()["rows"][0]
    judge = http.get(LB, params={"score": "helpful", "source": "llm_judge"}).json()["rows"][0]
    both = http.get(LB, params=[("score", "helpful"), ("source", "human"), ("source", "llm_judge")]).json()["rows"][0]
    assert (human["mean"], judge["mean"]) == (1.0, 0.2)
    assert (both["count"], both["rated"], both["max_raters"], both["mean"]) == (20, 10, 2, pytest.approx(0.6))


def test_several_raters_are_averaged_per_span_before_the_group(http: httpx.Client) -> None:
    seed = Seeder(http)
    first = seed.span(plaudit__variant="x")
    for author, stars in (("ann", 5), ("bob", 4), ("cy", 3)):
        seed.rate(first, "stars", stars, author=author)
    second = seed.span(plaudit__variant="x")
    seed.rate(second, "stars", 2, author="ann")
    seed.send()
    row = http.get(LB, params={"score": "stars"}).json()["rows"][0]
    assert (row["count"], row["rated"], row["max_raters"], row["method"]) == (4, 2, 3, "t")
    assert row["mean"] == pytest.approx(3.0)  # (mean(5, 4, 3) + 2) / 2, not 14 / 4


def test_session_feedback_counts_once_per_session(http: httpx.Client) -> None:
    seed = Seeder(http)
    for session, outcome in (("s1", 1.0), ("s2", 0.0), ("s3", 1.0)):
        for _ in range(3):  # three turns (root spans) per session
            seed.span(plaudit__variant="a", session__id=session)
        seed.rate_session(session, "resolved", outcome)
    seed.rate_session("s3", "resolved_later", "ongoing")
    seed.send()
    row = http.get(LB, params={"score": "resolved", "group_by": "variant"}).json()["rows"][0]
    assert (row["count"], row["rated"], row["spans"]) == (3, 3, 9)
    assert row["mean"] == pytest.approx(2 / 3)


def test_filters_by_time_tag_metadata_span_and_dimension(http: httpx.Client) -> None:
    seed = Seeder(http)
    for day in range(4):
        for i in range(5):
            ref = seed.span(
                name="chat" if i < 4 else "summarise",
                start_ns=BASE_NS + day * DAY_NS + i,
                plaudit__variant="a" if day % 2 else "b",
                plaudit__span__kind="llm",
                plaudit__tags=["beta", f"day{day}"] if day < 2 else ["ga"],
                plaudit__metadata__plan="pro" if i % 2 else "free",
                plaudit__prompt__version=f"v{day}",
                gen_ai__request__model="m1",
                tier=i % 2,
            )
            seed.rate(ref, "stars", day + 1)
    seed.send()

    def count(**params: object) -> int:
        rows = http.get(LB, params={"score": "stars", "group_by": "model", **params}).json()["rows"]
        return sum(r["count"] for r in rows)

    assert count() == 20
    assert count(**{"from": "2026-01-02T00:00:00Z"}) == 15
    assert count(**{"from": "2026-01-02", "to": str((BASE_NS + 3 * DAY_NS) // 10**9)}) == 10
    assert count(tag="beta") == 10
    assert count(tag="day1") == 5
    assert count(metadata="plan=pro") == 8
    assert count(span_name="summarise") == 4
    assert count(span_kind="llm") == 20
    assert count(span_kind="tool") == 0
    assert count(where="variant=a") == 10
    assert count(where="attr.tier=1") == 8
    two = http.get(LB, params=[("score", "stars"), ("group_by", "variant"), ("group_by", "prompt.version")]).json()
    assert two["group_by"] == ["variant", "prompt.version"]
    assert two["rows"][0]["group"] == {"variant": "a", "prompt.version": "v3"}
    by_attr = http.get(LB, params={"score": "stars", "group_by": "attr.plaudit.metadata.plan"}).json()
    assert sorted(r["group"]["attr.plaudit.metadata.plan"] for r in by_attr["rows"]) == ["free", "pro"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"score": "thumbs", "group_by": "nope"}, "group_by"),
        ({"score": "thumbs", "from": "yesterday"}, "from"),
        ({"score": "thumbs", "metadata": "novalue"}, "metadata"),
        ({"score": "thumbs", "where": "colour=red"}, "where"),
        ({"score": "thumbs", "source": "robot"}, "source"),
        ({"score": "thumbs", "sort": "random"}, "sort"),
        ({"score": ""}, "score"),
    ],
)
def test_bad_parameters_get_a_422_naming_the_field(http: httpx.Client, params: dict, field: str) -> None:
    response = http.get(LB, params=params)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"].startswith(field)
