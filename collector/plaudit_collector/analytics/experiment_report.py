"""An experiment's report, overall and per segment: traffic share over time, each variant's score with its
interval and count, its probability of being best and expected loss, the regret the allocation costs, and a
promote recommendation only when the intervals separate.

An adaptive policy serves a variant more where it did well, so a variant's plain mean describes the
choices it happened to get, not what serving it to everyone would earn. Each variant also gets the
inverse-propensity estimate (IPS: every rated choice weighed by one over the probability it had) and the
self-normalised one (SNIPS), which answer that second question from the logged probabilities.

"Better" is the experiment's own ``higher_is_better`` when set, else its score config's direction (higher
without one); the report states which it used.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from plaudit_collector.analytics import experiment_policy as policy
from plaudit_collector.analytics.core import iso, parse_time
from plaudit_collector.analytics.experiments import (
    arms_by_segment,
    direction_of,
    policy_state,
    probabilities_for,
    reward_kind,
    served,
)
from plaudit_collector.analytics.stats import Summary, Z, interval
from plaudit_collector.errors import ApiError
from plaudit_collector.store import experiment_data, experiments
from plaudit_collector.store.db import Database
from plaudit_collector.store.experiment_data import Rewards

BUCKETS = {"hour": 3600 * 10**9, "day": 86400 * 10**9}
MIN_COUNT = 10
"""Rated choices every served variant needs before a recommendation is made."""
MAX_SEGMENTS = 50


def _merge(cells: Sequence[Rewards]) -> dict[str, Rewards]:
    """Cells summed per variant (segments pooled)."""
    out: dict[str, Rewards] = {}
    for c in cells:
        seen = out.get(c.variant)
        if seen is None:
            out[c.variant] = Rewards(**{**c.__dict__, "segment": None})
            continue
        out[c.variant] = Rewards(
            segment=None,
            variant=c.variant,
            n=seen.n + c.n,
            ratings=seen.ratings + c.ratings,
            total=seen.total + c.total,
            total_sq=seen.total_sq + c.total_sq,
            numeric=seen.numeric or c.numeric,
            n_p=seen.n_p + c.n_p,
            sw=seen.sw + c.sw,
            swr=seen.swr + c.swr,
            sw2=seen.sw2 + c.sw2,
            sw2r=seen.sw2r + c.sw2r,
            sw2r2=seen.sw2r2 + c.sw2r2,
        )
    return out


def ips_estimates(cell: Rewards | None, logged: int) -> dict[str, float | None]:
    """IPS and SNIPS estimates of a variant's value with 95% intervals, from ``logged`` rated choices (all
    variants) whose probability is known. IPS's interval is the mean's over those choices; SNIPS's is the
    delta method's."""
    empty: dict[str, float | None] = dict.fromkeys(
        ("ips", "ips_ci_low", "ips_ci_high", "snips", "snips_ci_low", "snips_ci_high")
    )
    if cell is None or cell.n_p == 0 or logged == 0:
        return empty
    ips = cell.swr / logged
    out = dict(empty, ips=ips)
    if logged > 1:
        variance = max(cell.sw2r2 / logged - ips * ips, 0.0) * logged / (logged - 1)
        half = Z * math.sqrt(variance / logged)
        out.update(ips_ci_low=ips - half, ips_ci_high=ips + half)
    snips = cell.swr / cell.sw
    out["snips"] = snips
    if cell.n_p > 1:
        variance = max(cell.sw2r2 - 2 * snips * cell.sw2r + snips * snips * cell.sw2, 0.0) / (cell.sw * cell.sw)
        half = Z * math.sqrt(variance)
        out.update(snips_ci_low=snips - half, snips_ci_high=snips + half)
    return out


