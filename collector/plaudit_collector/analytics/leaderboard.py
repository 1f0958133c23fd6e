"""Leaderboard: per group of spans, the mean score with its interval, and span-side health figures.

Ranking rule. Rows are sorted by the lower confidence bound by default (``sort=lower``), or by the mean.
The *leader candidate* is the group with the highest lower bound among groups with at least
``min_count`` rated items: a group rated once cannot top the board on luck, and an untestable group
cannot block a clear result (its comparisons would all be p = 1). The candidate is tested against every
other eligible group (two-proportion z or Welch t), the p-values adjusted for the number of comparisons
(Holm by default, Benjamini–Hochberg on request); it is named ``leader`` only when every adjusted
p < 0.05 and its mean is above each. Otherwise the verdict names the closest rival and a power estimate.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import case, func, select

from plaudit_collector import stats
from plaudit_collector.analytics.core import (
    FEEDBACK,
    SPAN,
    Filters,
    check_group_by,
    connect,
    feedback_conditions,
    format_group,
    group_dict,
    group_scores,
    key_of,
    labelled,
    method_for,
    span_conditions,
    unit_scores,
)
from plaudit_collector.db import Database

LATENCY_BUCKETS_PER_E = 50
"""SQLite has no percentile function: durations are counted in log buckets 2% wide (±1% error)."""

DEFAULT_MIN_COUNT = 5


def score_groups(
    db: Database, project: str, score: str, group_by: Sequence[str], filters: Filters
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Per group: the item-level Summary and rater counts (one SQL aggregation)."""
    units = unit_scores(project, score, labelled(group_by), filters, db.dialect)
    with connect(db) as conn:
        rows = conn.execute(group_scores(units, len(group_by))).all()
    out = {}
    for row in rows:
        out[key_of(row, len(group_by))] = {
            "summary": stats.Summary(int(row.n), float(row.total or 0.0), float(row.total_sq or 0.0)),
            "ratings": int(row.ratings),
            "max_raters": int(row.max_raters),
            "rated_spans": int(row.rated_spans),
            "nb": bool(row.nb),
        }
    return out


