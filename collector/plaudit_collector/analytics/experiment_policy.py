"""The allocation policies of experiments: fixed split, epsilon-greedy and Thompson sampling.

Pure numbers in, numbers out (no database): the collector turns each experiment's rewards into per-variant
probabilities here, the SDK and the REST assignment both sample from those same probabilities, and the
report reads its probability of being best and expected loss from the same posteriors.

Rewards are already oriented (higher is better; see :func:`oriented`). Only rated choices count: a choice
whose feedback has not arrived, or never will, is no observation at all, never a loss.

Thompson sampling serves each variant with the probability that it is the best one under the posterior:
Beta–Bernoulli for yes/no scores (uniform prior), Normal for numeric scores (the pooled spread of the data,
a one-observation prior at the overall mean). Per segment, each variant's prior is the global posterior
mean worth up to :data:`POOL` observations, so a segment with little data follows the global model and one
with much data its own. Every policy's shares are then bounded: at least ``min_share`` (the exploration
floor, which keeps every logged probability away from zero) and at most ``max_share`` each.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


BERNOULLI = "bernoulli"
NORMAL = "normal"
POLICIES = ("thompson", "epsilon_greedy", "fixed")
POOL = 10.0
"""How many observations the global model is worth inside a segment (less while the global model has fewer)."""
DRAWS = 4000
"""Posterior draws behind each probability of being best (standard error at most 0.008)."""


@dataclass(frozen=True)
class Arm:
    """A variant's rated choices, as sufficient statistics of the oriented reward."""

    n: int = 0
    total: float = 0.0
    total_sq: float = 0.0

    @property
    def mean(self) -> float | None:
        return self.total / self.n if self.n else None

    def __add__(self, other: Arm) -> Arm:
        return Arm(self.n + other.n, self.total + other.total, self.total_sq + other.total_sq)


def oriented(n: int, total: float, total_sq: float, reward: str, higher_is_better: bool) -> Arm:
    """Raw score statistics as rewards where higher is better: a yes becomes a no (1 - x) and a numeric
    score its negative when lower scores are better."""
    if higher_is_better:
        return Arm(n, total, total_sq)
    if reward == BERNOULLI:
        return Arm(n, n - total, n - 2 * total + total_sq)
    return Arm(n, -total, total_sq)


@dataclass(frozen=True)
class Policy:
    """An experiment's policy and its bounds."""

    name: str = "thompson"
    epsilon: float = 0.1
    min_share: float = 0.0
    max_share: float = 1.0
    reward: str = BERNOULLI


@dataclass(frozen=True)
class Posterior:
    """Per-variant posterior draws of the mean reward (``draws`` x variants), in the variants' order."""

    variants: tuple[str, ...]
    means: np.ndarray
    draws: np.ndarray
    params: tuple[tuple[float, float], ...]
    """Each variant's two posterior parameters: when all are equal, so are the chances, exactly."""

    def prob_best(self) -> dict[str, float]:
        import numpy as np

        if not self.variants:
            return {}
        if len(set(self.params)) == 1:
            return {v: 1 / len(self.variants) for v in self.variants}
        wins = np.bincount(np.argmax(self.draws, axis=1), minlength=len(self.variants)) / self.draws.shape[0]
        return {v: float(w) for v, w in zip(self.variants, wins, strict=True)}

    def expected_loss(self) -> dict[str, float]:
        """E[best mean - this variant's mean]: the reward given up per choice by serving it."""
        if not self.variants:
            return {}
        best = self.draws.max(axis=1, keepdims=True)
        loss = (best - self.draws).mean(axis=0)
        return {v: float(x) for v, x in zip(self.variants, loss, strict=True)}


def noise_variance(arms: Sequence[Arm]) -> float:
    """The spread of one rating, pooled within variants; from all ratings together while too few repeat."""
    df = sum(a.n - 1 for a in arms if a.n > 1)
    if df >= 2:
        within = sum(a.total_sq - a.total * a.total / a.n for a in arms if a.n > 1)
        return max(within / df, 1e-6)
    pooled = sum(arms, Arm())
    if pooled.n >= 2:
        return max((pooled.total_sq - pooled.total * pooled.total / pooled.n) / (pooled.n - 1), 1e-6)
    return 1.0


