"""Intervals, tests, power, agreement and Bradley–Terry, from aggregates SQL already computed.

Every function takes sufficient statistics (counts, sums, sums of squares, value tables) so the rows
never leave the database; SciPy supplies the distributions.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np


CONFIDENCE = 0.95
ALPHA = 1 - CONFIDENCE
Z = 1.959963984540054
"""``scipy.stats.norm.ppf(0.5 + CONFIDENCE / 2)``, written out so that importing this module does not load SciPy."""


@dataclass(frozen=True)
class Summary:
    """A group's per-item scores reduced to what intervals and tests need.

    ``n`` counts rated items (a span, or a session for session-level feedback); each item's score is
    already the mean of its raters, so items weigh equally however many people rated them.
    """

    n: int
    total: float
    total_sq: float

    @property
    def mean(self) -> float | None:
        return self.total / self.n if self.n else None

    @property
    def variance(self) -> float:
        """Unbiased sample variance (0 for fewer than two items)."""
        if self.n < 2:
            return 0.0
        return max((self.total_sq - self.total * self.total / self.n) / (self.n - 1), 0.0)

    @property
    def se(self) -> float:
        return math.sqrt(self.variance / self.n) if self.n else math.inf


def wilson(summary: Summary, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval for a proportion: honest at small n and near 0 or 1.

    Items averaged over several raters contribute fractional successes; their variance is below the
    Bernoulli one, so the interval is then slightly conservative.
    """
    from scipy import stats

    n = summary.n
    p = min(max(summary.total / n, 0.0), 1.0)
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def t_interval(summary: Summary, confidence: float = CONFIDENCE) -> tuple[float | None, float | None]:
    """Student-t interval for a mean; undefined (None) with fewer than two items."""
    from scipy import stats

    if summary.n < 2:
        return None, None
    mean = summary.total / summary.n
    half = float(stats.t.ppf(0.5 + confidence / 2, summary.n - 1)) * summary.se
    return mean - half, mean + half


def interval(summary: Summary, method: str, confidence: float = CONFIDENCE) -> tuple[float | None, float | None]:
    if summary.n == 0:
        return None, None
    return wilson(summary, confidence) if method == "wilson" else t_interval(summary, confidence)


def two_proportion_p(a: Summary, b: Summary) -> float:
    """Two-sided pooled z-test for two proportions."""
    from scipy import stats

    if a.n == 0 or b.n == 0:
        return 1.0
    pooled = (a.total + b.total) / (a.n + b.n)
    se = math.sqrt(max(pooled * (1 - pooled), 0.0) * (1 / a.n + 1 / b.n))
    diff = a.total / a.n - b.total / b.n
    if se == 0:
        return 1.0 if diff == 0 else 0.0
    return float(2 * stats.norm.sf(abs(diff / se)))


def welch(a: Summary, b: Summary) -> tuple[float, float, float]:
    """Welch's t-test: (p-value, standard error of the difference, degrees of freedom)."""
    from scipy import stats

    va, vb = a.variance / a.n, b.variance / b.n
    se = math.sqrt(va + vb)
    diff = (a.mean or 0.0) - (b.mean or 0.0)
    if se == 0:
        return (1.0 if diff == 0 else 0.0), 0.0, float(a.n + b.n - 2)
    df = (va + vb) ** 2 / ((va * va / (a.n - 1) if a.n > 1 else 0.0) + (vb * vb / (b.n - 1) if b.n > 1 else 0.0))
    p = float(2 * stats.t.sf(abs(diff / se), df))
    return p, se, df


def p_value(a: Summary, b: Summary, method: str) -> float:
    """Two-sided p-value for 'the means differ': two-proportion z-test or Welch's t-test."""
    if a.n < 2 or b.n < 2:
        return 1.0
    if method == "wilson":
        return two_proportion_p(a, b)
    return welch(a, b)[0]


