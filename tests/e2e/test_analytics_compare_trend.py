"""compare, trend, agreement, segments and preferences on constructed data, through REST, Client and CLI."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from typing import Any

import httpx
import pytest
from analytics_seed import BASE_NS, DAY_NS, Seeder

import plaudit


def _cli(url: str, *args: str) -> str:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "plaudit_collector.cli", *args, "--endpoint", url],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


def _votes(seed: Seeder, name: str, values: list[Any], **attrs: Any) -> None:
    for value in values:
        seed.rate(seed.span(**attrs), name, value)


def test_compare_picks_the_test_and_agrees_across_doors(collector: Any, http: httpx.Client) -> None:
    seed = Seeder(http)
    _votes(seed, "thumbs", [True] * 80 + [False] * 20, plaudit__variant="a")
    _votes(seed, "thumbs", [True] * 50 + [False] * 50, plaudit__variant="b")
    _votes(seed, "stars", [5] * 30 + [4] * 20 + [3] * 10, plaudit__variant="a")
    _votes(seed, "stars", [4] * 20 + [3] * 20 + [2] * 20, plaudit__variant="b")
    _votes(seed, "quality", [0.71 + i / 1000 for i in range(40)], plaudit__variant="a")
    _votes(seed, "quality", [0.70 + i / 1000 for i in range(40)], plaudit__variant="b")
    seed.send()

    rest = http.get("/v1/analytics/compare", params={"score": "thumbs", "a": "variant=a", "b": "variant=b"}).json()
    assert (rest["kind"], rest["test"]) == ("boolean", "two-proportion")
    assert rest["difference"] == pytest.approx(0.3)
    assert rest["diff_ci_low"] < 0.3 < rest["diff_ci_high"] and rest["diff_ci_low"] > 0.15
    assert rest["p_value"] < 1e-4
    assert rest["prob_a_better"] > 0.999
    assert rest["verdict"].startswith("variant=a beats variant=b by 0.3")

    stars = http.get("/v1/analytics/compare", params={"score": "stars", "a": "variant=a", "b": "variant=b"}).json()
    assert stars["test"] == "mann-whitney" and stars["p_value"] < 1e-6 and stars["effect"] > 0.75
    close = http.get("/v1/analytics/compare", params={"score": "quality", "a": "variant=a", "b": "variant=b"}).json()
    assert close["test"] == "welch"
    assert close["difference"] == pytest.approx(0.01)
    assert close["diff_ci_low"] < 0.01 < close["diff_ci_high"]
    assert 0.5 < close["prob_a_better"] < 1

    with plaudit.Client(collector.url) as client:
        typed = client.compare("thumbs", {"variant": "a"}, {"variant": "b"})
    assert typed.p_value == pytest.approx(rest["p_value"])
    assert typed.difference == pytest.approx(0.3)
    out = _cli(collector.url, "compare", "--score", "thumbs", "--a", "variant=a", "--b", "variant=b")
    assert "variant=a beats variant=b by 0.3" in out
    assert "two-proportion" in out


def test_compare_with_equal_truth_is_not_significant(http: httpx.Client) -> None:
    seed = Seeder(http)
    _votes(seed, "thumbs", [True, False] * 30, plaudit__variant="a")
    _votes(seed, "thumbs", [True, False] * 30, plaudit__variant="b")
    seed.send()
    result = http.get("/v1/analytics/compare", params={"score": "thumbs", "a": "variant=a", "b": "variant=b"}).json()
    assert result["p_value"] == pytest.approx(1.0)
    assert result["prob_a_better"] == pytest.approx(0.5, abs=1e-6)
    assert result["verdict"].startswith("no significant difference between variant=a and variant=b")
    bad = http.get("/v1/analytics/compare", params={"score": "thumbs", "a": "variant=a", "b": "model=b"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "b"


def test_trend_finds_the_drop_after_the_deploy(collector: Any, http: httpx.Client) -> None:
    seed = Seeder(http)
    for day in range(7):
        ups = 36 if day < 4 else 12  # 90% before the deploy on day 4, 30% after
        for i in range(40):
            ref = seed.span(start_ns=BASE_NS + day * DAY_NS + i * 10**9, plaudit__variant="a")
            seed.rate(ref, "thumbs", i < ups)
    seed.send()
    result = http.get("/v1/analytics/trend", params={"score": "thumbs", "bucket": "day"}).json()
    assert [p["bucket_start"] for p in result["points"]] == [f"2026-01-0{d}T00:00:00Z" for d in range(1, 8)]
    assert [p["mean"] for p in result["points"]] == pytest.approx([0.9] * 4 + [0.3] * 3)
    assert [p["change"] for p in result["points"]] == [None, None, None, None, "down", None, None]
    assert "first: down at 2026-01-05T00:00:00Z" in result["verdict"]
    weekly = http.get("/v1/analytics/trend", params={"score": "thumbs", "bucket": "week", "group_by": "variant"}).json()
    assert [(p["bucket_start"], p["count"]) for p in weekly["points"]] == [
        ("2025-12-29T00:00:00Z", 160),  # Monday of the week holding Thu 1 Jan .. Sun 4 Jan
        ("2026-01-05T00:00:00Z", 120),
    ]
    with plaudit.Client(collector.url) as client:
        typed = client.trend("thumbs", bucket="day")
    assert [p["change"] for p in typed.points] == [p["change"] for p in result["points"]]
    out = _cli(collector.url, "trend", "--score", "thumbs", "--bucket", "day")
    assert any(line.startswith("2026-01-05 ") and "▼ down" in line for line in out.splitlines()), out


def test_agreement_reproduces_a_constructed_kappa(collector: Any, http: httpx.Client) -> None:
    # human rows × judge columns: [[20, 5], [10, 15]] → p_o = 0.7, p_e = 0.5, kappa = 0.4
    cells = [(True, True, 20), (True, False, 5), (False, True, 10), (False, False, 15)]
    seed = Seeder(http)
    for human, judge, n in cells:
        for _ in range(n):
            ref = seed.span(plaudit__variant="a")
            seed.rate(ref, "correct", human, source="human", author="h")
            seed.rate(ref, "correct", judge, source="llm_judge", author="j")
    for i in range(30):  # a 1–5 scale where the judge is always one star more generous, capped at 5
        ref = seed.span(plaudit__variant="a")
        seed.rate(ref, "stars", 1 + i % 5, source="human", author="h")
        seed.rate(ref, "stars", min(2 + i % 5, 5), source="llm_judge", author="j")
    seed.send()
    result = http.get("/v1/analytics/agreement").json()
    by_name = {s["name"]: s for s in result["scores"]}
    correct = by_name["correct"]
    assert correct["kind"] == "boolean" and correct["n"] == 50
    assert correct["table"] == [[15, 10], [5, 20]]  # categories [0, 1]: rows human, columns judge
    assert correct["kappa"] == pytest.approx(0.4)
    assert correct["observed_agreement"] == pytest.approx(0.7)
    assert correct["kappa_ci_low"] < 0.4 < correct["kappa_ci_high"]
    stars = by_name["stars"]
    assert stars["kind"] == "ordinal" and stars["categories"] == [1, 2, 3, 4, 5]
    assert stars["spearman"] == pytest.approx(0.97, abs=0.03)
    assert stars["weighted_kappa"] > stars["kappa"]
    with plaudit.Client(collector.url) as client:
        assert client.agreement("correct").scores[0]["kappa"] == pytest.approx(0.4)
    out = _cli(collector.url, "agreement", "--score", "correct")
    (row,) = [line.split() for line in out.splitlines() if line.startswith("correct ")]
    assert row[:4] == ["correct", "boolean", "50", "0.400"]  # score, kind, n, kappa


def test_segments_show_where_the_overall_winner_loses(collector: Any, http: httpx.Client) -> None:
    seed = Seeder(http)
    plan = {("pro", "a"): (90, 10), ("pro", "b"): (50, 50), ("free", "a"): (20, 30), ("free", "b"): (40, 10)}
    for (tier, variant), (ups, downs) in plan.items():
        _votes(seed, "thumbs", [True] * ups + [False] * downs, plaudit__variant=variant, plan=tier)
    seed.send()
    result = http.get(
        "/v1/analytics/segments", params={"score": "thumbs", "group_by": "variant", "segment": "attr.plan"}
    ).json()
    assert result["candidate"] == {"variant": "a"}
    free = next(s for s in result["segments"] if s["segment"] == "free")
    pro = next(s for s in result["segments"] if s["segment"] == "pro")
    assert free["reverses"] and free["significant"] and free["rival"] == {"variant": "b"}
    assert not pro["reverses"]
    assert result["verdict"].startswith("variant=a leads overall but loses in attr.plan=free")
    with plaudit.Client(collector.url) as client:
        typed = client.segments("thumbs", "attr.plan")
    assert typed.verdict == result["verdict"]
    out = _cli(collector.url, "segments", "--score", "thumbs", "--segment", "attr.plan")
    assert "loses in attr.plan=free" in out


def test_preferences_rank_with_bradley_terry(collector: Any, http: httpx.Client) -> None:
    seed = Seeder(http)
    # head to head: a–b 30:10 (+4 ties), a–c 35:5, b–c 25:15
    plan = [("a", "b", 30, 10, 4), ("a", "c", 35, 5, 0), ("b", "c", 25, 15, 0)]
    for left, right, wins, losses, ties in plan:
        for winner in ["a"] * wins + ["b"] * losses + ["tie"] * ties:
            ref_a = seed.span(plaudit__variant=left)
            ref_b = seed.span(plaudit__variant=right)
            seed.prefer(ref_a, ref_b, winner)
    seed.send()
    result = http.get("/v1/analytics/preferences", params={"score": "preference", "group_by": "variant"}).json()
    rows = {r["group"]["variant"]: r for r in result["rows"]}
    assert [r["group"]["variant"] for r in result["rows"]] == ["a", "b", "c"]
    assert rows["a"]["comparisons"] == 84
    assert rows["a"]["win_score"] == pytest.approx((30 + 35 + 2) / 84)
    assert rows["c"]["win_score"] == pytest.approx((5 + 15) / 80)
    for r in result["rows"]:
        assert r["strength_ci_low"] < r["strength"] < r["strength_ci_high"]
    assert rows["a"]["strength_ci_low"] > rows["c"]["strength_ci_high"]
    h2h = {
        (h["a"]["variant"], h["b"]["variant"]): (h["a_wins"], h["b_wins"], h["ties"]) for h in result["head_to_head"]
    }
    assert h2h[("a", "b")] == (30, 10, 4)
    pair = http.get("/v1/analytics/compare", params={"score": "preference", "a": "variant=c", "b": "variant=a"}).json()
    assert (pair["kind"], pair["a"]["wins"], pair["b"]["wins"]) == ("preference", 5, 35)
    assert pair["p_value"] < 1e-5 and pair["prob_a_better"] < 0.001
    assert pair["verdict"].startswith("variant=a is preferred to variant=c")
    with plaudit.Client(collector.url) as client:
        typed = client.preferences("preference")
    assert [r["group"]["variant"] for r in typed.rows] == ["a", "b", "c"]
    out = _cli(collector.url, "preferences")
    assert "variant=a" in out and "Bradley" in out


def test_leaderboard_on_the_cli_and_client(collector: Any, http: httpx.Client) -> None:
    seed = Seeder(http)
    _votes(seed, "helpfulness", [5, 5, 4, 5, 4, 5, 5, 4], gen_ai__request__model="big", plaudit__prompt__version="2")
    _votes(seed, "helpfulness", [2, 3, 2, 3, 2, 3, 2, 3], gen_ai__request__model="small", plaudit__prompt__version="1")
    seed.send()
    out = _cli(collector.url, "leaderboard", "--score", "helpfulness", "--by", "model", "--by", "prompt.version")
    assert "Leaderboard: helpfulness by model, prompt.version" in out
    assert "big ★" in out
    assert "model=big, prompt.version=2 leads" in out
    with plaudit.Client(collector.url) as client:
        board = client.leaderboard("helpfulness", group_by=["model", "prompt.version"])
    assert board.leader == {"model": "big", "prompt.version": "2"}
    assert board.rows[0].mean == pytest.approx(37 / 8)
    if importlib.util.find_spec("pandas") is not None:  # .to_pandas() is optional: pandas is not a dependency
        assert list(board.to_pandas()["model"]) == ["big", "small"]
