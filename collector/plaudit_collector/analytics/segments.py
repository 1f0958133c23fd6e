"""Segments: the ranking inside each segment (a user, a plan, a language...), to catch the case where
the overall winner loses for part of the audience.

The overall leader candidate (see the leaderboard) is compared, in every segment where it was rated,
with the segment's best-scoring other group; those p-values are Holm-adjusted across segments.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from plaudit_collector.analytics import stats
from plaudit_collector.analytics.core import Filters, format_group, group_dict
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
) -> dict[str, Any]:
    """Overall ranking plus per-segment rows; ``reversals`` lists segments where the candidate loses."""
    filters = filters or Filters()
    if segment in group_by:
        raise ApiError(422, "invalid_field", "segment: already one of the group_by dimensions", "segment")
    overall = leaderboard(db, project, score, group_by, filters, min_count=min_count)
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
            low, high = stats.interval(summary, method)
            rows.append(
                {
                    "group": group,
                    "count": g["ratings"],
                    "rated": summary.n,
                    "mean": summary.mean,
                    "ci_low": low,
                    "ci_high": high,
                    "_summary": summary,
                }
            )
        rows.sort(key=lambda r: -(r["mean"] if r["mean"] is not None else float("-inf")))
        entry: dict[str, Any] = {
            "segment": value,
            "rated": sum(r["rated"] for r in rows),
            "rows": rows,
            "best": rows[0]["group"] if rows else None,
            "reverses": False,
            "rival": None,
            "p_value": None,
            "p_adjusted": None,
            "significant": False,
        }
        mine = next((r for r in rows if candidate is not None and r["group"] == candidate), None)
        others = [r for r in rows if r is not mine and r["rated"] >= min_count]
        if mine is not None and mine["rated"] >= min_count and others:
            rival = max(others, key=lambda r: r["mean"] or 0.0)
            if (rival["mean"] or 0.0) > (mine["mean"] or 0.0):
                entry["reverses"] = True
                entry["rival"] = rival["group"]
                p = stats.p_value(rival["_summary"], mine["_summary"], method)
                entry["p_value"] = p
                tested.append((entry, p))
        out_segments.append(entry)
    for (entry, _p), adjusted in zip(tested, stats.holm([p for _, p in tested]), strict=True):
        entry["p_adjusted"] = adjusted
        entry["significant"] = adjusted < stats.ALPHA
    for entry in out_segments:
        for row in entry["rows"]:
            row.pop("_summary")
    return {
        "score": score,
        "group_by": list(group_by),
        "segment": segment,
        "method": method,
        "confidence": stats.CONFIDENCE,
        "overall": {k: overall[k] for k in ("rows", "leader", "candidate", "verdict")},
        "candidate": candidate,
        "segments": out_segments,
        "verdict": _verdict(candidate, segment, out_segments, overall),
    }


def _verdict(
    candidate: dict[str, Any] | None, segment: str, entries: list[dict[str, Any]], overall: dict[str, Any]
) -> str:
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
            f"(Holm-adjusted p = {e['p_adjusted']:.3g}){more}"
        )
    if reversed_:
        return (
            f"{format_group(candidate)} {lead} overall; it scores below another group in {len(reversed_)} "
            f"{segment} segment(s), none significant after Holm adjustment"
        )
    return f"{format_group(candidate)} {lead} overall and in every {segment} segment where it was rated"