def newcombe(a: Summary, b: Summary, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Newcombe's hybrid score interval for a difference of proportions (from the two Wilson intervals)."""
    pa, pb = a.total / a.n, b.total / b.n
    la, ua = wilson(a, confidence)
    lb, ub = wilson(b, confidence)
    diff = pa - pb
    low = diff - math.sqrt((pa - la) ** 2 + (ub - pb) ** 2)
    high = diff + math.sqrt((ua - pa) ** 2 + (pb - lb) ** 2)
    return low, high


@functools.cache
def _gauss_legendre() -> tuple[Any, Any]:
    """A 400-point Gauss–Legendre rule on [-1, 1], made on first use so that importing this module stays light."""
    import numpy as np

    return np.polynomial.legendre.leggauss(400)


def prob_beta_greater(a: Summary, b: Summary) -> float:
    """P(rate A > rate B) under independent Beta(1 + successes, 1 + failures) posteriors (uniform priors).

    Integrates the narrower posterior's density times the other's distribution function over where the
    narrower one has mass (a 400-point Gauss–Legendre rule): the time does not grow with the ratings, as an
    adaptive rule over [0, 1] chasing a narrow peak does."""
    import numpy as np
    from scipy import stats

    post_a = stats.beta(1 + a.total, 1 + a.n - a.total)
    post_b = stats.beta(1 + b.total, 1 + b.n - b.total)
    a_narrower = float(post_a.std()) <= float(post_b.std())
    inner, outer = (post_a, post_b) if a_narrower else (post_b, post_a)
    low, high = float(inner.ppf(1e-15)), float(inner.ppf(1 - 1e-15))
    nodes, weights = _gauss_legendre()
    x = (high - low) / 2 * nodes + (high + low) / 2
    inner_wins = float((high - low) / 2 * np.sum(weights * inner.pdf(x) * outer.cdf(x)))
    value = inner_wins if a_narrower else 1.0 - inner_wins
    return min(max(value, 0.0), 1.0)


def prob_normal_greater(a: Summary, b: Summary) -> float:
    """P(mean A > mean B) with normal approximations to both posteriors (flat priors)."""
    from scipy import stats

    diff = (a.mean or 0.0) - (b.mean or 0.0)
    se = math.sqrt(a.variance / a.n + b.variance / b.n)
    if se == 0:
        return 0.5 if diff == 0 else float(diff > 0)
    return float(stats.norm.cdf(diff / se))


def mann_whitney(values_a: Any, counts_a: Any, values_b: Any, counts_b: Any) -> tuple[float, float]:
    """Mann–Whitney U test from value/count tables: (two-sided p, P(A > B) + ½·P(A = B))."""
    import numpy as np
    from scipy import stats

    xa = np.repeat(np.asarray(values_a, dtype=float), np.asarray(counts_a, dtype=np.int64))
    xb = np.repeat(np.asarray(values_b, dtype=float), np.asarray(counts_b, dtype=np.int64))
    if len(xa) == 0 or len(xb) == 0:
        return 1.0, 0.5
    if np.all(xa == xa[0]) and np.all(xb == xa[0]):
        return 1.0, 0.5
    result = stats.mannwhitneyu(xa, xb, alternative="two-sided", method="asymptotic")
    return float(result.pvalue), float(result.statistic) / (len(xa) * len(xb))


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


def benjamini_hochberg(p_values: list[float]) -> list[float]:
    """Benjamini–Hochberg adjusted p-values (false discovery rate), same order as given."""
    import numpy as np
    from scipy import stats

    if not p_values:
        return []
    return [float(p) for p in stats.false_discovery_control(np.asarray(p_values, dtype=float), method="bh")]


def adjust(p_values: list[float], correction: str) -> list[float]:
    return benjamini_hochberg(p_values) if correction == "bh" else holm(p_values)


def needed_per_group(
    a: Summary, b: Summary, method: str, *, comparisons: int = 1, power: float = 0.8, alpha: float = ALPHA
) -> int | None:
    """Items per group needed to separate a from b at the observed difference.

    Normal approximation for a two-sided test at alpha / comparisons (Bonferroni: the bound Holm
    reaches when every comparison is needed) with the given power.
    """
    from scipy import stats

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
    alpha = alpha / max(comparisons, 1)
    z = float(stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power))
    return math.ceil(z * z * var / (diff * diff))


