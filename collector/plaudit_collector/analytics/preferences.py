"""Pairwise preferences: win scores, the head-to-head table and a Bradley–Terry ranking.

A preference item names an A side (``trace_id``/``span_id``) and a B side (``other_trace_id``/
``other_span_id``) with ``label`` "a", "b" or "tie"; a side without a span id means the trace's root
span. Span filters apply to both sides. A tie counts half a win for each side; a comparison between two
spans of the same group carries no information about the groups and is only counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, func, select, union_all

from plaudit_collector.analytics import stats
from plaudit_collector.analytics.core import (
    FEEDBACK,
    SPAN,
    Filters,
    connect,
    credit_joins,
    dimension,
    dimension_text,
    feedback_conditions,
    format_group,
    group_dict,
    span_conditions,
)
from plaudit_collector.store.db import Database

LABELS = ("a", "b", "tie")


def pair_rows(
    project: str,
    score: str,
    group_by: Sequence[str],
    filters: Filters,
    dialect: str,
    *,
    text: bool = False,
    extra: Sequence[str] = (),
) -> Any:
    """Subquery, one row per preference item: ``fid``, ``label``, the A side's dimensions ``a0..`` and the
    B side's ``b0..`` (plus ``a_<col>``/``b_<col>`` for ``extra`` span columns). A side names its span by
    id or, trace-level, as the trace's root span: the four combinations are UNION ALL branches so both
    planners keep using the span index."""
    f = FEEDBACK
    sa, sb = SPAN.alias("sa"), SPAN.alias("sb")
    make = dimension_text if text else dimension
    columns = [
        f.c.id.label("fid"),
        f.c.label.label("label"),
        *[make(name, sa).label(f"a{i}") for i, name in enumerate(group_by)],
        *[make(name, sb).label(f"b{i}") for i, name in enumerate(group_by)],
        *[sa.c[name].label(f"a_{name}") for name in extra],
        *[sb.c[name].label(f"b_{name}") for name in extra],
    ]
    terms = [
        *feedback_conditions(project, [score], filters, scored=False),
        f.c.kind == "preference",
        f.c.label.in_(LABELS),
        sa.c.project == project,
        sb.c.project == project,
        *span_conditions(filters, sa, dialect),
        *span_conditions(filters, sb, dialect),
    ]
    branches = [
        select(*columns).select_from(f.join(sa, on_a).join(sb, on_b)).where(*terms, *where_a, *where_b)
        for on_a, where_a in credit_joins(sa, f.c.trace_id, f.c.span_id)
        for on_b, where_b in credit_joins(sb, f.c.other_trace_id, f.c.other_span_id)
    ]
    return union_all(*branches).subquery("pairs")


def pair_counts(
    project: str, score: str, group_by: Sequence[str], filters: Filters, dialect: str, *, text: bool = False
) -> Select[Any]:
    """Rows ``a0.., b0.., label, n``: votes per (A group, B group, outcome), counted in SQL."""
    pairs = pair_rows(project, score, group_by, filters, dialect, text=text)
    keys = [pairs.c[f"a{i}"] for i in range(len(group_by))] + [pairs.c[f"b{i}"] for i in range(len(group_by))]
    return select(*keys, pairs.c.label, func.count().label("n")).group_by(*keys, pairs.c.label)


def preferences(
    db: Database, project: str, score: str, group_by: Sequence[str], filters: Filters | None = None
) -> dict[str, Any]:
    """Win scores with Wilson intervals, head-to-head counts and Bradley–Terry strengths, best first."""
    import numpy as np

    filters = filters or Filters()
    width = len(group_by)
    with connect(db) as conn:
        rows = conn.execute(pair_counts(project, score, group_by, filters, db.dialect)).all()
    keys: dict[tuple[Any, ...], int] = {}
    for row in rows:
        for key in (tuple(row[:width]), tuple(row[width : 2 * width])):
            keys.setdefault(key, len(keys))
    k = len(keys)
    wins = np.zeros((k, k))
    outcomes: dict[tuple[int, int], list[int]] = {}
    same_group = 0
    for row in rows:
        i, j = keys[tuple(row[:width])], keys[tuple(row[width : 2 * width])]
        n = int(row.n)
        if i == j:
            same_group += n
            continue
        lo, hi = (i, j) if i < j else (j, i)
        cell = outcomes.setdefault((lo, hi), [0, 0, 0])  # lo wins, hi wins, ties
        if row.label == "tie":
            wins[i, j] += 0.5 * n
            wins[j, i] += 0.5 * n
            cell[2] += n
        else:
            winner, loser = (i, j) if row.label == "a" else (j, i)
            wins[winner, loser] += n
            cell[0 if winner == lo else 1] += n
    groups = list(keys)
    result_rows: list[dict[str, Any]] = []
    if k:
        games = wins + wins.T
        fit = stats.bradley_terry(wins) if k > 1 else None
        for key, index in keys.items():
            n = int(round(games[index].sum()))
            won = float(wins[index].sum())
            low, high = stats.wilson(stats.Summary(n, won, won)) if n else (None, None)
            row: dict[str, Any] = {
                "group": group_dict(group_by, key),
                "comparisons": n,
                "wins": won,
                "win_score": won / n if n else None,
                "ci_low": low,
                "ci_high": high,
                "strength": None,
                "strength_ci_low": None,
                "strength_ci_high": None,
            }
            if fit is not None:
                beta, se = float(fit.strength[index]), float(fit.se[index])
                row.update(strength=beta, strength_ci_low=beta - stats.Z * se, strength_ci_high=beta + stats.Z * se)
            result_rows.append(row)
    result_rows.sort(key=lambda r: -(r["strength"] if r["strength"] is not None else (r["win_score"] or 0.0)))
    for rank, row in enumerate(result_rows, start=1):
        row["rank"] = rank
    head_to_head = [
        {
            "a": group_dict(group_by, groups[lo]),
            "b": group_dict(group_by, groups[hi]),
            "a_wins": counts[0],
            "b_wins": counts[1],
            "ties": counts[2],
        }
        for (lo, hi), counts in sorted(outcomes.items())
    ]
    return {
        "score": score,
        "group_by": list(group_by),
        "method": "bradley-terry",
        "confidence": stats.CONFIDENCE,
        "rows": result_rows,
        "head_to_head": head_to_head,
        "same_group_comparisons": same_group,
        "verdict": _verdict(result_rows),
    }


def _verdict(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no preferences yet for this score"
    if len(rows) == 1 or rows[0]["strength"] is None:
        return "only one group has preferences: nothing to rank"
    top, second = rows[0], rows[1]
    if top["strength_ci_low"] > second["strength_ci_high"]:
        return (
            f"{format_group(top['group'])} ranks first; its Bradley–Terry interval clears "
            f"{format_group(second['group'])}'s"
        )
    return (
        f"{format_group(top['group'])} ranks first, but its Bradley–Terry interval overlaps "
        f"{format_group(second['group'])}'s: not yet separated"
    )


def head_to_head(
    db: Database, project: str, score: str, a: dict[str, str | None], b: dict[str, str | None], filters: Filters
) -> tuple[int, int, int]:
    """(A wins, B wins, ties) over preferences that compare a span of group A with one of group B."""
    dims = list(a)
    width = len(dims)
    query = pair_counts(project, score, dims, filters, db.dialect, text=True)
    want_a = tuple(a[d] for d in dims)
    want_b = tuple(b[d] for d in dims)
    a_wins = b_wins = ties = 0
    with connect(db) as conn:
        for row in conn.execute(query):
            left, right = tuple(row[:width]), tuple(row[width : 2 * width])
            if (left, right) == (want_a, want_b):
                first = "a"
            elif (left, right) == (want_b, want_a):
                first = "b"
            else:
                continue
            n = int(row.n)
            if row.label == "tie":
                ties += n
            elif (row.label == "a") == (first == "a"):
                a_wins += n
            else:
                b_wins += n
    return a_wins, b_wins, ties