def posterior(
    variants: Sequence[str],
    stats: Mapping[str, Arm],
    reward: str,
    *,
    prior: Mapping[str, Arm] | None = None,
    noise: float | None = None,
    seed: int = 0,
    draws: int = DRAWS,
) -> Posterior:
    """Posterior draws for each variant from its ``stats``; ``prior`` (the global statistics) pools a segment
    toward the global model. ``noise`` is the variance of one rating (Normal rewards; estimated when None)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    k = len(variants)
    out = np.empty((draws, k))
    means = np.empty(k)
    params: list[tuple[float, float]] = []
    pool_source = prior if prior is not None else stats
    if reward == BERNOULLI:
        for i, name in enumerate(variants):
            own = stats.get(name, Arm())
            alpha, beta = 1.0 + own.total, 1.0 + own.n - own.total
            base = prior.get(name) if prior is not None else None
            if base is not None and base.n:
                weight = min(POOL, float(base.n))
                rate = min(max(base.total / base.n, 0.0), 1.0)
                alpha, beta = alpha + weight * rate, beta + weight * (1 - rate)
            alpha, beta = max(alpha, 1e-9), max(beta, 1e-9)
            means[i] = alpha / (alpha + beta)
            params.append((alpha, beta))
            out[:, i] = rng.beta(alpha, beta, size=draws)
        return Posterior(tuple(variants), means, out, tuple(params))
    sigma2 = noise if noise is not None else noise_variance(list(pool_source.values()))
    everything = sum(pool_source.values(), Arm())
    overall = everything.mean if everything.n else 0.0
    for i, name in enumerate(variants):
        own = stats.get(name, Arm())
        base = prior.get(name) if prior is not None else None
        if base is not None and base.n:
            weight, centre = min(POOL, float(base.n)), base.total / base.n
        else:
            weight, centre = 1.0, overall
        mean = (weight * centre + own.total) / (weight + own.n)
        means[i] = mean
        sd = math.sqrt(sigma2 / (weight + own.n))
        params.append((mean, sd))
        out[:, i] = rng.normal(mean, sd, size=draws)
    return Posterior(tuple(variants), means, out, tuple(params))


def estimate_posterior(estimates: Mapping[str, tuple[float, float]], *, seed: int = 0, draws: int = DRAWS) -> Posterior:
    """Normal draws around point estimates: variant → (oriented estimate, its standard error)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    names = tuple(estimates)
    out = np.empty((draws, len(names)))
    for i, name in enumerate(names):
        mean, se = estimates[name]
        out[:, i] = rng.normal(mean, max(se, 1e-12), size=draws)
    params = tuple((float(m), float(se)) for m, se in estimates.values())
    return Posterior(names, np.array([m for m, _ in estimates.values()]), out, params)


def bound_shares(shares: Mapping[str, float], min_share: float, max_share: float) -> dict[str, float]:
    """``shares`` made to sum to one with each between ``min_share`` and ``max_share``.

    The result is ``clip(c * share, min_share, max_share)`` for the one scale ``c`` that makes it sum to one:
    variants not at a bound keep their proportions. Bounds no split could meet (a floor above 1/k, a cap
    below 1/k) are relaxed to 1/k.
    """
    import numpy as np

    names = list(shares)
    k = len(names)
    if k == 0:
        return {}
    low, high = min(max(min_share, 0.0), 1 / k), max(min(max_share, 1.0), 1 / k)
    raw = np.array([max(float(shares[n]), 0.0) for n in names])
    if not np.isfinite(raw).all() or raw.sum() <= 0:
        raw = np.ones(k)
    raw = raw / raw.sum() + 1e-12  # a variant with no chance at all can still be lifted to the floor

    def total(log_c: float) -> float:
        return float(np.clip(math.exp(log_c) * raw, low, high).sum())

    lo, hi = -40.0, 40.0  # the sum grows with c, from k * low (<= 1) to k * high (>= 1)
    for _ in range(100):
        mid = (lo + hi) / 2
        if total(mid) < 1.0:
            lo = mid
        else:
            hi = mid
    values = np.clip(math.exp(hi) * raw, low, high)
    values = values / values.sum()
    return {n: float(v) for n, v in zip(names, values, strict=True)}


def allocate(
    policy: Policy,
    variants: Sequence[str],
    stats: Mapping[str, Arm],
    *,
    prior: Mapping[str, Arm] | None = None,
    weights: Mapping[str, float] | None = None,
    noise: float | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """The probability of serving each variant next, under ``policy``, bounded by its floor and cap."""
    import numpy as np

    if not variants:
        return {}
    if policy.name == "fixed":
        shares = {v: float((weights or {}).get(v, 1.0)) for v in variants}
    elif policy.name == "epsilon_greedy":
        post = posterior(variants, stats, policy.reward, prior=prior, noise=noise, seed=seed, draws=1)
        top = float(np.max(post.means))
        best = [v for v, m in zip(variants, post.means, strict=True) if m >= top - 1e-12]
        eps = min(max(policy.epsilon, 0.0), 1.0)
        shares = {v: eps / len(variants) + ((1 - eps) / len(best) if v in best else 0.0) for v in variants}
    else:
        shares = posterior(variants, stats, policy.reward, prior=prior, noise=noise, seed=seed).prob_best()
    return bound_shares(shares, policy.min_share, policy.max_share)


def pick(probabilities: Mapping[str, float], u: float) -> str | None:
    """The variant whose slice of [0, 1) holds ``u``, slices in the order given (the SDK does the same)."""
    chosen = None
    edge = 0.0
    for name, p in probabilities.items():
        chosen = name
        edge += p
        if u < edge:
            return name
    return chosen


def unit_draw(experiment: str, unit: str) -> float:
    """A sticky unit's fixed point in [0, 1): the same in the collector and the SDK for the same state."""
    digest = hashlib.sha256(f"{experiment}\x1f{unit}".encode("utf-8", "surrogatepass")).hexdigest()
    return int(digest[:13], 16) / 16**13


def seed_of(*parts: object) -> int:
    """A stable seed from the experiment and what was observed, so a state is reproducible."""
    return int(hashlib.sha256("\x1f".join(map(str, parts)).encode("utf-8", "surrogatepass")).hexdigest()[:15], 16)
