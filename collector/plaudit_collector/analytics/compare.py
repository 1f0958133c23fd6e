"""compare(a, b): is group A better than group B on a score, by how much, and how sure are we?

Test chosen by the score (``test=auto``): yes/no scores use the two-proportion z-test, a Newcombe
interval for the difference and Beta(1, 1)-prior posteriors for P(A > B); ordinal scales (integer
ratings with at most 11 levels, e.g. 1–5 stars) use Mann–Whitney; other numeric scores use Welch's t
with its interval and a normal approximation for P(A > B). Preference scores compare the two groups
head to head: a sign test on decisive votes and a Beta posterior on A's win share.

``difference`` is always mean A − mean B; ``prob_a_better``, ``effect`` and the verdict follow the score's
direction (on a lower-is-better score, A is better when its mean is lower).
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import and_, case, func, select, true

from plaudit_collector.analytics import stats
from plaudit_collector.analytics.core import (
    FEEDBACK,
    Filters,
    connect,
    feedback_conditions,
    format_group,
    unit_scores,
)
from plaudit_collector.analytics.direction import resolve
from plaudit_collector.analytics.ppi_board import ppi_compare
from plaudit_collector.analytics.preferences import head_to_head
from plaudit_collector.analytics.rolled import SCAN, answerable, hint, scores_by_group, with_declared
from plaudit_collector.errors import ApiError
from plaudit_collector.store.db import Database

MAX_ORDINAL_LEVELS = 11


def _matches(units: Any, dims: list[str], group: dict[str, str | None]) -> Any:
    terms = []
    for i, name in enumerate(dims):
        value = group[name]
        column = units.c[f"d{i}"]
        terms.append(column.is_(None) if value is None else column == value)
    return and_(*terms)


def score_kinds(db: Database, project: str, score: str) -> set[str]:
    """The kinds of the score's current ratings, one index probe per kind (``ix_feedback_kinds``): a
    DISTINCT would read every rating of the score."""
    f = FEEDBACK
    current = [f.c.project == project, f.c.name == score, f.c.is_current == true(), f.c.deleted_at.is_(None)]
    kinds: set[str] = set()
    with connect(db) as conn:
        while True:
            after = [f.c.kind > max(kinds)] if kinds else []
            kind = conn.execute(select(f.c.kind).where(*current, *after).order_by(f.c.kind).limit(1)).scalar()
            if kind is None:
                return kinds
            kinds.add(kind)


def _raw_levels(db: Database, project: str, score: str, filters: Filters) -> list[float]:
    f = FEEDBACK
    query = (
        select(f.c.score)
        .where(*feedback_conditions(project, [score], filters))
        .distinct()
        .limit(MAX_ORDINAL_LEVELS + 1)
    )
    with connect(db) as conn:
        return [float(v) for v in conn.execute(query).scalars()]


def compare(
    db: Database,
    project: str,
    score: str,
    a: dict[str, str | None],
    b: dict[str, str | None],
    filters: Filters | None = None,
    *,
    test: str = "auto",
    higher_is_better: bool | None = None,
    confidence: float = stats.CONFIDENCE,
    estimator: str = "mean",
    human_source: str = "human",
    judge_source: str = "llm_judge",
) -> dict[str, Any]:
    """Difference A − B with its interval, a p-value, and P(A better than B) in the score's direction."""
    from scipy import stats as sps

    if estimator == "ppi":  # judge ratings corrected by human ones (analytics/ppi_board.py)
        return ppi_compare(
            db,
            project,
            score,
            a,
            b,
            filters,
            human_source=human_source,
            judge_source=judge_source,
            higher_is_better=higher_is_better,
            confidence=confidence,
        )
    filters = filters or Filters()
    if set(a) != set(b):
        raise ApiError(422, "invalid_field", "b: name the same dimensions as a", "b")
    if a == b:
        raise ApiError(422, "invalid_field", "b: the two groups are the same", "b")
    dims = list(a)
    b = {d: b[d] for d in dims}
    filters = with_declared(db, project, dims, filters)
    kinds = score_kinds(db, project, score)
    if "preference" in kinds:
        return _compare_preference(db, project, score, a, b, filters, confidence)
    direction = resolve(db, project, score, higher_is_better)
    alpha = 1 - confidence
    units = unit_scores(project, score, dims, filters, db.dialect, text=True)
    in_a, in_b = _matches(units, dims, a), _matches(units, dims, b)
    side = case((in_a, "a"), else_="b").label("side")
    picked = select(side, units.c.m, units.c.raters, units.c.nb).where(in_a | in_b).subquery("picked")
    agg = select(
        picked.c.side,
        func.count().label("n"),
        func.sum(picked.c.m).label("total"),
        func.sum(picked.c.m * picked.c.m).label("total_sq"),
        func.sum(picked.c.raters).label("ratings"),
        func.max(picked.c.nb).label("nb"),
    ).group_by(picked.c.side)
    if answerable(dims, filters):
        rows, path = scores_by_group(db, project, score, dims, filters)
        sides = {tuple(a.values()): "a", tuple(b.values()): "b"}
        found = {sides[tuple(row[: len(dims)])]: row for row in rows if tuple(row[: len(dims)]) in sides}
    else:
        path = SCAN
        with connect(db, project) as conn:
            found = {row.side: row for row in conn.execute(agg)}
    summaries = {
        s: stats.Summary(int(found[s].n), float(found[s].total), float(found[s].total_sq)) if s in found else None
        for s in ("a", "b")
    }
    non_boolean = any(row.nb for row in found.values()) or (bool(kinds) and kinds != {"boolean"})
    method = "t" if non_boolean else "wilson"
    out: dict[str, Any] = {
        "score": score,
        "kind": "numeric" if non_boolean else "boolean",
        "group_by": dims,
        "method": method,
        **direction.stated(),
        "confidence": confidence,
        "a": _side(a, summaries["a"], found.get("a"), method, confidence),
        "b": _side(b, summaries["b"], found.get("b"), method, confidence),
        "difference": None,
        "diff_ci_low": None,
        "diff_ci_high": None,
        "test": None,
        "p_value": None,
        "prob_a_better": None,
        "prob_method": None,
        "effect": None,
        "needed_per_group": None,
        "path": path,
        "path_hint": hint(dims, filters) if path == SCAN else None,
    }
    sa, sb = summaries["a"], summaries["b"]
    if sa is None or sb is None or sa.n < 2 or sb.n < 2:
        missing = format_group(a) if sa is None or sa.n < 2 else format_group(b)
        out["verdict"] = f"not enough feedback: {missing} needs at least 2 rated items"
        return out
    diff = (sa.mean or 0.0) - (sb.mean or 0.0)
    out["difference"] = diff
    if test == "auto":
        if method == "wilson":
            test = "two-proportion"
        else:
            levels = _raw_levels(db, project, score, filters)
            ordinal = len(levels) <= MAX_ORDINAL_LEVELS and all(float(v).is_integer() for v in levels)
            test = "mann-whitney" if ordinal else "welch"
    # P(A better): A above B, or below it when lower is better (the posteriors' roles swap).
    first, second = (sa, sb) if direction.higher_is_better else (sb, sa)
    if method == "wilson":
        out["diff_ci_low"], out["diff_ci_high"] = stats.newcombe(sa, sb, confidence)
        out["prob_a_better"], out["prob_method"] = (
            stats.prob_beta_greater(first, second),
            "beta posteriors, uniform priors",
        )
    else:
        _p, se, df = stats.welch(sa, sb)
        half = float(sps.t.ppf(0.5 + confidence / 2, df)) * se if se > 0 else 0.0
        out["diff_ci_low"], out["diff_ci_high"] = diff - half, diff + half
        out["prob_a_better"], out["prob_method"] = stats.prob_normal_greater(first, second), "normal approximation"
    if test == "two-proportion":
        out["p_value"] = stats.two_proportion_p(sa, sb)
    elif test == "mann-whitney":
        out["p_value"], effect = _mann_whitney(db, units, in_a, in_b)
        out["effect"] = effect if direction.higher_is_better else 1 - effect
    else:
        out["p_value"] = stats.welch(sa, sb)[0]
    out["test"] = test
    significant = out["p_value"] < alpha
    out["needed_per_group"] = None if significant else stats.needed_per_group(sa, sb, method, alpha=alpha)
    out["verdict"] = _verdict(out, a, b, significant, direction.better(sa.mean, sb.mean), direction.words)
    return out


