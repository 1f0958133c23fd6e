"""Ask humans where it matters: the judge-rated spans whose human rating would shrink the leaderboard's
uncertainty most (a review queue's ``order=informative``).

Only groups still in contention count: the leader candidate of the ``estimator=ppi`` leaderboard (in the
score's direction, :mod:`.direction`) and every group whose interval overlaps its interval (a group without
any human rating yet comes first: it has no honest interval at all). Spans are then picked greedily: each next
span goes to the group whose PPI++ variance one more human rating reduces most
(``Var(Y − λF)/n − Var(Y − λF)/(n + 1)``, shrinking as a group is picked), and within a group to the span with
the largest expected judge–human disagreement: the mean |human − judge| of the group's already-rated items with
the same (rounded) judge rating.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from plaudit_collector.analytics.core import Filters, check_group_by, connect, group_dict
from plaudit_collector.analytics.direction import Direction, resolve
from plaudit_collector.analytics.judged import HUMAN, JUDGE, items
from plaudit_collector.analytics.ppi import Estimate
from plaudit_collector.analytics.ppi_board import group_estimates
from plaudit_collector.analytics.raters import targets_of
from plaudit_collector.store.db import Database

MAX_CANDIDATES = 20_000


def informative(
    db: Database,
    project: str,
    score: str,
    group_by: Sequence[str] = ("variant",),
    filters: Filters | None = None,
    *,
    human_source: str = HUMAN,
    judge_source: str = JUDGE,
    higher_is_better: bool | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """Up to ``limit`` spans, most informative first: ``{trace_id, span_id, group, judge_mean,
    expected_disagreement, variance_reduction}``; ``contenders`` names the groups considered."""
    filters = filters or Filters()
    dims = check_group_by(list(group_by) or ["variant"])
    direction = resolve(db, project, score, higher_is_better)
    groups = group_estimates(db, project, score, dims, filters, human_source=human_source, judge_source=judge_source)
    contenders = _contenders(groups, direction)
    units = items(project, score, dims, filters, db.dialect, human_source=human_source, judge_source=judge_source)
    keys = [units.c[f"d{i}"] for i in range(len(dims))]
    rows = select(*keys, units.c.u_span, units.c.y, units.c.f, units.c.hn).where(units.c.jn > 0)
    gaps: dict[tuple[Any, ...], dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
    pool: dict[tuple[Any, ...], list[tuple[float, int]]] = defaultdict(list)
    with connect(db, project) as conn:
        for row in conn.execute(rows.limit(MAX_CANDIDATES * 5)):
            key = tuple(row[: len(dims)])
            if key not in contenders:
                continue
            if row.hn:
                gaps[key][round(float(row.f))].append(abs(float(row.y) - float(row.f)))
            elif row.u_span is not None and len(pool[key]) < MAX_CANDIDATES:
                pool[key].append((float(row.f), int(row.u_span)))
    ranked = {key: _by_expected_gap(pool[key], gaps[key]) for key in contenders}
    heap = [(-_reduction(groups[key]["estimate"], 0), i, key, 0) for i, key in enumerate(contenders) if ranked[key]]
    heapq.heapify(heap)
    picked: list[tuple[tuple[Any, ...], float, int, float, float]] = []
    while heap and len(picked) < limit:
        neg_gain, order, key, taken = heapq.heappop(heap)
        f, span, expected = ranked[key][taken]
        picked.append((key, f, span, expected, -neg_gain))
        if taken + 1 < len(ranked[key]):
            heapq.heappush(heap, (-_reduction(groups[key]["estimate"], taken + 1), order, key, taken + 1))
    targets = targets_of(db, project, [(span, None) for _, _, span, _, _ in picked])
    out = [
        {
            **targets.get((span, None), {}),
            "group": group_dict(dims, key),
            "judge_mean": f,
            "expected_disagreement": expected,
            "variance_reduction": None if gain == float("inf") else gain,
        }
        for key, f, span, expected, gain in picked
    ]
    return {
        "score": score,
        "group_by": dims,
        **direction.stated(),
        "human_source": human_source,
        "judge_source": judge_source,
        "contenders": [group_dict(dims, key) for key in contenders],
        "items": out,
        "count": len(out),
        "verdict": _verdict(len(out), len(contenders), bool(groups), direction),
    }


def _verdict(count: int, contenders: int, any_group: bool, direction: Direction) -> str:
    if not any_group:
        return "no item has judge or human ratings of this score yet"
    if not count:
        return f"no judge-rated span without a human rating in the {contenders} group(s) contending for the lead"
    return (
        f"{count} span(s) to rate next, from the {contenders} group(s) still contending for the lead "
        f"({direction.words})"
    )


def _contenders(groups: dict[tuple[Any, ...], dict[str, Any]], direction: Direction) -> list[tuple[Any, ...]]:
    """The leader candidate (best pessimistic bound in the score's direction) and the groups whose interval
    overlaps it; unlabelled groups first."""
    unknown = [k for k, g in groups.items() if g["estimate"] is None or g["estimate"].ci_low is None]
    known = {k: g["estimate"] for k, g in groups.items() if k not in unknown}
    if not known:
        return unknown
    best = max(known, key=lambda k: direction.goodness(known[k].mean, known[k].ci_low, known[k].ci_high))
    low, high = known[best].ci_low, known[best].ci_high
    overlapping = [k for k, e in known.items() if e.ci_high >= low and e.ci_low <= high]
    return unknown + sorted(overlapping, key=lambda k: -_reduction(known[k], 0))


def _reduction(est: Estimate | None, taken: int) -> float:
    """How much the group's variance drops with its (taken + 1)-th new human rating; a group without an
    interval yet goes first until it has the two ratings an interval needs."""
    if est is None or est.se is None:
        return float("inf") if taken < 2 else 0.0
    return est.se_with(taken) ** 2 - est.se_with(taken + 1) ** 2


def _by_expected_gap(pool: list[tuple[float, int]], gaps: dict[float, list[float]]) -> list[tuple[float, int, float]]:
    everything = [g for values in gaps.values() for g in values]
    fallback = sum(everything) / len(everything) if everything else 0.0
    scored = []
    for f, span in pool:
        seen = gaps.get(round(f))
        scored.append((f, span, sum(seen) / len(seen) if seen else fallback))
    scored.sort(key=lambda t: (-t[2], t[1]))
    return scored
