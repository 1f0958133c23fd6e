"""Rating pairs worth training on (distinct texts, best against worst per input, a capped "all") and
segments that crown only groups with enough rated items."""

from __future__ import annotations

import json
from typing import Any

import httpx
from analytics_seed import Seeder


def _lines(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.text.splitlines() if line.strip()]


def _seed_answers(http: httpx.Client, prompts: int = 20, copies: int = 4) -> None:
    """Per prompt: four distinct answers rated 1-4, each sent ``copies`` times (same text, several spans)."""
    seed = Seeder(http)
    for p in range(prompts):
        for quality in range(1, 5):
            for _ in range(copies):
                ref = seed.span(plaudit__input=f"prompt {p}", plaudit__output=f"answer {p} of quality {quality}")
                seed.rate(ref, "stars", quality)
    seed.send()


def test_rating_pairs_are_distinct_best_against_worst(collector: Any, http: httpx.Client) -> None:
    _seed_answers(http)
    pairs = _lines(http.get("/v1/export/preferences", params={"score": "stars"}))
    assert len(pairs) == 20  # one per prompt, however many spans repeat an answer
    assert all(p["chosen"] != p["rejected"] for p in pairs)
    assert all(p["chosen"].endswith("quality 4") and p["rejected"].endswith("quality 1") for p in pairs)
    assert all(p["margin"] == 3 and p["prompt"] in p["chosen"].replace("answer", "prompt") for p in pairs)
    wide = _lines(http.get("/v1/export/preferences", params={"score": "stars", "min_margin": 3}))
    assert wide == []  # the margin must be exceeded


def test_all_pairs_are_deduplicated_and_capped(collector: Any, http: httpx.Client) -> None:
    _seed_answers(http, prompts=3)
    every = _lines(http.get("/v1/export/preferences", params={"score": "stars", "pairs": "all"}))
    assert len(every) == 3 * 6  # C(4, 2) distinct pairs per prompt, none repeated for the repeated spans
    assert len({(p["chosen"], p["rejected"]) for p in every}) == len(every)
    assert all(p["chosen"] != p["rejected"] and p["chosen_score"] > p["rejected_score"] for p in every)
    capped = _lines(http.get("/v1/export/preferences", params={"score": "stars", "pairs": "all", "max_pairs": 2}))
    assert len(capped) == 6 and {p["margin"] for p in capped} == {3, 2}  # the widest margins first


def test_identical_texts_never_make_a_pair(collector: Any, http: httpx.Client) -> None:
    seed = Seeder(http)
    same = [seed.span(plaudit__input="q", plaudit__output="same words") for _ in range(2)]
    seed.rate(same[0], "stars", 5)
    seed.rate(same[1], "stars", 1)
    seed.prefer(same[0], same[1], "a")
    seed.send()
    assert _lines(http.get("/v1/export/preferences", params={"score": "stars", "preference": "preference"})) == []


def test_a_segment_crowns_only_groups_with_enough_items(collector: Any, http: httpx.Client) -> None:
    seed = Seeder(http)
    for i in range(30):  # plan=pro: v1 rated 20 times at 60%, v2 rated 10 times at 40% overall leader material
        ref = seed.span(plaudit__variant="v1", plaudit__metadata__plan="pro", plan="pro")
        seed.rate(ref, "thumbs", i % 5 < 3)
    for i in range(30):
        ref = seed.span(plaudit__variant="v2", plan="pro")
        seed.rate(ref, "thumbs", i % 5 < 2)
    lucky = seed.span(plaudit__variant="v3", plan="pro")  # one perfect rating: not a segment's best
    seed.rate(lucky, "thumbs", True)
    seed.send()
    result = http.get(
        "/v1/analytics/segments", params={"score": "thumbs", "segment": "attr.plan", "min_count": 5}
    ).json()
    pro = next(entry for entry in result["segments"] if entry["segment"] == "pro")
    assert pro["best"] == {"variant": "v1"}
    v3 = next(row for row in pro["rows"] if row["group"] == {"variant": "v3"})
    assert v3["mean"] == 1.0 and v3["eligible"] is False and pro["rows"][-1] is not None
    assert [row["eligible"] for row in pro["rows"]] == [True, True, False]  # listed after the crowned ones
    assert not pro["reverses"]
