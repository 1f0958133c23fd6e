"""A smaller run of ``bench/bench_experiments.py`` through the real SDK and collector: segments whose best
variants differ, feedback late or never. Per-segment Thompson sampling earns clearly more than a fixed
split and mostly serves each segment its best variant by the end; a variant removed mid-run is never served
again; the report's counts equal the feedback sent."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import plaudit

ROUNDS = 2000


def bench_module() -> ModuleType:
    name = "bench_experiments"
    if name not in sys.modules:
        path = Path(__file__).parents[2] / "bench" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        sys.modules[name] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_per_segment_thompson_learns_each_segments_best_variant(sdk: Any) -> None:
    bench = bench_module()
    fixed = bench.simulate(sdk.url, "fixed", None, ROUNDS, seed=2)
    thompson = bench.simulate(sdk.url, "thompson", "plan", ROUNDS, seed=2)
    regret = {"fixed": sum(fixed.regret.values()), "thompson": sum(thompson.regret.values())}
    assert regret["thompson"] < regret["fixed"] / 2, regret
    shares = thompson.best_share(500)
    assert min(shares.values()) >= 0.7, shares
    with plaudit.Client(sdk.url) as client:
        report = client.experiment_report("bench-thompson-plan-2")
    counted = {row["variant"]: row["ratings"] for row in report.overall["variants"]}
    assert counted == thompson.rated
    assert {row["variant"]: row["count"] for row in report.overall["variants"]} == thompson.rated
    for entry in report.segments:  # every segment's counts add up to the overall ones
        assert entry["segment"] in bench.SEGMENTS
    assert sum(e["rated"] for e in report.segments) == report.overall["rated"]
    assert report.overall["choices"] == ROUNDS


def test_a_variant_removed_mid_run_is_never_served_again(sdk: Any) -> None:
    bench = bench_module()
    result = bench.simulate(sdk.url, "thompson", "plan", 600, seed=3, remove_at=(300, "bullets"))
    before = {variant for _, variant in result.served[:300]}
    after = {variant for _, variant in result.served[300:]}
    assert "bullets" in before
    assert "bullets" not in after and after == {"concise", "detailed"}
