"""Leaderboard: per group of spans, the mean score with its interval, and span-side health figures.

Ranking rule. Rows are sorted best first by the pessimistic end of the interval by default (``sort=lower``:
the lower bound, or the upper bound when lower is better), or by the mean. The *leader candidate* is the
group with the best pessimistic bound among groups with at least ``min_count`` rated items: a group rated
once cannot top the board on luck, and an untestable group cannot block a clear result (its comparisons
would all be p = 1). The candidate is tested against every other eligible group (two-proportion z or
Welch t), the p-values adjusted for the number of comparisons (Holm by default, Benjamini–Hochberg on
request); it is named ``leader`` only when every adjusted p < 1 − confidence and its mean is better than
each. Otherwise the verdict names the closest rival and a power estimate. "Better" follows the score's
direction (see :mod:`.direction`): on a lower-is-better score the group scoring least leads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select

from plaudit_collector.analytics import stats
from plaudit_collector.analytics.core import (
    FEEDBACK,
    Filters,
    check_group_by,
    connect,
    feedback_conditions,
    format_group,
    group_dict,
    key_of,
    method_for,
)
from plaudit_collector.analytics.direction import Direction, resolve
from plaudit_collector.analytics.health import SPAN_FIELDS, span_stats
from plaudit_collector.analytics.ppi_board import ppi_leaderboard
from plaudit_collector.analytics.rolled import hint, scores_by_group, with_declared
from plaudit_collector.store.db import Database

DEFAULT_MIN_COUNT = 5


def score_groups(
    db: Database,
    project: str,
    score: str,
    group_by: Sequence[str],
    filters: Filters,
    *,
    use_rollup: bool = True,
    path: list[str] | None = None,
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Per group: the item-level Summary and rater counts (from the score rollup when it can answer; the
    path taken is appended to ``path``)."""
    rows, taken = scores_by_group(db, project, score, group_by, filters, use_rollup=use_rollup)
    if path is not None:
        path.append(taken)
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
    higher_is_better: bool | None = None,
    confidence: float = stats.CONFIDENCE,
    estimator: str = "mean",
    human_source: str = "human",
    judge_source: str = "llm_judge",
) -> dict[str, Any]:
    """Groups best first with counts, means, 95% intervals, coverage and span health; ``leader`` is set
    only for a separated winner, otherwise ``verdict`` says why not and ``needed_per_group`` how many
    ratings per group would tell. ``health=False`` skips the span-side figures (spans, coverage, error
    rate, latency, tokens, cost), which read every span of the groups rather than only the rated ones.
    ``score_per_dollar`` is the mean score over the mean cost of a span, where the cost is known."""
    if estimator == "ppi":  # judge ratings corrected by human ones (analytics/ppi_board.py)
        return ppi_leaderboard(
            db,
            project,
            score,
            group_by,
            filters,
            human_source=human_source,
            judge_source=judge_source,
            sort=sort,
            min_count=min_count,
            correction=correction,
            health=health,
            higher_is_better=higher_is_better,
            confidence=confidence,
        )
    filters = filters or Filters()
    group_by = check_group_by(group_by or ["variant"])
    filters = with_declared(db, project, group_by, filters)
    direction = resolve(db, project, score, higher_is_better)
    path: list[str] = []
    scores = score_groups(db, project, score, group_by, filters, path=path)
    spans = span_stats(db, project, group_by, filters) if scores and health else {}
    method = method_for(any(g["nb"] for g in scores.values()))
    rows: list[dict[str, Any]] = []
    for key, g in scores.items():
        summary: stats.Summary = g["summary"]
        low, high = stats.interval(summary, method, confidence)
        side = spans.get(key, {})
        cost = side.get("cost_mean")
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
                **{k: side.get(k) for k in SPAN_FIELDS},
                "score_per_dollar": summary.mean / cost if cost and summary.mean is not None else None,
                "eligible": summary.n >= min_count and low is not None,
                "p_vs_leader": None,
                "_summary": summary,
            }
        )
    rows.sort(key=_sort_key(sort, direction))
    leader, candidate, verdict, needed = _verdict(rows, method, min_count, correction, direction, confidence)
    if not rows:
        verdict = _empty_verdict(db, project, score, filters)
    for row in rows:
        row.pop("_summary")
    return {
        "score": score,
        "group_by": group_by,
        "method": method,
        **direction.stated(),
        "confidence": confidence,
        "correction": correction,
        "sort": sort,
        "min_count": min_count,
        "filters": filters.describe() or None,
        "rows": rows,
        "leader": leader,
        "candidate": candidate,
        "verdict": verdict,
        "needed_per_group": needed,
        "path": path[0],
        "path_hint": hint(group_by, filters) if path[0] == "scan" else None,
    }


def _goodness(row: dict[str, Any], direction: Direction) -> tuple[float, float]:
    return direction.goodness(row["mean"], row["ci_low"], row["ci_high"])


def _sort_key(sort: str, direction: Direction) -> Any:
    def key(row: dict[str, Any]) -> tuple[float, float, int]:
        low, mean = _goodness(row, direction)
        first, second = (low, mean) if sort == "lower" else (mean, low)
        return (-first, -second, -row["rated"])

    return key


def pick_candidate(rows: list[dict[str, Any]], direction: Direction | None = None) -> dict[str, Any] | None:
    direction = direction or Direction()
    eligible = [r for r in rows if r["eligible"]]
    if not eligible:
        return None
    return max(eligible, key=lambda r: (*_goodness(r, direction), r["rated"]))


def _verdict(
    rows: list[dict[str, Any]],
    method: str,
    min_count: int,
    correction: str,
    direction: Direction,
    confidence: float,
) -> tuple[dict[str, Any] | None, dict[str, Any] | None, str, int | None]:
    if not rows:
        return None, None, "", None
    small = sum(1 for r in rows if not r["eligible"])
    note = f"; {small} group(s) with fewer than {min_count} rated items not ranked" if small else ""
    if len(rows) == 1:
        return None, None, "only one group has feedback: nothing to compare", None
    candidate = pick_candidate(rows, direction)
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
    alpha = 1 - confidence
    beaten = [p < alpha and direction.better(best.mean, r["mean"]) for r, p in zip(others, adjusted, strict=True)]
    if all(beaten):
        worst = max(adjusted)
        text = (
            f"{format_group(candidate['group'])} leads: separated from every other group "
            f"({label}-adjusted p ≤ {worst:.3g}; {direction.words}){note}"
        )
        return candidate["group"], candidate["group"], text, None
    closest_index = max(range(len(others)), key=lambda i: (not beaten[i], adjusted[i]))
    rival = others[closest_index]
    needed = stats.needed_per_group(best, rival["_summary"], method, comparisons=len(others), alpha=alpha)
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
