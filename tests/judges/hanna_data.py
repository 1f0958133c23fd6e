"""HANNA Relevance ratings from the shared corpus: three human ratings and one LLM judge's rating per story
(11 story-generation systems × 96 stories), and a seeded human sample of the stories."""

from __future__ import annotations

import csv
import random
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from analytics_seed import Seeder

CRITERION = "Relevance"
JUDGE, JUDGE_PROMPT = "Mistral-7B", "4"
"""The judge and prompt variant used: Relevance rated about a point below the humans, correlation ~0.55."""

Story = tuple[str, int]


@dataclass(frozen=True)
class Hanna:
    humans: dict[Story, list[float]]
    """Per story, the three human ratings (rater slots 1–3)."""
    judge: dict[Story, float]
    """Per story, the judge's rating (its mean over runs)."""

    @property
    def systems(self) -> list[str]:
        return sorted({system for system, _ in self.humans})

    def human_means(self) -> dict[str, float]:
        """The all-human mean per system: the mean over its stories of each story's rater mean."""
        per: dict[str, list[float]] = defaultdict(list)
        for (system, _), ratings in self.humans.items():
            per[system].append(sum(ratings) / len(ratings))
        return {system: sum(v) / len(v) for system, v in per.items()}

    def sample(self, fraction: float, seed: int) -> set[Story]:
        stories = sorted(self.humans)
        return set(random.Random(seed).sample(stories, round(fraction * len(stories))))


def load(corpus: Path) -> Hanna:
    folder = corpus / "feedback" / "hanna"
    humans: dict[Story, list[float]] = defaultdict(list)
    with (folder / "hanna_human_ratings_long.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["criterion"] == CRITERION:
                humans[(row["system"], int(row["story_index_in_system"]))].append(float(row["score"]))
    judge: dict[Story, float] = {}
    with (folder / "hanna_llm_ratings_long.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["criterion"] == CRITERION and row["judge"] == JUDGE and row["prompt_variant"] == JUDGE_PROMPT:
                judge[(row["system"], int(row["story_index_in_system"]))] = float(row["score"])
    return Hanna(dict(humans), judge)


def seed_hanna(http: httpx.Client, data: Hanna, sample: set[Story]) -> None:
    """One span per story (variant = system), the judge's rating on each, the three human ratings on the sample."""
    seed = Seeder(http)
    for story in sorted(data.humans):
        system, index = story
        ref = seed.span(name="story", plaudit__variant=system, plaudit__output=f"story {index} of {system}")
        seed.rate(ref, "relevance", data.judge[story], source="llm_judge", author="mistral@hanna")
        if story in sample:
            for slot, value in enumerate(data.humans[story], start=1):
                seed.rate(ref, "relevance", value, source="human", author=f"rater{slot}")
    seed.send()