def _side(
    group: dict[str, Any], summary: stats.Summary | None, row: Any, method: str, confidence: float
) -> dict[str, Any]:
    if summary is None:
        return {"group": group, "count": 0, "rated": 0, "mean": None, "ci_low": None, "ci_high": None}
    low, high = stats.interval(summary, method, confidence)
    return {
        "group": group,
        "count": int(row.ratings),
        "rated": summary.n,
        "mean": summary.mean,
        "ci_low": low,
        "ci_high": high,
    }


def _mann_whitney(db: Database, units: Any, in_a: Any, in_b: Any) -> tuple[float, float]:
    side = case((in_a, "a"), else_="b").label("side")
    table = select(side, units.c.m, func.count().label("n")).where(in_a | in_b).group_by(side, units.c.m)
    values: dict[str, tuple[list[float], list[int]]] = {"a": ([], []), "b": ([], [])}
    with connect(db) as conn:
        for row in conn.execute(table):
            values[row.side][0].append(float(row.m))
            values[row.side][1].append(int(row.n))
    return stats.mann_whitney(values["a"][0], values["a"][1], values["b"][0], values["b"][1])


def _verdict(
    out: dict[str, Any], a: dict[str, Any], b: dict[str, Any], significant: bool, a_better: bool, words: str
) -> str:
    diff, p = out["difference"], out["p_value"]
    interval = f"[{out['diff_ci_low']:.3g}, {out['diff_ci_high']:.3g}]"
    tail = f"({out['test']}, p = {p:.3g}; {words}); P(A better) = {out['prob_a_better']:.3f}"
    if significant and diff != 0:
        better, worse = (a, b) if a_better else (b, a)
        return f"{format_group(better)} beats {format_group(worse)} by {abs(diff):.3g} {interval} {tail}"
    text = f"no significant difference between {format_group(a)} and {format_group(b)}: {diff:+.3g} {interval} {tail}"
    if out["needed_per_group"]:
        text += f"; about {out['needed_per_group']} rated items per group would tell a difference this size"
    return text


