"""``estimator=ppi`` for the leaderboard, compare and trend: each group's mean is the judge's mean corrected
by the human-minus-judge difference where humans also rated (PPI++, :mod:`.ppi`), with a normal 95% interval.

Rows add ``human_count`` (items humans and the judge both rated), ``judge_count`` (items the judge rated),
``lambda``, the human-only figures for comparison (``human_mean``/``human_ci_*``, Student t over every
human-rated item) and ``more_human_needed``: human ratings to add to this group and to the leader candidate
to separate them at the observed difference (80% power, Bonferroni over the comparisons).

Like the plain estimator, every answer follows the score's direction (:mod:`.direction`: the query's
``higher_is_better``, else the score config's) and the query's ``confidence``: the ordering, the leader
candidate and ``p_vs_leader``, compare's ``prob_a_better`` and verdict, trend's ``better``; and states both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import literal

from plaudit_collector.analytics import stats
from plaudit_collector.analytics.core import (
    Filters,
    check_group_by,
    connect,
    format_group,
    group_dict,
    iso,
    key_of,
)
from plaudit_collector.analytics.direction import Direction, resolve
from plaudit_collector.analytics.health import SPAN_FIELDS, span_stats
from plaudit_collector.analytics.judged import HUMAN, JUDGE, items, paired_sums, to_paired
from plaudit_collector.analytics.ppi import Estimate, diff_test, more_humans_to_separate, ppi_mean
from plaudit_collector.errors import ApiError
from plaudit_collector.store.db import Database

METHOD = "ppi++"


def group_estimates(
    db: Database,
    project: str,
    score: str,
    group_by: Sequence[str],
    filters: Filters,
    *,
    human_source: str = HUMAN,
    judge_source: str = JUDGE,
    judge_author: str | None = None,
    text: bool = False,
    more_dims: Any = None,
    width: int | None = None,
    confidence: float = stats.CONFIDENCE,
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Per group key: the PPI estimate (None without labelled items), the human-only summary and counts."""
    units = items(
        project,
        score,
        group_by,
        filters,
        db.dialect,
        human_source=human_source,
        judge_source=judge_source,
        judge_author=judge_author,
        text=text,
        more_dims=more_dims,
    )
    width = len(group_by) if width is None else width
    with connect(db, project) as conn:
        rows = conn.execute(paired_sums(units, width)).all()
    out = {}
    for row in rows:
        paired = to_paired(row)
        human = stats.Summary(
            paired.n + int(row.human_only),
            paired.sum_y + float(row.sum_h or 0.0),
            paired.sum_yy + float(row.sum_hh or 0.0),
        )
        out[key_of(row, width)] = {
            "estimate": ppi_mean(paired, confidence=confidence),
            "human": human,
            "human_count": paired.n,
            "judge_count": paired.n + paired.big_n,
            "human_only": int(row.human_only),
            "judge_mean": (paired.sum_f + paired.sum_u) / (paired.n + paired.big_n)
            if paired.n + paired.big_n
            else None,
            "ratings": int(row.human_ratings or 0) + int(row.judge_ratings or 0),
        }
    return out


def _row(group: dict[str, Any], g: dict[str, Any], min_count: int, confidence: float) -> dict[str, Any]:
    est: Estimate | None = g["estimate"]
    human: stats.Summary = g["human"]
    low, high = stats.t_interval(human, confidence)
    return {
        "group": group,
        "count": g["ratings"],
        "rated": g["judge_count"] + g["human_only"],
        "mean": est.mean if est else None,
        "ci_low": est.ci_low if est else None,
        "ci_high": est.ci_high if est else None,
        "method": METHOD,
        "human_count": g["human_count"],
        "judge_count": g["judge_count"],
        "lambda": est.lam if est else None,
        "judge_mean": g["judge_mean"],
        "human_mean": human.mean,
        "human_ci_low": low,
        "human_ci_high": high,
        "eligible": bool(est and est.ci_low is not None and g["human_count"] >= min_count),
        "p_vs_leader": None,
        "more_human_needed": None,
        "_estimate": est,
    }


