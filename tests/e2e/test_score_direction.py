"""Score direction: a lower-is-better score (hallucination) ranks its best variant first everywhere and never
crowns the variant that hallucinates most; every answer states the direction it used."""

from __future__ import annotations

import itertools
import json
from typing import Any

import httpx
import pytest
from analytics_seed import BASE_NS, DAY_NS, Seeder

import plaudit

RATES = {"careful": 0.1, "middling": 0.3, "wild": 0.6}
"""How often each variant hallucinates."""


def _seed(http: httpx.Client, per_variant: int = 60) -> None:
    seed = Seeder(http)
    for variant, rate in RATES.items():
        bad = round(per_variant * rate)
        for i in range(per_variant):
            ref = seed.span(
                start_ns=BASE_NS + (i % 2) * DAY_NS + i * 10**9,
                plaudit__variant=variant,
                user__id=f"u{i % 2}",
                plaudit__input=f"question {i}",
                plaudit__output=f"{variant} answer {i}",
            )
            seed.rate(ref, "hallucination", i < bad)
    seed.send()


def _declare(http: httpx.Client, higher_is_better: bool) -> None:
    body = {"type": "boolean", "higher_is_better": higher_is_better}
    response = http.put("/v1/score-configs/hallucination", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["higher_is_better"] is higher_is_better


def test_hallucination_never_crowns_the_variant_that_hallucinates_most(collector: Any, http: httpx.Client) -> None:
    _seed(http)
    _declare(http, False)
    board = http.get("/v1/analytics/leaderboard", params={"score": "hallucination"}).json()
    assert (board["higher_is_better"], board["direction"], board["direction_from"]) == (
        False,
        "lower is better",
        "score config",
    )
    assert [row["group"]["variant"] for row in board["rows"]] == ["careful", "middling", "wild"]
    assert board["leader"] == {"variant": "careful"} and board["candidate"] == {"variant": "careful"}
    assert "lower is better" in board["verdict"]
    wild = next(row for row in board["rows"] if row["group"] == {"variant": "wild"})
    assert wild["p_vs_leader"] < 0.05
    by_mean = http.get("/v1/analytics/leaderboard", params={"score": "hallucination", "sort": "mean"}).json()
    assert by_mean["rows"][0]["group"] == {"variant": "careful"}
    # the query overrides the config, by the same name
    flipped = http.get(
        "/v1/analytics/leaderboard", params={"score": "hallucination", "higher_is_better": "true"}
    ).json()
    assert flipped["candidate"] == {"variant": "wild"} and flipped["direction_from"] == "query"


def test_without_a_config_the_query_names_the_direction(collector: Any, http: httpx.Client) -> None:
    _seed(http)
    default = http.get("/v1/analytics/leaderboard", params={"score": "hallucination"}).json()
    assert default["higher_is_better"] is True and default["direction_from"] == "default"
    with plaudit.Client(collector.url) as client:
        board = client.leaderboard("hallucination", higher_is_better=False)
    assert board.leader == {"variant": "careful"} and board.higher_is_better is False


def test_compare_trend_and_segments_follow_the_direction(collector: Any, http: httpx.Client) -> None:
    _seed(http)
    _declare(http, False)
    params = {"score": "hallucination", "a": "variant=careful", "b": "variant=wild"}
    result = http.get("/v1/analytics/compare", params=params).json()
    assert result["difference"] < 0 and result["prob_a_better"] > 0.99 and result["higher_is_better"] is False
    assert result["verdict"].startswith("variant=careful beats variant=wild")
    reverse = http.get("/v1/analytics/compare", params={**params, "a": "variant=wild", "b": "variant=careful"}).json()
    assert reverse["prob_a_better"] < 0.01 and reverse["verdict"].startswith("variant=careful beats variant=wild")

    seed = Seeder(http, _ids=itertools.count(10_000))  # stops hallucinating on day two: the drop is an improvement
    for day, rate in ((0, 0.7), (1, 0.1)):
        for i in range(50):
            ref = seed.span(start_ns=BASE_NS + (10 + day) * DAY_NS + i * 10**9, plaudit__variant="fixed")
            seed.rate(ref, "hallucination", i < 50 * rate)
    seed.send()
    trend = http.get(
        "/v1/analytics/trend", params={"score": "hallucination", "where": "variant=fixed", "bucket": "day"}
    ).json()
    assert [(p["change"], p["better"]) for p in trend["points"]] == [(None, None), ("down", True)]
    assert "(better: lower is better)" in trend["verdict"]

    segments = http.get(
        "/v1/analytics/segments", params={"score": "hallucination", "segment": "user.id", "where": "variant=careful"}
    ).json()
    assert segments["higher_is_better"] is False
    both = http.get("/v1/analytics/segments", params={"score": "hallucination", "segment": "user.id"}).json()
    assert both["candidate"] == {"variant": "careful"}
    users = [entry for entry in both["segments"] if entry["segment"] in ("u0", "u1")]
    assert len(users) == 2 and all(entry["best"] == {"variant": "careful"} for entry in users)
    assert not any(entry["reverses"] for entry in both["segments"])


def test_exports_keep_the_better_side(collector: Any, http: httpx.Client) -> None:
    seed = Seeder(http)
    for i in range(6):
        clean = seed.span(plaudit__input=f"q{i}", plaudit__output=f"grounded {i}", plaudit__variant="a")
        made_up = seed.span(plaudit__input=f"q{i}", plaudit__output=f"invented {i}", plaudit__variant="b")
        seed.rate(clean, "hallucination", False)
        seed.rate(made_up, "hallucination", True)
    seed.send()
    _declare(http, False)
    pairs = [
        json.loads(line)
        for line in http.get("/v1/export/preferences", params={"score": "hallucination"}).text.split("\n")
        if line
    ]
    assert len(pairs) == 6
    assert all(p["chosen"].startswith("grounded") and p["rejected"].startswith("invented") for p in pairs)
    assert all(p["higher_is_better"] is False for p in pairs)
    finetune = http.get(
        "/v1/export/finetune",
        params={"score": "hallucination", "min_score": 0, "corrections": "false", "format": "plain"},
    ).text.splitlines()
    outputs = sorted(json.loads(line)["output"] for line in finetune)
    assert outputs == sorted(f"grounded {i}" for i in range(6))


def _seed_judged(http: httpx.Client, per_variant: int = 90) -> None:
    """A judge rates every span (wrong on one in seven), humans a third of them (always right)."""
    seed = Seeder(http, _ids=itertools.count(50_000))
    for variant, rate in RATES.items():
        bad = round(per_variant * rate)
        for i in range(per_variant):
            ref = seed.span(start_ns=BASE_NS + i * 10**9, plaudit__variant=variant)
            truth = i < bad
            seed.rate(ref, "hallucination", truth != (i % 7 == 3), source="llm_judge", author="judge@1")
            if i % 3 == 0:
                seed.rate(ref, "hallucination", truth, source="human", author=f"reviewer{i % 2}")
    for day, rate in ((0, 0.7), (1, 0.1)):  # "fixed" stops hallucinating on day two: the drop is an improvement
        for i in range(60):
            ref = seed.span(start_ns=BASE_NS + (10 + day) * DAY_NS + i * 10**9, plaudit__variant="fixed")
            truth = i < 60 * rate
            seed.rate(ref, "hallucination", truth, source="llm_judge", author="judge@1")
            seed.rate(ref, "hallucination", truth, source="human", author="reviewer0")
    seed.send()


def test_judge_assisted_estimates_follow_the_direction_and_the_confidence(collector: Any, http: httpx.Client) -> None:
    _seed_judged(http)
    _declare(http, False)
    ppi = {"score": "hallucination", "estimator": "ppi", "min_count": 5}
    board = http.get("/v1/analytics/leaderboard", params=ppi).json()
    assert board["method"] == "ppi++"
    assert (board["higher_is_better"], board["direction"], board["direction_from"]) == (
        False,
        "lower is better",
        "score config",
    )
    ranked = [row["group"]["variant"] for row in board["rows"] if row["group"]["variant"] != "fixed"]
    assert ranked == ["careful", "middling", "wild"]
    assert board["candidate"] == {"variant": "careful"} != board["rows"][-1]["group"]
    assert board["leader"] in ({"variant": "careful"}, None)  # never the variant that hallucinates most
    wild = next(row for row in board["rows"] if row["group"] == {"variant": "wild"})
    assert wild["p_vs_leader"] < 0.05
    flipped = http.get("/v1/analytics/leaderboard", params={**ppi, "higher_is_better": "true"}).json()
    assert flipped["candidate"] == {"variant": "wild"} and flipped["direction_from"] == "query"

    narrow = http.get("/v1/analytics/leaderboard", params={**ppi, "confidence": "0.5"}).json()
    assert narrow["confidence"] == 0.5 and board["confidence"] == 0.95
    for wide_row, narrow_row in zip(board["rows"], narrow["rows"], strict=True):
        assert wide_row["mean"] == pytest.approx(narrow_row["mean"])
        assert narrow_row["ci_high"] - narrow_row["ci_low"] < wide_row["ci_high"] - wide_row["ci_low"]

    pair = {**ppi, "a": "variant=careful", "b": "variant=wild"}
    pair.pop("min_count")
    result = http.get("/v1/analytics/compare", params=pair).json()
    assert result["difference"] < 0 and result["prob_a_better"] > 0.99 and result["higher_is_better"] is False
    assert result["verdict"].startswith("variant=careful beats variant=wild")
    reverse = http.get("/v1/analytics/compare", params={**pair, "a": "variant=wild", "b": "variant=careful"}).json()
    assert reverse["prob_a_better"] < 0.01 and reverse["verdict"].startswith("variant=careful beats variant=wild")
    loose = http.get("/v1/analytics/compare", params={**pair, "confidence": "0.6"}).json()
    assert loose["diff_ci_high"] - loose["diff_ci_low"] < result["diff_ci_high"] - result["diff_ci_low"]

    trend = http.get(
        "/v1/analytics/trend",
        params={"score": "hallucination", "estimator": "ppi", "where": "variant=fixed", "bucket": "day"},
    ).json()
    assert [(p["change"], p["better"]) for p in trend["points"]] == [(None, None), ("down", True)]
    assert "(better: lower is better)" in trend["verdict"] and trend["higher_is_better"] is False
    with plaudit.Client(collector.url) as client:
        via_client = client.leaderboard("hallucination", estimator="ppi", higher_is_better=False, min_count=5)
        asked = client.informative("hallucination", where={"variant": "careful"})
    assert via_client.candidate == {"variant": "careful"}
    # humans are asked about the groups contending for the lead in the score's direction
    picked = http.get("/v1/analytics/informative", params={"score": "hallucination", "limit": 10}).json()
    contenders = [c["variant"] for c in picked["contenders"]]
    assert "careful" in contenders and "wild" not in contenders and picked["higher_is_better"] is False
    assert asked["count"] > 0 and {i["group"]["variant"] for i in asked["items"]} == {"careful"}