def _compare_preference(
    db: Database, project: str, score: str, a: dict[str, Any], b: dict[str, Any], filters: Filters, confidence: float
) -> dict[str, Any]:
    from scipy import stats as sps

    a_wins, b_wins, ties = head_to_head(db, project, score, a, b, filters)
    n = a_wins + b_wins + ties
    out: dict[str, Any] = {
        "score": score,
        "kind": "preference",
        "group_by": list(a),
        "method": "wilson",
        "higher_is_better": True,
        "direction": "more wins is better",
        "direction_from": "preference",
        "confidence": confidence,
        "a": {"group": a, "wins": a_wins},
        "b": {"group": b, "wins": b_wins},
        "ties": ties,
        "comparisons": n,
        "difference": None,
        "diff_ci_low": None,
        "diff_ci_high": None,
        "test": "sign",
        "p_value": None,
        "prob_a_better": None,
        "prob_method": "beta posterior on A's win share, uniform prior",
        "effect": None,
        "needed_per_group": None,
    }
    if n == 0:
        out["verdict"] = f"no preferences compare {format_group(a)} with {format_group(b)} yet"
        return out
    share = (a_wins + ties / 2) / n
    low, high = stats.wilson(stats.Summary(n, a_wins + ties / 2, a_wins + ties / 2), confidence)
    out["effect"] = share
    out["a"].update(win_score=share, ci_low=low, ci_high=high)
    out["b"].update(win_score=1 - share, ci_low=1 - high, ci_high=1 - low)
    out["difference"], out["diff_ci_low"], out["diff_ci_high"] = 2 * share - 1, 2 * low - 1, 2 * high - 1
    decisive = a_wins + b_wins
    out["p_value"] = float(sps.binomtest(a_wins, decisive, 0.5).pvalue) if decisive else 1.0
    out["prob_a_better"] = float(sps.beta.sf(0.5, 1 + a_wins + ties / 2, 1 + b_wins + ties / 2))
    if out["p_value"] < 1 - confidence:
        better, worse = (a, b) if a_wins > b_wins else (b, a)
        out["verdict"] = (
            f"{format_group(better)} is preferred to {format_group(worse)} "
            f"({a_wins}–{b_wins}, {ties} ties; sign test p = {out['p_value']:.3g}); "
            f"P(A better) = {out['prob_a_better']:.3f}"
        )
    else:
        out["verdict"] = (
            f"no significant preference between {format_group(a)} and {format_group(b)} "
            f"({a_wins}–{b_wins}, {ties} ties; sign test p = {out['p_value']:.3g})"
        )
    if math.isnan(out["prob_a_better"]):
        out["prob_a_better"] = None
    return out