def recommend(
    rows: Sequence[dict[str, Any]], active: Sequence[str], higher_is_better: bool, estimate: str = "mean"
) -> dict[str, Any]:
    """Promote a variant only when its interval lies wholly on the better side of every other served one's.

    ``estimate`` is ``"mean"`` (the plain means' intervals) or ``"snips"`` (the self-normalised IPS ones)."""
    key, lo, hi = ("mean", "ci_low", "ci_high") if estimate == "mean" else ("snips", "snips_ci_low", "snips_ci_high")
    served_rows = [{**r, "mean": r[key], "ci_low": r[lo], "ci_high": r[hi]} for r in rows if r["variant"] in active]
    if len(served_rows) < 2:
        return {"action": "continue", "variant": None, "reason": "fewer than two variants are served"}
    short = [r["variant"] for r in served_rows if r["count"] < MIN_COUNT or r["ci_low"] is None]
    if short:
        return {
            "action": "continue",
            "variant": None,
            "reason": f"too few ratings yet (at least {MIN_COUNT} each): {', '.join(short)}",
        }
    sign = 1 if higher_is_better else -1
    best = max(served_rows, key=lambda r: sign * r["mean"])
    others = [r for r in served_rows if r is not best]
    if higher_is_better:
        separated = all(best["ci_low"] > r["ci_high"] for r in others)
    else:
        separated = all(best["ci_high"] < r["ci_low"] for r in others)
    if separated:
        return {
            "action": "promote",
            "variant": best["variant"],
            "reason": f"{best['variant']}'s interval [{best['ci_low']:.3f}, {best['ci_high']:.3f}] is "
            f"{'above' if higher_is_better else 'below'} every other variant's",
        }
    return {
        "action": "continue",
        "variant": None,
        "reason": f"the intervals overlap: {best['variant']} leads, but not clearly",
    }


def _scope(
    definition: Mapping[str, Any],
    cells: dict[str, Rewards],
    arms: Mapping[str, policy.Arm],
    prior: Mapping[str, policy.Arm] | None,
    traffic: Mapping[str, int],
    probabilities: Mapping[str, float],
    reward: str,
    seed: int,
    noise: float | None,
    *,
    from_estimates: bool = False,
) -> dict[str, Any]:
    """One scope's rows. ``from_estimates``: P(best) and expected loss from the SNIPS estimates (overall,
    when the policy learns per segment: the plain means then mix segments in the proportions each variant
    happened to be served to)."""
    active = served(definition)
    logged = sum(c.n_p for c in cells.values())
    post = None
    if from_estimates:
        sign = 1.0 if definition["higher_is_better"] else -1.0
        estimates = {}
        for name in active:
            found = ips_estimates(cells.get(name), logged)
            if found["snips_ci_low"] is None:
                break
            half = (found["snips_ci_high"] - found["snips_ci_low"]) / 2  # type: ignore[operator]
            estimates[name] = (sign * found["snips"], half / Z)  # type: ignore[operator]
        else:
            post = policy.estimate_posterior(estimates, seed=seed) if estimates else None
    if post is None:
        post = policy.posterior(active, arms, reward, prior=prior, noise=noise, seed=seed)
    best, loss = post.prob_best(), post.expected_loss()
    names = list(definition["variants"]) + [v for v in {*cells, *traffic} if v not in definition["variants"]]
    total_traffic = sum(traffic.values())
    method = "wilson" if reward == policy.BERNOULLI else "t"
    rows = []
    for name in names:
        cell = cells.get(name)
        summary = Summary(cell.n, cell.total, cell.total_sq) if cell else Summary(0, 0.0, 0.0)
        low, high = interval(summary, method)
        rows.append(
            {
                "variant": name,
                "status": definition["variants"].get(name, {}).get("status", "unknown"),
                "choices": traffic.get(name, 0),
                "share": traffic.get(name, 0) / total_traffic if total_traffic else None,
                "probability": probabilities.get(name, 0.0),
                "count": summary.n,
                "ratings": cell.ratings if cell else 0,
                "mean": summary.mean,
                "ci_low": low,
                "ci_high": high,
                **ips_estimates(cell, logged),
                "prob_best": best.get(name),
                "expected_loss": loss.get(name),
            }
        )
    with_loss = [r for r in rows if r["expected_loss"] is not None]
    return {
        "choices": total_traffic,
        "rated": sum(r["count"] for r in rows),
        "ratings": sum(r["ratings"] for r in rows),
        "variants": rows,
        "expected_regret": sum(r["probability"] * r["expected_loss"] for r in with_loss) if with_loss else None,
        "regret_so_far": sum(r["choices"] * r["expected_loss"] for r in with_loss) if with_loss else None,
        "recommendation": recommend(rows, active, definition["higher_is_better"], "snips" if from_estimates else "mean")
        if definition["status"] == "running"
        else {"action": "none", "variant": definition["winner"], "reason": "the experiment is stopped"},
    }


