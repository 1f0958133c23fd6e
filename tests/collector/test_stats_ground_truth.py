"""The statistics on data with known truth: coverage of intervals, corrections, power, kappa, Bradley–Terry."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from plaudit_collector.analytics import stats
from plaudit_collector.analytics.stats import Summary


def _summary(values: np.ndarray) -> Summary:
    return Summary(len(values), float(values.sum()), float((values * values).sum()))


def test_wilson_intervals_cover_the_true_rate_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(1)
    for rate, n in ((0.05, 40), (0.5, 30), (0.9, 200)):
        hits = 0
        for _ in range(2000):
            low, high = stats.wilson(_summary(rng.random(n) < rate))
            hits += low <= rate <= high
        assert 0.93 <= hits / 2000 <= 0.985, (rate, n, hits)


def test_t_intervals_cover_the_true_mean_and_match_scipy() -> None:
    rng = np.random.default_rng(2)
    hits = 0
    for _ in range(2000):
        sample = rng.normal(3.5, 1.2, 25)
        low, high = stats.t_interval(_summary(sample))
        hits += low <= 3.5 <= high
    assert 0.935 <= hits / 2000 <= 0.965
    sample = rng.normal(0, 1, 10)
    expected = sps.t.interval(0.95, 9, loc=sample.mean(), scale=sps.sem(sample))
    assert stats.t_interval(_summary(sample)) == pytest.approx(expected)
    assert stats.t_interval(Summary(1, 4.0, 16.0)) == (None, None)


def test_welch_and_two_proportion_match_scipy() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(1.0, 1.0, 30), rng.normal(1.5, 2.0, 45)
    assert stats.welch(_summary(a), _summary(b))[0] == pytest.approx(sps.ttest_ind(a, b, equal_var=False).pvalue)
    sa, sb = Summary(100, 80, 80), Summary(100, 50, 50)
    table = np.array([[80, 20], [50, 50]])
    chi2 = sps.chi2_contingency(table, correction=False)
    assert stats.two_proportion_p(sa, sb) == pytest.approx(chi2.pvalue)
    low, high = stats.newcombe(sa, sb)
    assert low < 0.3 < high
    # Newcombe (1998), Statistics in Medicine 17:873, worked example 56/70 − 48/80, method 10
    assert stats.newcombe(Summary(70, 56, 56), Summary(80, 48, 48)) == pytest.approx((0.0524, 0.3339), abs=1e-4)


def test_mann_whitney_from_value_tables_equals_the_raw_test() -> None:
    a = np.array([5] * 30 + [4] * 20 + [3] * 10)
    b = np.array([4] * 20 + [3] * 20 + [2] * 20)
    p, effect = stats.mann_whitney([5, 4, 3], [30, 20, 10], [4, 3, 2], [20, 20, 20])
    raw = sps.mannwhitneyu(a, b, alternative="two-sided", method="asymptotic")
    assert p == pytest.approx(raw.pvalue)
    assert effect == pytest.approx(raw.statistic / (len(a) * len(b)))


def test_bayesian_probability_that_a_beats_b() -> None:
    rng = np.random.default_rng(4)
    a, b = Summary(40, 30, 30), Summary(40, 22, 22)
    draws = (rng.beta(31, 11, 400_000) > rng.beta(23, 19, 400_000)).mean()
    assert stats.prob_beta_greater(a, b) == pytest.approx(draws, abs=3e-3)
    assert stats.prob_beta_greater(a, a) == pytest.approx(0.5, abs=1e-6)
    same = Summary(20, 60.0, 200.0)
    assert stats.prob_normal_greater(same, same) == pytest.approx(0.5)


def test_holm_and_benjamini_hochberg() -> None:
    p = [0.01, 0.04, 0.03, 0.005]
    assert stats.holm(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert stats.benjamini_hochberg(p) == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert stats.adjust(p, "bh") == stats.benjamini_hochberg(p)


def test_the_power_estimate_gives_about_80_percent_power() -> None:
    a, b = Summary(50, 35, 35), Summary(50, 30, 30)  # 0.70 vs 0.60
    n = stats.needed_per_group(a, b, "wilson")
    assert n is not None and 300 < n < 400
    rng = np.random.default_rng(5)
    detected = 0
    for _ in range(1000):
        xa, xb = rng.random(n) < 0.7, rng.random(n) < 0.6
        detected += stats.two_proportion_p(_summary(xa), _summary(xb)) < 0.05
    assert 0.75 <= detected / 1000 <= 0.86
    assert stats.needed_per_group(a, b, "wilson", comparisons=3) > n  # Bonferroni level for 3 rivals
    assert stats.needed_per_group(a, a, "wilson") is None


def test_cohen_kappa_on_a_constructed_table() -> None:
    result = stats.cohen_kappa(np.array([[20, 5], [10, 15]]))
    assert result.kappa == pytest.approx(0.4)
    assert result.observed_agreement == pytest.approx(0.7)
    assert result.ci_low < 0.4 < result.ci_high
    assert stats.cohen_kappa(np.diag([10, 7, 3])).kappa == pytest.approx(1.0)
    weighted = stats.cohen_kappa(np.array([[5, 2, 0], [1, 6, 1], [0, 2, 8]]), ordinal=True)
    assert weighted.weighted_kappa > weighted.kappa


def test_bradley_terry_recovers_known_strengths() -> None:
    truth = np.log(np.array([4.0, 2.0, 1.0, 0.5]))
    truth -= truth.mean()
    rng = np.random.default_rng(6)
    k = len(truth)
    wins = np.zeros((k, k))
    for i in range(k):
        for j in range(i + 1, k):
            p = 1 / (1 + math.exp(-(truth[i] - truth[j])))
            won = rng.binomial(400, p)
            wins[i, j] += won
            wins[j, i] += 400 - won
    fit = stats.bradley_terry(wins)
    assert list(np.argsort(-fit.strength)) == [0, 1, 2, 3]
    assert np.all(np.abs(fit.strength - truth) <= 1.96 * fit.se + 1e-9)
    assert np.all(fit.se > 0)