# ---------------------------------------------------------------- agreement


@dataclass(frozen=True)
class Kappa:
    kappa: float | None
    ci_low: float | None
    ci_high: float | None
    observed_agreement: float
    weighted_kappa: float | None


def cohen_kappa(table: np.ndarray, ordinal: bool = False) -> Kappa:
    """Cohen's kappa for a square confusion table (rater A rows, rater B columns), with a large-sample
    95% interval; with ``ordinal`` also the quadratic-weighted kappa."""
    import numpy as np

    table = np.asarray(table, dtype=float)
    n = table.sum()
    if n == 0:
        return Kappa(None, None, None, 0.0, None)
    p = table / n
    po = float(np.trace(p))
    rows, cols = p.sum(axis=1), p.sum(axis=0)
    pe = float(rows @ cols)
    weighted = None
    if ordinal and len(table) > 1:
        k = len(table)
        idx = np.arange(k)
        w = 1 - (idx[:, None] - idx[None, :]) ** 2 / (k - 1) ** 2
        pow_ = float((w * p).sum())
        pew = float((w * np.outer(rows, cols)).sum())
        weighted = None if pew == 1 else (pow_ - pew) / (1 - pew)
    if pe == 1:
        return Kappa(None, None, None, po, weighted)
    kappa = (po - pe) / (1 - pe)
    se = math.sqrt(max(po * (1 - po), 0.0) / (n * (1 - pe) ** 2))
    return Kappa(kappa, kappa - Z * se, kappa + Z * se, po, weighted)


def spearman_from_pairs(xs: Any, ys: Any, counts: Any) -> tuple[float | None, float | None]:
    """Spearman's rho (and its p-value) for paired values given with multiplicities."""
    import numpy as np
    from scipy import stats

    reps = np.asarray(counts, dtype=np.int64)
    x = np.repeat(np.asarray(xs, dtype=float), reps)
    y = np.repeat(np.asarray(ys, dtype=float), reps)
    if len(x) < 3 or np.all(x == x[0]) or np.all(y == y[0]):
        return None, None
    result = stats.spearmanr(x, y)
    return float(result.statistic), float(result.pvalue)


# ---------------------------------------------------------------- pairwise preferences


@dataclass(frozen=True)
class BradleyTerry:
    strength: np.ndarray
    """Log-strengths, centred to mean zero."""
    se: np.ndarray
    """Standard errors from the Fisher information (under the mean-zero constraint)."""


def bradley_terry(wins: np.ndarray, iterations: int = 10_000, tol: float = 1e-10) -> BradleyTerry:
    """Fit Bradley–Terry strengths to a win matrix (``wins[i, j]`` = times i beat j; a tie adds ½ to both)
    by Hunter's MM algorithm; intervals from the observed Fisher information.

    A small pseudo-count (0.5 of a tie against every other item) keeps the MLE finite when an item never
    wins or never loses; its effect vanishes as comparisons accumulate.
    """
    import numpy as np

    k = len(wins)
    w = np.asarray(wins, dtype=float).copy()
    np.fill_diagonal(w, 0.0)
    prior = 0.25 * (np.ones((k, k)) - np.eye(k))
    w = w + prior
    games = w + w.T
    total_wins = w.sum(axis=1)
    p = np.ones(k)
    for _ in range(iterations):
        denom = (games / (p[:, None] + p[None, :])).sum(axis=1)
        new = total_wins / denom
        new /= np.exp(np.mean(np.log(new)))
        if np.max(np.abs(new - p)) < tol:
            p = new
            break
        p = new
    beta = np.log(p)
    beta -= beta.mean()
    prob = 1 / (1 + np.exp(-(beta[:, None] - beta[None, :])))
    info = games * prob * prob.T
    np.fill_diagonal(info, 0.0)
    fisher = np.diag(info.sum(axis=1)) - info
    cov = np.linalg.pinv(fisher)
    se = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    return BradleyTerry(beta, se)