def ppi_leaderboard(
    db: Database,
    project: str,
    score: str,
    group_by: Sequence[str],
    filters: Filters | None = None,
    *,
    human_source: str = HUMAN,
    judge_source: str = JUDGE,
    judge_author: str | None = None,
    sort: str = "lower",
    min_count: int = 5,
    correction: str = "holm",
    health: bool = True,
    higher_is_better: bool | None = None,
    confidence: float = stats.CONFIDENCE,
) -> dict[str, Any]:
    """The leaderboard with PPI++ means; ``leader`` only when the candidate is separated from every group."""
    filters = filters or Filters()
    group_by = check_group_by(group_by or ["variant"])
    direction = resolve(db, project, score, higher_is_better)
    groups = group_estimates(
        db,
        project,
        score,
        group_by,
        filters,
        human_source=human_source,
        judge_source=judge_source,
        judge_author=judge_author,
        confidence=confidence,
    )
    rows = [_row(group_dict(group_by, key), g, min_count, confidence) for key, g in groups.items()]
    spans = span_stats(db, project, group_by, filters) if groups and health else {}
    for key, row in zip(groups, rows, strict=True):
        side = spans.get(key, {})
        row["spans"] = side.get("spans", 0)
        row.update({k: side.get(k) for k in SPAN_FIELDS})

    def order(r: dict[str, Any]) -> tuple[float, float]:
        low, mean = direction.goodness(r["mean"], r["ci_low"], r["ci_high"])
        return (-low, -mean) if sort == "lower" else (-mean, -low)

    rows.sort(key=order)
    leader, candidate, verdict, needed = _verdict(rows, correction, human_source, judge_source, direction, confidence)
    for row in rows:
        row.pop("_estimate")
    return {
        "score": score,
        "group_by": group_by,
        "estimator": "ppi",
        "method": METHOD,
        "human_source": human_source,
        "judge_source": judge_source,
        "judge_author": judge_author,
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
        "more_human_needed": needed,
    }


def _verdict(
    rows: list[dict[str, Any]],
    correction: str,
    human_source: str,
    judge_source: str,
    direction: Direction,
    confidence: float,
) -> tuple[dict[str, Any] | None, dict[str, Any] | None, str, int | None]:
    if not rows:
        return None, None, f"no item has ratings from both {human_source} and {judge_source} yet", None
    eligible = [r for r in rows if r["eligible"]]
    if not eligible:
        return None, None, "no group has enough items rated by both humans and the judge to rank", None
    best = max(eligible, key=lambda r: direction.goodness(r["mean"], r["ci_low"], r["ci_high"]))
    others = [r for r in eligible if r is not best]
    if not others:
        return None, best["group"], f"only {format_group(best['group'])} can be ranked so far", None
    raw = [diff_test(best["_estimate"], r["_estimate"])[0] for r in others]
    adjusted = stats.adjust(raw, correction)
    m, alpha = len(others), 1 - confidence
    for row, p in zip(others, adjusted, strict=True):
        row["p_vs_leader"] = p
        row["more_human_needed"] = more_humans_to_separate(
            best["_estimate"], row["_estimate"], comparisons=m, alpha=alpha
        )
    beaten = [p < alpha and direction.better(best["mean"], r["mean"]) for r, p in zip(others, adjusted, strict=True)]
    label = "Holm" if correction == "holm" else "Benjamini–Hochberg"
    if all(beaten):
        text = (
            f"{format_group(best['group'])} leads (PPI++): separated from every other group "
            f"({label}-adjusted; {direction.words})"
        )
        return best["group"], best["group"], text, 0
    i = max(range(m), key=lambda j: (not beaten[j], adjusted[j]))
    rival = others[i]
    needed = rival["more_human_needed"]
    text = (
        f"no clear leader (PPI++): {format_group(best['group'])} is not separated from "
        f"{format_group(rival['group'])} ({label}-adjusted p = {adjusted[i]:.3g})"
    )
    if needed:
        text += f"; about {needed} more human ratings in each would tell a difference this size"
    return None, best["group"], text, needed