def span_stats(
    db: Database, project: str, group_by: Sequence[str], filters: Filters
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Per group over all its spans: count, error rate, latency p50/p95, mean tokens (and cost)."""
    s = SPAN
    dims = labelled(group_by)
    width = len(dims)
    terms = [s.c.project == project, *span_conditions(filters, s, db.dialect)]
    measures = [
        func.count().label("spans"),
        func.sum(case((s.c.status_code == "ERROR", 1), else_=0)).label("errors"),
        func.sum(s.c.input_tokens).label("in_sum"),
        func.count(s.c.input_tokens).label("in_n"),
        func.sum(s.c.output_tokens).label("out_sum"),
        func.count(s.c.output_tokens).label("out_n"),
    ]
    measures += [func.sum(s.c.cost).label("cost_sum"), func.count(s.c.cost).label("cost_n")]
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    if db.dialect == "postgresql":
        query = (
            select(
                *dims,
                *measures,
                func.percentile_cont(0.5).within_group(s.c.duration_ms).label("p50"),
                func.percentile_cont(0.95).within_group(s.c.duration_ms).label("p95"),
            )
            .where(*terms)
            .group_by(*dims)
        )
        with connect(db) as conn:
            for row in conn.execute(query):
                out[key_of(row, width)] = _span_row(row, float(row.p50), float(row.p95))
        return out
    bucket = func.floor(func.ln(func.max(s.c.duration_ms, 0.001)) * LATENCY_BUCKETS_PER_E).label("b")
    query = select(*dims, bucket, *measures).where(*terms).group_by(*dims, bucket)
    parts: dict[tuple[Any, ...], list[Any]] = {}
    with connect(db) as conn:
        for row in conn.execute(query):
            parts.setdefault(key_of(row, width), []).append(row)
    for key, rows in parts.items():
        buckets = np.array([float(r.b) for r in rows])
        counts = np.array([int(r.spans) for r in rows])
        order = np.argsort(buckets)
        buckets, counts = buckets[order], counts[order]
        cum = np.cumsum(counts)
        total = int(cum[-1])

        def pct(q: float, buckets: np.ndarray = buckets, cum: np.ndarray = cum, total: int = total) -> float:
            index = int(np.searchsorted(cum, max(q * total, 1), side="left"))
            return float(np.exp((buckets[index] + 0.5) / LATENCY_BUCKETS_PER_E))

        summed = {name: sum(getattr(r, name) or 0 for r in rows) for name in rows[0]._fields[width:]}
        out[key] = _span_row(summed, pct(0.5), pct(0.95))
    return out


def _span_row(row: Any, p50: float, p95: float) -> dict[str, Any]:
    get = row.get if isinstance(row, dict) else lambda name: getattr(row, name, None)
    spans = int(get("spans") or 0)
    result = {
        "spans": spans,
        "error_rate": (int(get("errors") or 0) / spans) if spans else None,
        "latency_p50_ms": p50,
        "latency_p95_ms": p95,
        "input_tokens_mean": _mean(get("in_sum"), get("in_n")),
        "output_tokens_mean": _mean(get("out_sum"), get("out_n")),
        "cost_mean": _mean(get("cost_sum"), get("cost_n")),
    }
    return result


def _mean(total: Any, n: Any) -> float | None:
    return float(total) / int(n) if n else None


def leaderboard(
    db: Database,
    project: str,
    score: str,
    group_by: Sequence[str],
    filters: Filters | None = None,
    *,
    sort: str = "lower",
    min_count: int = DEFAULT_MIN_COUNT,
    correction: str = "holm",
    health: bool = True,
) -> dict[str, Any]:
    """Groups best first with counts, means, 95% intervals, coverage and span health; ``leader`` is set
    only for a separated winner, otherwise ``verdict`` says why not and ``needed_per_group`` how many
    ratings per group would tell. ``health=False`` skips the span-side figures (spans, coverage, error
    rate, latency, tokens, cost), which read every span of the groups rather than only the rated ones."""
    filters = filters or Filters()
    group_by = check_group_by(group_by or ["variant"])
    scores = score_groups(db, project, score, group_by, filters)
    spans = span_stats(db, project, group_by, filters) if scores and health else {}
    method = method_for(any(g["nb"] for g in scores.values()))
    rows: list[dict[str, Any]] = []
    for key, g in scores.items():
        summary: stats.Summary = g["summary"]
        low, high = stats.interval(summary, method)
        side = spans.get(key, {})
        span_count = side.get("spans", 0)
        rows.append(
            {
                "group": group_dict(group_by, key),
                "count": g["ratings"],
                "rated": summary.n,
                "mean": summary.mean,
                "ci_low": low,
                "ci_high": high,
                "method": method,
                "spans": span_count,
                "coverage": (g["rated_spans"] / span_count) if span_count else None,
                "max_raters": g["max_raters"],
                **{k: side.get(k) for k in _SPAN_FIELDS},
                "eligible": summary.n >= min_count and low is not None,
                "p_vs_leader": None,
                "_summary": summary,
            }
        )
    rows.sort(key=_sort_key(sort))
    leader, candidate, verdict, needed = _verdict(rows, method, min_count, correction)
    if not rows:
        verdict = _empty_verdict(db, project, score, filters)
    for row in rows:
        row.pop("_summary")
    return {
        "score": score,
        "group_by": group_by,
        "method": method,
        "confidence": stats.CONFIDENCE,
        "correction": correction,
        "sort": sort,
        "min_count": min_count,
        "filters": filters.describe() or None,
        "rows": rows,
        "leader": leader,
        "candidate": candidate,
        "verdict": verdict,
        "needed_per_group": needed,
    }


_SPAN_FIELDS = (
    "error_rate",
    "latency_p50_ms",
    "latency_p95_ms",
    "input_tokens_mean",
    "output_tokens_mean",
    "cost_mean",
)


def _sort_key(sort: str) -> Any:
    def key(row: dict[str, Any]) -> tuple[float, float, int]:
        mean = row["mean"] if row["mean"] is not None else float("-inf")
        low = row["ci_low"] if row["ci_low"] is not None else float("-inf")
        first, second = (low, mean) if sort == "lower" else (mean, low)
        return (-first, -second, -row["rated"])

    return key


def pick_candidate(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    eligible = [r for r in rows if r["eligible"]]
    if not eligible:
        return None
    return max(eligible, key=lambda r: (r["ci_low"], r["mean"], r["rated"]))


def _verdict(
    rows: list[dict[str, Any]], method: str, min_count: int, correction: str
) -> tuple[dict[str, Any] | None, dict[str, Any] | None, str, int | None]:
    if not rows:
        return None, None, "", None
    small = sum(1 for r in rows if not r["eligible"])
    note = f"; {small} group(s) with fewer than {min_count} rated items not ranked" if small else ""
    if len(rows) == 1:
        return None, None, "only one group has feedback: nothing to compare", None
    candidate = pick_candidate(rows)
    if candidate is None:
        return None, None, f"no group has {min_count} rated items yet: too early to rank{note}", None
    others = [r for r in rows if r["eligible"] and r is not candidate]
    if not others:
        return None, candidate["group"], f"only {format_group(candidate['group'])} can be ranked so far{note}", None
    best: stats.Summary = candidate["_summary"]
    raw = [stats.p_value(best, r["_summary"], method) for r in others]
    adjusted = stats.adjust(raw, correction)
    for row, p in zip(others, adjusted, strict=True):
        row["p_vs_leader"] = p
    label = "Holm" if correction == "holm" else "Benjamini–Hochberg"
    beaten = [p < stats.ALPHA and (best.mean or 0) > (r["mean"] or 0) for r, p in zip(others, adjusted, strict=True)]
    if all(beaten):
        worst = max(adjusted)
        text = (
            f"{format_group(candidate['group'])} leads: separated from every other group "
            f"({label}-adjusted p ≤ {worst:.3g}){note}"
        )
        return candidate["group"], candidate["group"], text, None
    closest_index = max(range(len(others)), key=lambda i: (not beaten[i], adjusted[i]))
    rival = others[closest_index]
    needed = stats.needed_per_group(best, rival["_summary"], method, comparisons=len(others))
    text = (
        f"no clear leader: {format_group(candidate['group'])} is not separated from "
        f"{format_group(rival['group'])} ({label}-adjusted p = {adjusted[closest_index]:.3g})"
    )
    if needed is not None:
        have = min(best.n, rival["rated"])
        text += (
            f"; about {needed} rated items per group ({max(needed - have, 0)} more) would tell a difference this size"
        )
    else:
        text += "; they score the same so far"
    return None, candidate["group"], text + note, needed


def _empty_verdict(db: Database, project: str, score: str, filters: Filters) -> str:
    if not filters.describe():
        return "no feedback yet for this score"
    with connect(db) as conn:
        total = conn.execute(
            select(func.count()).select_from(FEEDBACK).where(*feedback_conditions(project, [score], Filters()))
        ).scalar_one()
    if not total:
        return "no feedback yet for this score"
    return (
        f"no feedback for this score matches the filters ({filters.describe()}); {total} rating(s) exist without them"
    )
