"""Prediction-powered inference (PPI++) for a mean: many judge ratings, corrected by a few human ones.

For a group with ``n`` items rated by humans *and* the judge (labelled: human score Y, judge score F) and ``N``
more items rated by the judge alone (U), the estimate is

    θ̂ = λ·mean(U) + mean(Y − λ·F)

— the judge's mean, corrected by the human-minus-judge difference where both rated. Its variance is
``λ²·Var(U)/N + Var(Y − λF)/n``; the 95% interval uses Student t with n − 1 degrees of freedom (the
reference implementation uses the normal quantile; they agree as n grows, and t keeps the coverage honest with
few human ratings). λ is PPI++'s power-tuning parameter
(Angelopoulos, Duchi & Zrnic, 2023, "PPI++: Efficient Prediction-Powered Inference", eq. for the mean):

    λ̂ = Cov(Y, F) / ((1 + n/N)·Var(F ∪ U)),  clipped to [0, 1]

the same estimator as the reference implementation (``ppi_py.ppi_mean_ci``, ``lam=None``). λ = 0 is the
human-only mean; λ = 1 is classic PPI. Should the estimated variance at λ̂ exceed the human-only one (small
or odd samples), λ = 0 is used instead, so the interval is never wider than the human-only normal interval.

Every function takes sums (SQL computes them), never rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from plaudit_collector.analytics.stats import ALPHA, CONFIDENCE


@dataclass(frozen=True)
class Paired:
    """Sufficient statistics of one group: labelled pairs (Y human, F judge) and judge-only ratings U."""

    n: int
    sum_y: float
    sum_yy: float
    sum_f: float
    sum_ff: float
    sum_yf: float
    big_n: int
    sum_u: float
    sum_uu: float

    @classmethod
    def from_arrays(cls, y: Sequence[float], f: Sequence[float], u: Sequence[float]) -> Paired:
        import numpy as np

        ya, fa, ua = (np.asarray(v, dtype=float) for v in (y, f, u))
        return cls(
            len(ya),
            float(ya.sum()),
            float((ya * ya).sum()),
            float(fa.sum()),
            float((fa * fa).sum()),
            float((ya * fa).sum()),
            len(ua),
            float(ua.sum()),
            float((ua * ua).sum()),
        )


@dataclass(frozen=True)
class Estimate:
    """A PPI++ mean with its normal interval; the variance parts let callers ask "how many more humans?"."""

    mean: float
    se: float | None
    ci_low: float | None
    ci_high: float | None
    lam: float
    n: int
    big_n: int
    rect_var: float
    """Per-item variance of Y − λF over the labelled items (divides by n)."""
    imp_var: float
    """Per-item variance of λU over the judge-only items (divides by N)."""

    def se_with(self, more: int) -> float:
        """The standard error if ``more`` judge-only items were also rated by humans (λ and variances held)."""
        n, big_n = self.n + more, self.big_n - more
        imputed = self.imp_var / big_n if big_n > 0 else 0.0
        return math.sqrt(imputed + self.rect_var / n) if n > 0 else math.inf


def quantile(n: int, confidence: float = CONFIDENCE) -> float:
    """Student t with n − 1 degrees of freedom: the rectifier's variance is estimated from the n labelled
    items, and with few of them a normal quantile undercovers (about 80% instead of 95% at n = 5 on HANNA).
    Converges to the normal quantile of the reference implementation as n grows."""
    from scipy import stats as sps

    return float(sps.t.ppf(0.5 + confidence / 2, max(n - 1, 1)))


def ppi_mean(p: Paired, *, lam: float | None = None, confidence: float = CONFIDENCE) -> Estimate | None:
    """The PPI++ estimate of the group's human mean (λ tuned unless given); None without any labelled item."""
    n, big_n = p.n, p.big_n
    if n == 0:
        return None
    mean_y, mean_f = p.sum_y / n, p.sum_f / n
    var_y = max(p.sum_yy / n - mean_y * mean_y, 0.0)
    var_f = max(p.sum_ff / n - mean_f * mean_f, 0.0)
    cov = p.sum_yf / n - mean_y * mean_f
    var_u = max(p.sum_uu / big_n - (p.sum_u / big_n) ** 2, 0.0) if big_n else 0.0
    tuned = lam is None
    if lam is None:
        lam = _tuned_lambda(p, cov) if big_n else 0.0

    def parts(lam_: float) -> tuple[float, float]:
        rect = max(var_y + lam_ * lam_ * var_f - 2 * lam_ * cov, 0.0)
        imp = lam_ * lam_ * var_u
        return rect, imp

    rect, imp = parts(lam)
    if tuned and big_n and lam != 0.0 and imp / big_n + rect / n > var_y / n:
        lam = 0.0
        rect, imp = parts(0.0)
    mean = (lam * p.sum_u / big_n if big_n else 0.0) + (p.sum_y - lam * p.sum_f) / n
    if n < 2:
        return Estimate(mean, None, None, None, lam, n, big_n, rect, imp)
    se = math.sqrt((imp / big_n if big_n else 0.0) + rect / n)
    half = quantile(n, confidence) * se
    return Estimate(mean, se, mean - half, mean + half, lam, n, big_n, rect, imp)


def _tuned_lambda(p: Paired, cov: float) -> float:
    import numpy as np

    n, big_n = p.n, p.big_n
    total = n + big_n
    if total < 2:
        return 0.0
    mean_all = (p.sum_f + p.sum_u) / total
    var_all = (p.sum_ff + p.sum_uu - total * mean_all * mean_all) / (total - 1)
    if var_all <= 0:
        return 0.0
    return float(np.clip(cov / ((1 + n / big_n) * var_all), 0.0, 1.0))


def diff_test(a: Estimate, b: Estimate) -> tuple[float, float | None, int]:
    """For a ≠ b (independent groups): the two-sided p-value, the standard error of the difference and the
    degrees of freedom used (the smaller group's labelled items − 1: conservative)."""
    from scipy import stats as sps

    df = max(min(a.n, b.n) - 1, 1)
    if a.se is None or b.se is None:
        return 1.0, None, df
    se = math.hypot(a.se, b.se)
    diff = a.mean - b.mean
    if se == 0:
        return (1.0 if diff == 0 else 0.0), 0.0, df
    return float(2 * sps.t.sf(abs(diff) / se, df)), se, df


def more_humans_to_separate(
    a: Estimate,
    b: Estimate,
    *,
    comparisons: int = 1,
    power: float = 0.8,
    alpha: float = ALPHA,
    cap: int = 10_000_000,
) -> int | None:
    """Human ratings to add to *each* of the two groups (of items the judge already rated, then new ones)
    for a two-sided test at ``alpha`` / comparisons to separate them with ``power`` at the observed difference.
    0 when they are separated already; None when they do not differ."""
    from scipy import stats as sps

    diff = abs(a.mean - b.mean)
    if diff == 0 or a.se is None or b.se is None:
        return None
    z = float(sps.norm.ppf(1 - alpha / max(comparisons, 1) / 2) + sps.norm.ppf(power))

    def enough(k: int) -> bool:
        return z * math.hypot(a.se_with(k), b.se_with(k)) <= diff

    if enough(0):
        return 0
    high = 1
    while not enough(high):
        high *= 2
        if high > cap:
            return None
    low = high // 2
    while high - low > 1:
        middle = (low + high) // 2
        if enough(middle):
            high = middle
        else:
            low = middle
    return high