def _pick(groups: dict[tuple[Any, ...], dict[str, Any]], dims: list[str], group: dict[str, Any]) -> Any:
    key = tuple(group[d] for d in dims)
    return groups.get(key)


def ppi_compare(
    db: Database,
    project: str,
    score: str,
    a: dict[str, str | None],
    b: dict[str, str | None],
    filters: Filters | None = None,
    *,
    human_source: str = HUMAN,
    judge_source: str = JUDGE,
    judge_author: str | None = None,
    higher_is_better: bool | None = None,
    confidence: float = stats.CONFIDENCE,
) -> dict[str, Any]:
    """A − B with PPI++ means on both sides: the difference, its interval, p and P(A better) in the score's
    direction."""
    from scipy.stats import t as t_dist

    filters = filters or Filters()
    if set(a) != set(b):
        raise ApiError(422, "invalid_field", "b: name the same dimensions as a", "b")
    if a == b:
        raise ApiError(422, "invalid_field", "b: the two groups are the same", "b")
    dims = list(a)
    direction = resolve(db, project, score, higher_is_better)
    groups = group_estimates(
        db,
        project,
        score,
        dims,
        filters,
        human_source=human_source,
        judge_source=judge_source,
        judge_author=judge_author,
        text=True,
        confidence=confidence,
    )
    sides = {"a": _pick(groups, dims, a), "b": _pick(groups, dims, b)}
    out: dict[str, Any] = {
        "score": score,
        "kind": "numeric",
        "group_by": dims,
        "estimator": "ppi",
        "method": METHOD,
        **direction.stated(),
        "confidence": confidence,
        "human_source": human_source,
        "judge_source": judge_source,
        "difference": None,
        "diff_ci_low": None,
        "diff_ci_high": None,
        "test": "t (PPI++)",
        "p_value": None,
        "prob_a_better": None,
        "prob_method": "t approximation",
        "more_human_needed": None,
    }
    for name, group in (("a", a), ("b", b)):
        g = sides[name]
        empty = {"group": group, "human_count": 0, "judge_count": 0, "mean": None}
        out[name] = _row(group, g, 0, confidence) if g else empty
        out[name].pop("_estimate", None)
    ea = sides["a"]["estimate"] if sides["a"] else None
    eb = sides["b"]["estimate"] if sides["b"] else None
    if ea is None or eb is None or ea.se is None or eb.se is None:
        missing = format_group(a) if ea is None or ea.se is None else format_group(b)
        out["verdict"] = f"not enough feedback: {missing} needs at least 2 items rated by both humans and the judge"
        return out
    p, se, df = diff_test(ea, eb)
    diff = ea.mean - eb.mean
    half = float(t_dist.ppf(0.5 + confidence / 2, df)) * (se or 0.0)
    out.update(difference=diff, diff_ci_low=diff - half, diff_ci_high=diff + half, p_value=p)
    gain = direction.good(diff)  # A above B, or below it when lower is better
    out["prob_a_better"] = float(t_dist.cdf(gain / se, df)) if se else (0.5 if diff == 0 else float(gain > 0))
    out["more_human_needed"] = more_humans_to_separate(ea, eb, alpha=1 - confidence)
    interval = f"[{out['diff_ci_low']:.3g}, {out['diff_ci_high']:.3g}]"
    tail = f"(PPI++, p = {p:.3g}; {direction.words}); P(A better) = {out['prob_a_better']:.3f}"
    if p < 1 - confidence and diff != 0:
        better, worse = (a, b) if direction.better(ea.mean, eb.mean) else (b, a)
        out["verdict"] = f"{format_group(better)} beats {format_group(worse)} by {abs(diff):.3g} {interval} {tail}"
    else:
        out["verdict"] = (
            f"no significant difference between {format_group(a)} and {format_group(b)}: {diff:+.3g} {interval} {tail}"
        )
    return out


