"""The allocation policies on known data, with seeded randomness: they converge to the best variant, the
exploration floor and the cap hold, segments pool toward the global model, and the inverse-propensity
estimates are unbiased where the plain mean is not."""

from __future__ import annotations

import random

import numpy as np
import pytest

from plaudit_collector.analytics import experiment_policy as policy
from plaudit_collector.analytics.experiment_policy import Arm, Policy
from plaudit_collector.analytics.experiment_report import ips_estimates, recommend
from plaudit_collector.store.experiment_data import Rewards

VARIANTS = ["a", "b", "c"]


def run_bandit(rules: Policy, truth: dict[str, float], rounds: int, seed: int, batch: int = 20) -> list[str]:
    """A simulated experiment: choices sampled from the policy's probabilities, yes/no rewards, state
    recomputed every ``batch`` rounds (as a refresh would)."""
    rng = random.Random(seed)
    stats = {v: Arm() for v in truth}
    picks = []
    probabilities = policy.allocate(rules, list(truth), stats)
    for i in range(rounds):
        variant = policy.pick(probabilities, rng.random())
        assert variant is not None
        picks.append(variant)
        reward = 1.0 if rng.random() < truth[variant] else 0.0
        stats[variant] = stats[variant] + Arm(1, reward, reward)
        if i % batch == batch - 1:
            probabilities = policy.allocate(rules, list(truth), stats, seed=i)
    return picks


@pytest.mark.parametrize("name", ["thompson", "epsilon_greedy"])
def test_adaptive_policies_converge_to_the_best_variant(name: str) -> None:
    truth = {"a": 0.3, "b": 0.5, "c": 0.7}
    picks = run_bandit(Policy(name, epsilon=0.1, min_share=0.02), truth, rounds=3000, seed=7)
    last = picks[-1000:]
    assert last.count("c") / len(last) > 0.85


def test_thompson_regret_is_far_below_a_fixed_split() -> None:
    truth = {"a": 0.3, "b": 0.5, "c": 0.7}

    def regret(picks: list[str]) -> float:
        return sum(0.7 - truth[p] for p in picks)

    fixed = regret(run_bandit(Policy("fixed"), truth, rounds=3000, seed=3))
    thompson = regret(run_bandit(Policy("thompson", min_share=0.02), truth, rounds=3000, seed=3))
    assert thompson < fixed / 4


def test_normal_rewards_and_lower_is_better() -> None:
    stats = {"a": Arm(200, 200 * 3.0, 200 * 9.5), "b": Arm(200, 200 * 3.4, 200 * 12.0)}
    higher = policy.allocate(Policy("thompson", reward=policy.NORMAL), ["a", "b"], stats)
    assert higher["b"] > 0.95
    flipped = {v: policy.oriented(a.n, a.total, a.total_sq, policy.NORMAL, False) for v, a in stats.items()}
    lower = policy.allocate(Policy("thompson", reward=policy.NORMAL), ["a", "b"], flipped)
    assert lower["a"] > 0.95
    yes_no = policy.oriented(10, 8.0, 8.0, policy.BERNOULLI, False)
    assert (yes_no.n, yes_no.total, yes_no.total_sq) == (10, 2.0, 2.0)


def test_no_data_is_an_exactly_even_split() -> None:
    for name in ("thompson", "epsilon_greedy", "fixed"):
        assert policy.allocate(Policy(name), VARIANTS, {}) == {v: pytest.approx(1 / 3) for v in VARIANTS}
    assert policy.allocate(Policy("thompson", reward=policy.NORMAL), ["a", "b"], {}) == {"a": 0.5, "b": 0.5}


def test_fixed_split_follows_the_weights() -> None:
    shares = policy.allocate(Policy("fixed"), VARIANTS, {"a": Arm(100, 99.0, 99.0)}, weights={"a": 1, "b": 3})
    assert shares == {"a": pytest.approx(0.2), "b": pytest.approx(0.6), "c": pytest.approx(0.2)}


def test_floor_and_cap_hold_for_any_shares() -> None:
    rng = np.random.default_rng(11)
    for _ in range(500):
        k = int(rng.integers(1, 7))
        names = [f"v{i}" for i in range(k)]
        raw = rng.dirichlet(np.full(k, 0.3)) * rng.choice([0.0, 1.0, 5.0], p=[0.05, 0.8, 0.15])
        low, high = sorted(rng.uniform(0, 1, size=2))
        shares = policy.bound_shares(dict(zip(names, raw, strict=True)), low, high)
        values = np.array(list(shares.values()))
        assert values.sum() == pytest.approx(1.0)
        assert (values >= min(low, 1 / k) - 1e-9).all()
        assert (values <= max(high, 1 / k) + 1e-9).all()


