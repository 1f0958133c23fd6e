"""Segments: the ranking inside each segment (a user, a plan, a language...), to catch the case where
the overall winner loses for part of the audience.

The overall leader candidate (see the leaderboard) is compared, in every segment where it was rated,
with the segment's best-scoring other group; those p-values are adjusted across segments (Holm unless asked
otherwise). As on the leaderboard, only groups with at least ``min_count`` rated items in the segment can be
its ``best`` or a rival; smaller groups are listed with ``eligible: false``. "Best" follows the score's
direction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from plaudit_collector.analytics import stats
from plaudit_collector.analytics.core import Filters, format_group, group_dict
from plaudit_collector.analytics.direction import Direction, resolve
from plaudit_collector.analytics.leaderboard import DEFAULT_MIN_COUNT, leaderboard, score_groups
from plaudit_collector.errors import ApiError
from plaudit_collector.store.db import Database


def segments(
    db: Database,
    project: str,
    score: str,
    group_by: Sequence[str],
    segment: str,
    filters: Filters | None = None,
    *,
    limit: int = 50,
    min_count: int = DEFAULT_MIN_COUNT,
    higher_is_better: bool | None = None,
    confidence: float = stats.CONFIDENCE,
    correction: str = "holm",
) -> dict[str, Any]:
    """Overall ranking plus per-segment rows; a segment ``reverses`` where the candidate loses there."""
    filters = filters or Filters()
    if segment in group_by:
        raise ApiError(422, "invalid_field", "segment: already one of the group_by dimensions", "segment")
    direction = resolve(db, project, score, higher_is_better)
    overall = leaderboard(
        db,
        project,
        score,
        group_by,
        filters,
        min_count=min_count,
        higher_is_better=direction.higher_is_better,
        confidence=confidence,
        correction=correction,
    )
    method = overall["method"]
    candidate = overall["candidate"]
    width = len(group_by)
    found = score_groups(db, project, score, [*group_by, segment], filters)
    by_segment: dict[Any, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    for key, g in found.items():
        by_segment.setdefault(key[width], []).append((group_dict(group_by, key[:width]), g))
    ordered = sorted(by_segment.items(), key=lambda item: -sum(g["summary"].n for _, g in item[1]))[:limit]
    out_segments: list[dict[str, Any]] = []
    tested: list[tuple[dict[str, Any], float]] = []
    for value, groups in ordered:
        rows = []
        for group, g in groups:
            summary: stats.Summary = g["summary"]
            low, high = stats.interval(summary, method, confidence)
            rows.append(
                {
                    "group": group,
                    "count": g["ratings"],
                    "rated": summary.n,
                    "mean": summary.mean,
                    "ci_low": low,
                    "ci_high": high,
                    "eligible": summary.n >= min_count,
                    "_summary": summary,
                }
            )
        rows.sort(key=lambda r: _rank(r, direction))
        eligible = [r for r in rows if r["eligible"]]
        entry: dict[str, Any] = {
            "segment": value,
            "rated": sum(r["rated"] for r in rows),
            "rows": rows,
            "best": eligible[0]["group"] if eligible else None,
            "reverses": False,
            "rival": None,
            "p_value": None,
            "p_adjusted": None,
            "significant": False,
        }
        mine = next((r for r in rows if candidate is not None and r["group"] == candidate), None)
        others = [r for r in eligible if r is not mine]
        if mine is not None and mine["eligible"] and others:
            rival = others[0]  # rows are best first
            if direction.better(rival["mean"], mine["mean"]):
                entry["reverses"] = True
                entry["rival"] = rival["group"]
                p = stats.p_value(rival["_summary"], mine["_summary"], method)
                entry["p_value"] = p
                tested.append((entry, p))
        out_segments.append(entry)
    for (entry, _p), adjusted in zip(tested, stats.adjust([p for _, p in tested], correction), strict=True):
        entry["p_adjusted"] = adjusted
        entry["significant"] = adjusted < 1 - confidence
    for entry in out_segments:
        for row in entry["rows"]:
            row.pop("_summary")
    return {
        "score": score,
        "group_by": list(group_by),
        "segment": segment,
        "method": method,
        **direction.stated(),
        "confidence": confidence,
        "correction": correction,
        "min_count": min_count,
        "overall": {k: overall[k] for k in ("rows", "leader", "candidate", "verdict")},
        "candidate": candidate,
        "segments": out_segments,
        "verdict": _verdict(candidate, segment, out_segments, overall, correction),
    }


def _rank(row: dict[str, Any], direction: Direction) -> tuple[bool, float, int]:
    """Best first: eligible groups, then by mean in the score's direction, then by rated items."""
    mean = direction.good(row["mean"]) if row["mean"] is not None else float("-inf")
    return (not row["eligible"], -mean, -row["rated"])


def _verdict(
    candidate: dict[str, Any] | None,
    segment: str,
    entries: list[dict[str, Any]],
    overall: dict[str, Any],
    correction: str,
) -> str:
    label = "Holm" if correction == "holm" else "Benjamini–Hochberg"
    if candidate is None:
        return f"no overall leader candidate to check across {segment} segments ({overall['verdict']})"
    lead = "leads" if overall["leader"] else "tops the ranking"
    significant = [e for e in entries if e["significant"]]
    reversed_ = [e for e in entries if e["reverses"]]
    if significant:
        e = significant[0]
        mine = next(r for r in e["rows"] if r["group"] == candidate)
        rival = next(r for r in e["rows"] if r["group"] == e["rival"])
        more = f" (and {len(significant) - 1} more segment(s))" if len(significant) > 1 else ""
        return (
            f"{format_group(candidate)} {lead} overall but loses in {segment}={e['segment']}: "
            f"{format_group(e['rival'])} {rival['mean']:.3g} vs {mine['mean']:.3g} "
            f"({label}-adjusted p = {e['p_adjusted']:.3g}; {overall['direction']}){more}"
        )
    if reversed_:
        return (
            f"{format_group(candidate)} {lead} overall; it scores below another group in {len(reversed_)} "
            f"{segment} segment(s), none significant after {label} adjustment"
        )
    return f"{format_group(candidate)} {lead} overall and in every {segment} segment where it was rated"