def ppi_trend(
    db: Database,
    project: str,
    score: str,
    group_by: Sequence[str],
    filters: Filters | None = None,
    *,
    bucket_ns: int,
    offset_ns: int = 0,
    bucket: str = "day",
    human_source: str = HUMAN,
    judge_source: str = JUDGE,
    judge_author: str | None = None,
    correction: str = "holm",
    higher_is_better: bool | None = None,
    confidence: float = stats.CONFIDENCE,
) -> dict[str, Any]:
    """PPI++ means per time bucket and group, each tested against the group's previous bucket (adjusted within
    the group); a change says whether it was ``better`` in the score's direction."""
    filters = filters or Filters()
    width = len(group_by)
    direction = resolve(db, project, score, higher_is_better)
    alpha = 1 - confidence

    def bucket_of(table: Any) -> list[Any]:
        return [((table.c.start_ns - literal(offset_ns)) // literal(bucket_ns)).label(f"d{width}")]

    groups = group_estimates(
        db,
        project,
        score,
        group_by,
        filters,
        human_source=human_source,
        judge_source=judge_source,
        judge_author=judge_author,
        more_dims=bucket_of,
        width=width + 1,
        confidence=confidence,
    )
    series: dict[tuple[Any, ...], list[tuple[int, dict[str, Any]]]] = {}
    for key, g in groups.items():
        series.setdefault(key[:width], []).append((int(key[width]), g))
    points: list[dict[str, Any]] = []
    for key in sorted(series, key=lambda k: tuple("" if v is None else str(v) for v in k)):
        entries = sorted(series[key], key=lambda e: e[0])
        made = []
        raw: list[float] = []
        previous: Estimate | None = None
        for number, g in entries:
            point = _row(group_dict(group_by, key), g, 0, confidence)
            point["bucket_start"] = iso(number * bucket_ns + offset_ns)
            point["change"] = None
            point["better"] = None
            point["p_vs_previous"] = None
            est = point.pop("_estimate")
            for drop in ("eligible", "p_vs_leader", "more_human_needed"):
                point.pop(drop)
            if previous is not None and est is not None:
                raw.append(diff_test(est, previous)[0])
                point["_pair"] = (est, previous)
            previous = est if est is not None else previous
            made.append(point)
        adjusted = iter(stats.adjust(raw, correction))
        for point in made:
            pair = point.pop("_pair", None)
            if pair is None:
                continue
            p = next(adjusted)
            point["p_vs_previous"] = p
            if p < alpha:
                point["change"] = "up" if pair[0].mean > pair[1].mean else "down"
                point["better"] = direction.better(pair[0].mean, pair[1].mean)
        points.extend(made)
    changes = [p for p in points if p["change"]]
    label = "Holm" if correction == "holm" else "Benjamini–Hochberg"
    if not points:
        verdict = f"no item has ratings from both {human_source} and {judge_source} yet"
    elif not changes:
        verdict = f"no significant change between consecutive buckets (PPI++, {label}-adjusted within each group)"
    else:
        first = changes[0]
        verdict = f"{len(changes)} significant change(s) (PPI++); first: {first['change']} at {first['bucket_start']}"
        verdict += f" for {format_group(first['group'])}" if first["group"] else ""
        verdict += f" ({'better' if first['better'] else 'worse'}: {direction.words})"
    return {
        "score": score,
        "bucket": bucket,
        "group_by": list(group_by),
        "estimator": "ppi",
        "method": METHOD,
        **direction.stated(),
        "confidence": confidence,
        "correction": correction,
        "points": points,
        "verdict": verdict,
    }
