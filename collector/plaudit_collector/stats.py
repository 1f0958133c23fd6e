"""Confidence intervals, tests and power estimates from sufficient statistics (n, sum, sum of squares)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats

CONFIDENCE = 0.95
ALPHA = 1 - CONFIDENCE


@dataclass(frozen=True)
class Summary:
    """A group's ratings reduced to what the interval and the tests need."""

    n: int
    total: float
    total_sq: float

    @property
    def mean(self) -> float | None:
        return self.total / self.n if self.n else None

    @property
    def variance(self) -> float:
        """Unbiased sample variance (0 for fewer than two ratings)."""
        if self.n < 2:
            return 0.0
        return max((self.total_sq - self.total * self.total / self.n) / (self.n - 1), 0.0)


def wilson(summary: Summary, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval for a proportion: honest at small n and near 0 or 1."""
    n = summary.n
    p = summary.total / n
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def t_interval(summary: Summary, confidence: float = CONFIDENCE) -> tuple[float | None, float | None]:
    """Student-t interval for a mean; undefined (None) with fewer than two ratings."""
    if summary.n < 2:
        return None, None
    mean = summary.total / summary.n
    half = float(stats.t.ppf(0.5 + confidence / 2, summary.n - 1)) * math.sqrt(summary.variance / summary.n)
    return mean - half, mean + half


def interval(summary: Summary, method: str) -> tuple[float | None, float | None]:
    if summary.n == 0:
        return None, None
    return wilson(summary) if method == "wilson" else t_interval(summary)


def p_value(a: Summary, b: Summary, method: str) -> float:
    """Two-sided p-value for 'the means differ': two-proportion z-test or Welch's t-test."""
    if a.n < 2 or b.n < 2:
        return 1.0
    if method == "wilson":
        pooled = (a.total + b.total) / (a.n + b.n)
        se = math.sqrt(pooled * (1 - pooled) * (1 / a.n + 1 / b.n))
        if se == 0:
            return 1.0 if a.total / a.n == b.total / b.n else 0.0
        z = (a.total / a.n - b.total / b.n) / se
        return float(2 * stats.norm.sf(abs(z)))
    sa, sb = math.sqrt(a.variance), math.sqrt(b.variance)
    if sa == 0 and sb == 0:
        return 1.0 if a.mean == b.mean else 0.0
    result = stats.ttest_ind_from_stats(a.mean, sa, a.n, b.mean, sb, b.n, equal_var=False)
    return float(result.pvalue)


def holm(p_values: list[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (same order as given)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def needed_per_group(a: Summary, b: Summary, method: str, power: float = 0.8) -> int | None:
    """Ratings per group needed to separate a from b at the observed difference (normal approximation)."""
    if a.mean is None or b.mean is None:
        return None
    diff = abs(a.mean - b.mean)
    if diff == 0:
        return None
    if method == "wilson":
        var = a.mean * (1 - a.mean) + b.mean * (1 - b.mean)
    else:
        var = a.variance + b.variance
    if var <= 0:
        return None
    z = float(stats.norm.ppf(1 - ALPHA / 2) + stats.norm.ppf(power))
    return math.ceil(z * z * var / (diff * diff))
