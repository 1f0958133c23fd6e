"""Agreement among any number of raters: Krippendorff's alpha with a bootstrap interval, each rater against
the human consensus, and the disagreement list a review queue can be ordered by.

A rater is a feedback author (``<judge>@<hash>`` for a judge; the source when the author is empty). Which
raters count: ``raters="humans"`` (every source but ``llm_judge`` and ``code``), ``"judges"``
(``llm_judge``) or ``"all"``. Alpha comes from the ``krippendorff`` package (nominal, ordinal, interval);
its interval resamples items (1,000 bootstrap draws, seeded, so an answer is reproducible).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import case, func, select

from plaudit_collector.analytics import stats
from plaudit_collector.analytics.core import FEEDBACK, SOURCES, SPAN, Filters, connect, credited
from plaudit_collector.analytics.judged import narrowed
from plaudit_collector.errors import ApiError
from plaudit_collector.store.db import Database

if TYPE_CHECKING:
    import numpy as np

JUDGE_SOURCES = ("llm_judge",)
MACHINE_SOURCES = ("llm_judge", "code")
HUMAN_SOURCES = tuple(s for s in SOURCES if s not in MACHINE_SOURCES)
RATER_SETS = {"humans": HUMAN_SOURCES, "judges": JUDGE_SOURCES, "all": HUMAN_SOURCES + JUDGE_SOURCES}
LEVELS = ("nominal", "ordinal", "interval")
DEFAULT_BOOTSTRAP = 1000
MAX_ITEMS = 200_000


@dataclass
class Ratings:
    """Every rater's mean rating of every item, with each item's group and whether a rater is human."""

    values: dict[tuple[Any, Any], dict[str, float]] = field(default_factory=dict)
    groups: dict[tuple[Any, Any], tuple[Any, ...]] = field(default_factory=dict)
    human: dict[str, bool] = field(default_factory=dict)

    def human_mean(self, item: tuple[Any, Any], leave_out: str | None = None) -> float | None:
        found = [v for r, v in self.values[item].items() if self.human[r] and r != leave_out]
        return sum(found) / len(found) if found else None


def fetch(
    db: Database,
    project: str,
    score: str,
    filters: Filters,
    *,
    sources: Sequence[str],
    group_by: Sequence[str] = (),
    machine_sources: Sequence[str] = MACHINE_SOURCES,
) -> Ratings:
    """Per (item, rater): the mean of the rater's current ratings (one query, grouped in SQL). Raters of
    ``machine_sources`` are judges, the others human."""
    f = FEEDBACK
    rater = func.coalesce(f.c.author, f.c.source).label("rater")
    machine = case((f.c.source.in_(list(machine_sources)), 1), else_=0).label("machine")
    rated = credited(
        project,
        [score],
        group_by,
        replace(filters, sources=()),
        db.dialect,
        extra=[rater, machine],
        terms=[f.c.source.in_(narrowed(sources, filters))],
    ).subquery("rated")
    keys = [rated.c[f"d{i}"] for i in range(len(group_by))]
    query = (
        select(
            rated.c.u_span, rated.c.u_session, *keys, rated.c.rater, func.max(rated.c.machine), func.avg(rated.c.score)
        )
        .group_by(rated.c.u_span, rated.c.u_session, *keys, rated.c.rater)
        .limit(MAX_ITEMS * 10)
    )
    out = Ratings()
    with connect(db, project) as conn:
        for row in conn.execute(query):
            item = (row[0], row[1])
            out.values.setdefault(item, {})[row[-3]] = float(row[-1])
            out.groups[item] = tuple(row[2 : 2 + len(keys)])
            out.human[row[-3]] = not row[-2]
    return out


def alpha(
    matrix: np.ndarray, level: str, *, bootstrap: int = DEFAULT_BOOTSTRAP, seed: int = 0
) -> tuple[float | None, float | None, float | None]:
    """Krippendorff's alpha of a raters × items matrix (NaN = not rated) with a percentile bootstrap interval
    over items; None where undefined (fewer than two pairable values, or no variation at all)."""
    import krippendorff
    import numpy as np

    usable = np.sum(~np.isnan(matrix), axis=0) >= 2
    data = matrix[:, usable]
    if data.shape[1] < 2 or len(np.unique(data[~np.isnan(data)])) < 2:
        return None, None, None
    point = float(krippendorff.alpha(reliability_data=data, level_of_measurement=level))
    if not bootstrap:
        return point, None, None
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(bootstrap):
        sample = data[:, rng.integers(0, data.shape[1], data.shape[1])]
        if len(np.unique(sample[~np.isnan(sample)])) < 2:
            continue
        draws.append(krippendorff.alpha(reliability_data=sample, level_of_measurement=level))
    if len(draws) < bootstrap // 2:
        return point, None, None
    low, high = np.nanpercentile(draws, [100 * stats.ALPHA / 2, 100 * (1 - stats.ALPHA / 2)])
    return point, float(low), float(high)


def check_options(raters: str, level: str) -> None:
    if raters not in RATER_SETS:
        raise ApiError(422, "invalid_field", f"raters: use one of {', '.join(RATER_SETS)}", "raters")
    if level not in LEVELS:
        raise ApiError(422, "invalid_field", f"level: use one of {', '.join(LEVELS)}", "level")


def agreement_k(
    db: Database,
    project: str,
    score: str,
    filters: Filters | None = None,
    *,
    raters: str = "all",
    level: str = "interval",
    bootstrap: int = DEFAULT_BOOTSTRAP,
) -> dict[str, Any]:
    """Alpha over every rater in the set, and each rater against the consensus of the humans (the other
    humans, for a human rater) on the items both rated: n, mean difference, Pearson, and alpha."""
    import numpy as np

    check_options(raters, level)
    filters = filters or Filters()
    ratings = fetch(db, project, score, filters, sources=RATER_SETS[raters])
    names = sorted(ratings.human, key=lambda r: (not ratings.human[r], r))
    items = sorted(ratings.values, key=lambda k: (k[0] is None, k[0] or 0, k[1] or ""))
    matrix = np.full((len(names), len(items)), np.nan)
    index = {name: i for i, name in enumerate(names)}
    for j, item in enumerate(items):
        for rater, value in ratings.values[item].items():
            matrix[index[rater], j] = value
    point, low, high = alpha(matrix, level, bootstrap=bootstrap) if names else (None, None, None)
    per_rater = [_against_consensus(ratings, name, level) for name in names]
    multi = int(np.sum(np.sum(~np.isnan(matrix), axis=0) >= 2)) if names else 0
    verdict = (
        f"alpha {point:.2f} ({level}) over {len(names)} raters and {multi} items rated at least twice"
        if point is not None
        else "not enough items rated by two or more raters to measure agreement"
    )
    return {
        "score": score,
        "raters": raters,
        "level": level,
        "confidence": stats.CONFIDENCE,
        "alpha": point,
        "alpha_ci_low": low,
        "alpha_ci_high": high,
        "bootstrap": bootstrap,
        "items": len(items),
        "items_multi_rated": multi,
        "rater_count": len(names),
        "per_rater": per_rater,
        "verdict": verdict,
    }


def _against_consensus(ratings: Ratings, name: str, level: str) -> dict[str, Any]:
    import numpy as np

    pairs = []
    for item, values in ratings.values.items():
        if name in values:
            consensus = ratings.human_mean(item, leave_out=name)
            if consensus is not None:
                pairs.append((values[name], consensus))
    out: dict[str, Any] = {
        "rater": name,
        "human": ratings.human[name],
        "n": len(pairs),
        "mean_difference": None,
        "pearson": None,
        "alpha": None,
    }
    if pairs:
        mine, theirs = np.array(pairs).T
        out["mean_difference"] = float(np.mean(mine - theirs))
        if len(pairs) >= 3 and np.std(mine) > 0 and np.std(theirs) > 0:
            out["pearson"] = float(np.corrcoef(mine, theirs)[0, 1])
        out["alpha"] = alpha(np.vstack([mine, theirs]), level, bootstrap=0)[0]
    return out


def disagreements(
    db: Database,
    project: str,
    score: str,
    filters: Filters | None = None,
    *,
    mode: str = "judge_vs_human",
    limit: int = 100,
) -> dict[str, Any]:
    """Items where raters differ most, most first: ``mode="judge_vs_human"`` ranks by |judge mean − human
    mean| (items both rated), ``"raters"`` by the spread (max − min) among every rater of the item.

    What a review queue with ``order=disagreement`` calls: each entry names its target (``trace_id`` and
    ``span_id``, or ``session_id``) and carries ``disagreement``, ``human_mean``, ``judge_mean`` and the
    ratings per rater.
    """
    if mode not in ("judge_vs_human", "raters"):
        raise ApiError(422, "invalid_field", "mode: use judge_vs_human or raters", "mode")
    filters = filters or Filters()
    ratings = fetch(db, project, score, filters, sources=RATER_SETS["all"])
    scored: list[tuple[float, tuple[Any, Any]]] = []
    for item, values in ratings.values.items():
        humans = [v for r, v in values.items() if ratings.human[r]]
        judges = [v for r, v in values.items() if not ratings.human[r]]
        if mode == "judge_vs_human":
            if humans and judges:
                scored.append((abs(_mean(judges) - _mean(humans)), item))
        elif len(values) >= 2:
            scored.append((max(values.values()) - min(values.values()), item))
    scored.sort(key=lambda pair: (-pair[0], pair[1][0] or 0, pair[1][1] or ""))
    top = [pair for pair in scored[:limit] if pair[0] > 0]
    targets = targets_of(db, project, [item for _, item in top])
    out = []
    for spread, item in top:
        values = ratings.values[item]
        humans = {r: v for r, v in values.items() if ratings.human[r]}
        judges = {r: v for r, v in values.items() if not ratings.human[r]}
        out.append(
            {
                **targets.get(item, {"trace_id": None, "span_id": None, "session_id": item[1]}),
                "disagreement": spread,
                "human_mean": _mean(humans.values()) if humans else None,
                "judge_mean": _mean(judges.values()) if judges else None,
                "ratings": values,
            }
        )
    return {
        "score": score,
        "mode": mode,
        "items": out,
        "count": len(out),
        "candidates": len(scored),
        "verdict": _disagreement_verdict(out, len(scored), mode),
    }


def _mean(values: Iterable[float]) -> float:
    """Exactly rounded (``math.fsum``), so the same ratings give the same mean in whatever order the database
    returned them: equal gaps tie, and ties rank by target, on SQLite and PostgreSQL alike."""
    values = list(values)
    return math.fsum(values) / len(values)


def _disagreement_verdict(items: list[dict[str, Any]], candidates: int, mode: str) -> str:
    rated = "rated by humans and a judge" if mode == "judge_vs_human" else "rated by two or more raters"
    if not candidates:
        return f"no item {rated} yet"
    if not items:
        return f"the raters agree on all {candidates} item(s) {rated}"
    return (
        f"{len(items)} item(s) where the raters differ, the largest by {items[0]['disagreement']:.3g} "
        f"(of {candidates} item(s) {rated})"
    )


def targets_of(db: Database, project: str, items: Sequence[tuple[Any, Any]]) -> dict[tuple[Any, Any], dict[str, Any]]:
    """(u_span, u_session) → ``{trace_id, span_id, session_id}`` for the span items among them."""
    ids = [span for span, _ in items if span is not None]
    found: dict[tuple[Any, Any], dict[str, Any]] = defaultdict(dict)
    if not ids:
        return found
    with connect(db) as conn:
        for row in conn.execute(select(SPAN.c.id, SPAN.c.trace_id, SPAN.c.span_id).where(SPAN.c.id.in_(ids))):
            found[(row.id, None)] = {"trace_id": row.trace_id, "span_id": row.span_id, "session_id": None}
    return found
