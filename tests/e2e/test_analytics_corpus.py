"""Real human ratings loaded through the collector reproduce the reference values in the corpus MANIFEST:
HANNA Likert ratings (per-story means, 95% intervals) and PRD pairwise votes (win scores)."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from analytics_seed import Seeder
from scipy import stats as sps

import plaudit

# MANIFEST: mean over all six criteria per system, 95% CI over its 96 per-story means (normal approximation)
HANNA = {
    "Human": (3.764, 3.657, 3.871),
    "GPT-2 (tag)": (2.731, 2.632, 2.830),
    "GPT-2": (2.719, 2.641, 2.798),
    "Fusion": (2.143, 2.047, 2.239),
    "HINT": (1.862, 1.763, 1.961),
}
HANNA_RELEVANCE = {"Human": 4.170, "GPT-2": 2.809, "Fusion": 2.094}
PRD = {
    "gpt4": (0.716, 1760),
    "claude": (0.689, 320),
    "guanaco-65b": (0.518, None),
    "guanaco-33b": (0.514, None),
    "guanaco-7b": (0.505, None),
    "vicuna-13b": (0.473, None),
    "guanaco-13b": (0.471, None),
    "gpt35": (0.392, None),
    "bard": (0.377, None),
}


def test_hanna_story_ratings_reproduce_the_reference_intervals(
    collector: Any, http: httpx.Client, corpus: Path
) -> None:
    seed = Seeder(http)
    stories: dict[tuple[str, str], tuple[str, str]] = {}
    with (corpus / "feedback" / "hanna" / "hanna_human_ratings_long.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            system = row["system"]
            if system not in HANNA:
                continue
            key = (system, row["story_index_in_system"])
            if key not in stories:
                stories[key] = seed.span(name="story", plaudit__variant=system, hanna__story=row["hanna_story_id"])
            score = int(row["score"])
            seed.rate(stories[key], "hanna", score, author=f"{row['criterion']}-{row['rater']}", source="annotator")
            if row["criterion"] == "Relevance" and system in HANNA_RELEVANCE:
                seed.rate(stories[key], "relevance", score, author=f"rater-{row['rater']}", source="annotator")
    seed.send()

    board = http.get("/v1/analytics/leaderboard", params={"score": "hanna", "group_by": "variant"}).json()
    rows = {r["group"]["variant"]: r for r in board["rows"]}
    # ranked by lower bound GPT-2 (2.641) edges out GPT-2 (tag) (2.632); by mean the tag model is second
    assert [r["group"]["variant"] for r in board["rows"]] == ["Human", "GPT-2", "GPT-2 (tag)", "Fusion", "HINT"]
    by_mean = http.get("/v1/analytics/leaderboard", params={"score": "hanna", "sort": "mean"}).json()
    assert [r["group"]["variant"] for r in by_mean["rows"]] == list(HANNA)
    t_to_normal = 1.959964 / float(sps.t.ppf(0.975, 95))
    for system, (mean, low, high) in HANNA.items():
        row = rows[system]
        assert (row["rated"], row["count"], row["max_raters"], row["method"]) == (96, 96 * 18, 18, "t")
        assert row["mean"] == pytest.approx(mean, abs=5e-4)
        # the collector reports a Student t interval; rescaled to the normal one it matches the reference
        half = (row["ci_high"] - row["ci_low"]) / 2 * t_to_normal
        assert row["mean"] - half == pytest.approx(low, abs=6e-4)
        assert row["mean"] + half == pytest.approx(high, abs=6e-4)
        assert row["ci_low"] < low and row["ci_high"] > high  # t is the (slightly) wider one
    assert board["leader"] == {"variant": "Human"}
    relevance = http.get("/v1/analytics/leaderboard", params={"score": "relevance"}).json()
    assert {r["group"]["variant"]: round(r["mean"], 3) for r in relevance["rows"]} == HANNA_RELEVANCE
    with plaudit.Client(collector.url) as client:
        gap = client.compare("hanna", {"variant": "GPT-2 (tag)"}, {"variant": "GPT-2"})
    assert gap.test == "mann-whitney" and gap.p_value > 0.05  # 1–5 Likert: ordinal; 2.731 vs 2.719 is no difference


def _prd_votes(corpus: Path) -> list[tuple[str, str, int, str, int]]:
    votes = []
    pattern = re.compile(r"answer_(.+)-vs-answer_(.+)-human-reviewer_threeclass\.jsonl")
    for path in sorted((corpus / "feedback" / "prd-vicuna80" / "ratings-human").glob("*.jsonl")):
        match = pattern.fullmatch(path.name)
        assert match, path.name
        left, right = match.groups()
        for line in path.read_text().splitlines():
            if line.strip():
                item = json.loads(line)
                votes.append((left, right, int(item["question_id"]), item["text"], int(item["score"])))
    return votes


def test_prd_pairwise_votes_reproduce_the_reference_win_scores(
    collector: Any, http: httpx.Client, corpus: Path
) -> None:
    seed = Seeder(http)
    answers: dict[tuple[str, int], tuple[str, str]] = {}
    winners = {1: "a", 2: "b", 3: "tie"}
    for left, right, question, text, score in _prd_votes(corpus):
        for model in (left, right):
            if (model, question) not in answers:
                answers[model, question] = seed.span(name="answer", plaudit__variant=model, plaudit__input=text)
        seed.prefer(answers[left, question], answers[right, question], winners[score], name="human_pref")
    seed.send()

    result = http.get("/v1/analytics/preferences", params={"score": "human_pref", "group_by": "variant"}).json()
    rows = {r["group"]["variant"]: r for r in result["rows"]}
    assert set(rows) == set(PRD)
    for model, (win_score, n) in PRD.items():
        assert rows[model]["win_score"] == pytest.approx(win_score, abs=5e-4), model
        if n is not None:
            assert rows[model]["comparisons"] == n
        assert rows[model]["ci_low"] < rows[model]["win_score"] < rows[model]["ci_high"]
    assert result["rows"][0]["group"] == {"variant": "gpt4"}
    assert result["same_group_comparisons"] == 0
    # MANIFEST: gpt4 beats gpt35 in both orderings (67:24:14 and 101:26:8 counting gpt35-first files as "2")
    h2h = {(h["a"]["variant"], h["b"]["variant"]): h for h in result["head_to_head"]}
    pair = h2h.get(("gpt35", "gpt4")) or h2h[("gpt4", "gpt35")]
    gpt4_wins = pair["a_wins"] if pair["a"]["variant"] == "gpt4" else pair["b_wins"]
    assert (gpt4_wins, pair["ties"]) == (67 + 101, 14 + 8)
    compare = http.get(
        "/v1/analytics/compare", params={"score": "human_pref", "a": "variant=gpt4", "b": "variant=gpt35"}
    ).json()
    assert (compare["a"]["wins"], compare["b"]["wins"], compare["ties"]) == (168, 50, 22)
    assert compare["p_value"] < 1e-10 and compare["prob_a_better"] > 0.999