def _timeline(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    buckets: dict[int, dict[str, int]] = {}
    for row in rows:
        counts = buckets.setdefault(row["bucket"], {})
        counts[row["variant"]] = counts.get(row["variant"], 0) + row["choices"]
    out = []
    for bucket in sorted(buckets):
        counts = buckets[bucket]
        total = sum(counts.values())
        out.append({"bucket": iso(bucket), "choices": counts, "share": {v: n / total for v, n in counts.items()}})
    return out


def report(
    db: Database,
    project: str,
    name: str,
    *,
    start: str | None = None,
    end: str | None = None,
    bucket: str = "day",
    segments: int = MAX_SEGMENTS,
) -> dict[str, Any]:
    """The report (see the module docstring) for spans started in [``start``, ``end``).

    Raises:
        ApiError: 404 for an unknown experiment; 422 for a bad window or bucket.
    """
    if bucket not in BUCKETS:
        raise ApiError(422, "invalid_field", f"bucket: must be one of {', '.join(BUCKETS)}", "bucket")
    start_ns, end_ns = parse_time(start, "from"), parse_time(end, "to")
    definition = experiments.require(db, project, name)
    direction = direction_of(db, project, definition)
    definition["higher_is_better"] = direction.higher_is_better  # resolved: what every scope below ranks by
    state = policy_state(db, project, name)
    window = {"start_ns": start_ns, "end_ns": end_ns}
    experiment_data.settle(db, project, definition["score"])
    cells = experiment_data.rewards(db, project, name, definition["score"], **window)
    flows = experiment_data.traffic(db, project, name, bucket_ns=BUCKETS[bucket], **window)
    reward = reward_kind(cells)
    overall_arms, segment_arms = arms_by_segment(cells, reward, definition["higher_is_better"])
    noise = policy.noise_variance(list(overall_arms.values())) if reward == policy.NORMAL else None
    seed = policy.seed_of(name, "report")

    def traffic_of(rows: Sequence[dict[str, Any]]) -> dict[str, int]:
        out: dict[str, int] = {}
        for row in rows:
            out[row["variant"]] = out.get(row["variant"], 0) + row["choices"]
        return out

    overall = _scope(
        definition,
        _merge(cells),
        overall_arms,
        None,
        traffic_of(flows),
        probabilities_for(state, None),
        reward,
        seed,
        noise,
        from_estimates=bool(definition["segment_by"]),
    )
    overall["timeline"] = _timeline(flows)
    per_segment = []
    if definition["segment_by"]:
        names = {c.segment for c in cells} | {row["segment"] for row in flows}
        sizes = {s: sum(r["choices"] for r in flows if r["segment"] == s) for s in names}
        for segment in sorted(names, key=lambda s: (-sizes[s], s is None, s or ""))[:segments]:
            rows = [r for r in flows if r["segment"] == segment]
            entry = _scope(
                definition,
                _merge([c for c in cells if c.segment == segment]),
                segment_arms.get(segment, {}),
                overall_arms,
                traffic_of(rows),
                probabilities_for(state, segment),
                reward,
                policy.seed_of(seed, segment),
                noise,
            )
            per_segment.append({"segment": segment, **entry, "timeline": _timeline(rows)})
        promoted = {e["recommendation"]["variant"] for e in per_segment if e["recommendation"]["action"] == "promote"}
        if len(promoted) > 1 and overall["recommendation"]["action"] == "promote":
            overall["recommendation"] = {
                "action": "continue",
                "variant": None,
                "reason": f"segments prefer different variants ({', '.join(sorted(promoted))}): keep the "
                "per-segment policy rather than promote one",
            }
    return {
        "experiment": name,
        "score": definition["score"],
        **direction.stated(),
        "policy": definition["policy"],
        "status": definition["status"],
        "winner": definition["winner"],
        "segment_by": definition["segment_by"],
        "reward": reward,
        "bucket": bucket,
        "from": iso(start_ns) if start_ns is not None else None,
        "to": iso(end_ns) if end_ns is not None else None,
        "overall": overall,
        "segments": per_segment,
    }
