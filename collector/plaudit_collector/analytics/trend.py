"""Trend: a score per time bucket (by span start, UTC; weeks start on Monday) and group.

Each point is tested against the same group's previous bucket (same test as the leaderboard), the
p-values adjusted within each group's series (Holm unless asked otherwise), so a flagged change is not an
artefact of looking at many buckets. ``change`` says where the mean moved (``up``/``down``); ``better``
says whether that was an improvement in the score's direction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from plaudit_collector.analytics import stats
from plaudit_collector.analytics.core import (
    Filters,
    group_dict,
    iso,
    method_for,
)
from plaudit_collector.analytics.direction import resolve
from plaudit_collector.analytics.ppi_board import ppi_trend
from plaudit_collector.analytics.rolled import hint, scores_by_group, with_declared
from plaudit_collector.store.db import Database

HOUR_NS = 3600 * 10**9
BUCKETS = {"hour": HOUR_NS, "day": 24 * HOUR_NS, "week": 7 * 24 * HOUR_NS}
WEEK_OFFSET_NS = 4 * 24 * HOUR_NS
"""1970-01-01 was a Thursday: shifting by four days makes week buckets start on Monday."""


def trend(
    db: Database,
    project: str,
    score: str,
    group_by: Sequence[str],
    filters: Filters | None = None,
    *,
    bucket: str = "day",
    higher_is_better: bool | None = None,
    confidence: float = stats.CONFIDENCE,
    correction: str = "holm",
    estimator: str = "mean",
    human_source: str = "human",
    judge_source: str = "llm_judge",
) -> dict[str, Any]:
    """Points ``{group, bucket_start, count, rated, mean, ci_low, ci_high, p_vs_previous, change, better}``."""
    filters = filters or Filters()
    width_ns = BUCKETS[bucket]
    offset = WEEK_OFFSET_NS if bucket == "week" else 0
    if estimator == "ppi":  # judge ratings corrected by human ones (analytics/ppi_board.py)
        return ppi_trend(
            db,
            project,
            score,
            group_by,
            filters,
            bucket_ns=width_ns,
            offset_ns=offset,
            bucket=bucket,
            human_source=human_source,
            judge_source=judge_source,
            correction=correction,
            higher_is_better=higher_is_better,
            confidence=confidence,
        )
    direction = resolve(db, project, score, higher_is_better)
    filters = with_declared(db, project, group_by, filters)
    width = len(group_by)
    rows, path = scores_by_group(db, project, score, group_by, filters, bucket=(width_ns, offset))
    method = method_for(any(row.nb for row in rows))
    series: dict[tuple[Any, ...], list[tuple[int, Any]]] = {}
    for row in rows:
        key = tuple(row[:width])
        series.setdefault(key, []).append((int(row[width]), row))
    points: list[dict[str, Any]] = []
    for key in sorted(series, key=lambda k: tuple("" if v is None else str(v) for v in k)):
        entries = sorted(series[key], key=lambda e: e[0])
        group_points = []
        previous: stats.Summary | None = None
        raw: list[float] = []
        for number, row in entries:
            summary = stats.Summary(int(row.n), float(row.total or 0.0), float(row.total_sq or 0.0))
            low, high = stats.interval(summary, method, confidence)
            point = {
                "group": group_dict(group_by, key),
                "bucket_start": iso(number * width_ns + offset),
                "count": int(row.ratings),
                "rated": summary.n,
                "mean": summary.mean,
                "ci_low": low,
                "ci_high": high,
                "p_vs_previous": None,
                "change": None,
                "better": None,
                "_summary": summary,
                "_previous": previous,
            }
            if previous is not None:
                raw.append(stats.p_value(summary, previous, method))
            previous = summary
            group_points.append(point)
        adjusted = iter(stats.adjust(raw, correction))
        for point in group_points:
            before = point.pop("_previous")
            now = point.pop("_summary")
            if before is None:
                continue
            p = next(adjusted)
            point["p_vs_previous"] = p
            if p < 1 - confidence:
                point["change"] = "up" if (now.mean or 0) > (before.mean or 0) else "down"
                point["better"] = direction.better(now.mean, before.mean)
        points.extend(group_points)
    changes = [p for p in points if p["change"]]
    if not points:
        verdict = "no feedback yet for this score"
    elif not changes:
        label = "Holm" if correction == "holm" else "Benjamini–Hochberg"
        verdict = f"no significant change between consecutive buckets ({label}-adjusted within each group)"
    else:
        first = changes[0]
        verdict = f"{len(changes)} significant change(s); first: {first['change']} at {first['bucket_start']}" + (
            f" for {', '.join(f'{k}={v}' for k, v in first['group'].items())}" if first["group"] else ""
        )
        verdict += f" ({'better' if first['better'] else 'worse'}: {direction.words})"
    return {
        "score": score,
        "bucket": bucket,
        "group_by": list(group_by),
        "method": method,
        **direction.stated(),
        "confidence": confidence,
        "correction": correction,
        "points": points,
        "verdict": verdict,
        "path": path,
        "path_hint": hint(group_by, filters, (width_ns, offset)) if path == "scan" else None,
    }