def test_floor_and_cap_hold_under_every_policy() -> None:
    stats = {"a": Arm(1000, 900.0, 900.0), "b": Arm(1000, 100.0, 100.0), "c": Arm(1000, 50.0, 50.0)}
    for name in ("thompson", "epsilon_greedy", "fixed"):
        shares = policy.allocate(Policy(name, epsilon=0.0, min_share=0.05, max_share=0.8), VARIANTS, stats)
        assert min(shares.values()) >= 0.05 - 1e-9
        assert max(shares.values()) <= 0.8 + 1e-9
        assert sum(shares.values()) == pytest.approx(1.0)
    unbounded = policy.allocate(Policy("thompson"), VARIANTS, stats)
    assert unbounded["a"] > 0.99


def test_a_small_segment_follows_the_global_model_a_large_one_its_own() -> None:
    overall = {"a": Arm(2000, 1400.0, 1400.0), "b": Arm(2000, 1000.0, 1000.0)}
    rules = Policy("thompson")
    small = policy.allocate(rules, ["a", "b"], {"b": Arm(2, 2.0, 2.0)}, prior=overall)
    assert small["a"] > 0.6  # two lucky ratings do not overturn 4000
    large = policy.allocate(rules, ["a", "b"], {"a": Arm(300, 90.0, 90.0), "b": Arm(300, 240.0, 240.0)}, prior=overall)
    assert large["b"] > 0.99


def test_sticky_draw_and_pick_are_stable() -> None:
    u = policy.unit_draw("exp", "user-1")
    assert 0 <= u < 1 and u == policy.unit_draw("exp", "user-1") != policy.unit_draw("exp", "user-2")
    assert policy.pick({"a": 0.25, "b": 0.75}, 0.2) == "a"
    assert policy.pick({"a": 0.25, "b": 0.75}, 0.25) == "b"
    assert policy.pick({"a": 0.25, "b": 0.75}, 0.9999999) == "b"


def _log(rng: random.Random, size: int) -> list[tuple[str, str, float, float]]:
    """A logged adaptive experiment: segment x (70% of users) is served "a" with probability 0.9, segment y
    only 0.2; "a" earns 0.8 in x and 0.2 in y, "b" 0.5 everywhere. (segment, variant, probability, reward)"""
    out = []
    for _ in range(size):
        segment = "x" if rng.random() < 0.7 else "y"
        p_a = 0.9 if segment == "x" else 0.2
        variant = "a" if rng.random() < p_a else "b"
        probability = p_a if variant == "a" else 1 - p_a
        rate = {"x": 0.8, "y": 0.2}[segment] if variant == "a" else 0.5
        out.append((segment, variant, probability, 1.0 if rng.random() < rate else 0.0))
    return out


def _cells(log: list[tuple[str, str, float, float]]) -> dict[str, Rewards]:
    cells = {}
    for variant in ("a", "b"):
        rows = [(p, r) for _, v, p, r in log if v == variant]
        w = np.array([1 / p for p, _ in rows])
        r = np.array([r for _, r in rows])
        cells[variant] = Rewards(
            None, variant, len(rows), len(rows), r.sum(), (r * r).sum(), False, len(rows),
            w.sum(), (w * r).sum(), (w * w).sum(), (w * w * r).sum(), (w * w * r * r).sum(),
        )  # fmt: skip
    return cells


def test_inverse_propensity_estimates_are_unbiased_where_the_plain_mean_is_not() -> None:
    truth_a = 0.7 * 0.8 + 0.3 * 0.2  # the value of serving "a" to everyone: 0.62
    rng = random.Random(5)
    plain, ips, snips, covered = [], [], [], 0
    for _ in range(300):
        log = _log(rng, 400)
        cell = _cells(log)["a"]
        estimate = ips_estimates(cell, len(log))
        plain.append(cell.total / cell.n)
        ips.append(estimate["ips"])
        snips.append(estimate["snips"])
        covered += estimate["ips_ci_low"] <= truth_a <= estimate["ips_ci_high"]
    assert abs(np.mean(plain) - truth_a) > 0.08  # "a" is mostly served where it does well
    assert np.mean(ips) == pytest.approx(truth_a, abs=0.01)
    assert np.mean(snips) == pytest.approx(truth_a, abs=0.01)
    assert 0.9 <= covered / 300 <= 0.99  # the 95% interval covers about 95% of the time


def test_a_recommendation_needs_separated_intervals() -> None:
    def row(variant: str, mean: float, low: float, high: float, count: int = 50) -> dict[str, object]:
        return {"variant": variant, "mean": mean, "ci_low": low, "ci_high": high, "count": count}

    separated = [row("a", 0.8, 0.7, 0.9), row("b", 0.5, 0.4, 0.6)]
    assert recommend(separated, ["a", "b"], True)["action"] == "promote"
    assert recommend(separated, ["a", "b"], False) == {
        "action": "promote",
        "variant": "b",
        "reason": "b's interval [0.400, 0.600] is below every other variant's",
    }
    overlapping = [row("a", 0.8, 0.55, 0.9), row("b", 0.5, 0.4, 0.6)]
    assert recommend(overlapping, ["a", "b"], True)["action"] == "continue"
    few = [row("a", 0.8, 0.7, 0.9, count=5), row("b", 0.5, 0.4, 0.6)]
    assert recommend(few, ["a", "b"], True)["action"] == "continue"
