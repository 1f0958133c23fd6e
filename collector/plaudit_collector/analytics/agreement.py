"""Agreement between two raters (humans vs an LLM judge, or two annotators) on the same items.

Each rater's ratings of an item are averaged (a label: its first in sort order) in one pass that
pivots the two raters into columns, then the pairs are counted in SQL. Yes/no and ordinal scores
(integers, at most 11 levels) get the confusion table on the rounded item means and Cohen's kappa
(ordinal: also quadratic-weighted kappa); numeric scores get Spearman's rho; labels get kappa over the
label set.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import case, func, literal, select

from plaudit_collector.analytics import stats
from plaudit_collector.analytics.core import FEEDBACK, Filters, connect, credited
from plaudit_collector.errors import ApiError
from plaudit_collector.store.db import Database

if TYPE_CHECKING:
    import numpy as np

MAX_LEVELS = 11


def agreement(
    db: Database,
    project: str,
    score: Sequence[str] | None,
    filters: Filters | None = None,
    *,
    by: str = "source",
    a: str = "human",
    b: str = "llm_judge",
) -> dict[str, Any]:
    """Per score name: items rated by both, kappa, Spearman and the confusion table."""
    filters = filters or Filters()
    if a == b:
        raise ApiError(422, "invalid_field", "rater_b: must differ from rater_a", "rater_b")
    f = FEEDBACK
    rater = f.c.source if by == "source" else f.c.author
    side = case((rater == a, literal("a")), else_=literal("b")).label("side")
    rated = credited(
        project,
        list(score) if score else None,
        [],
        filters,
        db.dialect,
        extra=[f.c.name.label("name"), f.c.label.label("label"), side],
        terms=[rater.in_([a, b]), f.c.kind != "preference"],
        scored=False,
    ).subquery("rated")
    is_a, is_b = rated.c.side == "a", rated.c.side == "b"
    per_item = (
        select(
            rated.c.name,
            func.avg(case((is_a, rated.c.score))).label("ma"),
            func.avg(case((is_b, rated.c.score))).label("mb"),
            func.min(case((is_a, rated.c.label))).label("la"),
            func.min(case((is_b, rated.c.label))).label("lb"),
            func.count(case((is_a, 1))).label("na"),
            func.count(case((is_b, 1))).label("nb"),
        )
        .group_by(rated.c.name, rated.c.u_span, rated.c.u_session)
        .subquery("items")
    )
    pairs = (
        select(per_item.c.name, per_item.c.ma, per_item.c.mb, per_item.c.la, per_item.c.lb, func.count().label("n"))
        .where(per_item.c.na > 0, per_item.c.nb > 0)
        .group_by(per_item.c.name, per_item.c.ma, per_item.c.mb, per_item.c.la, per_item.c.lb)
    )
    by_name: dict[str, list[Any]] = {}
    with connect(db, project) as conn:
        for row in conn.execute(pairs):
            by_name.setdefault(row.name, []).append(row)
    results = [_one(name, rows) for name, rows in sorted(by_name.items())]
    return {
        "by": by,
        "rater_a": a,
        "rater_b": b,
        "confidence": stats.CONFIDENCE,
        "scores": results,
        "verdict": _verdict(results, a, b),
    }


def _one(name: str, rows: list[Any]) -> dict[str, Any]:
    import numpy as np

    counts = np.array([int(r.n) for r in rows])
    n = int(counts.sum())
    scored = [r for r in rows if r.ma is not None and r.mb is not None]
    out: dict[str, Any] = {
        "name": name,
        "n": n,
        "kind": None,
        "kappa": None,
        "kappa_ci_low": None,
        "kappa_ci_high": None,
        "weighted_kappa": None,
        "observed_agreement": None,
        "spearman": None,
        "spearman_p": None,
        "categories": [],
        "table": [],
    }
    if scored:
        xa = np.array([float(r.ma) for r in scored])
        xb = np.array([float(r.mb) for r in scored])
        weights = np.array([int(r.n) for r in scored])
        out["spearman"], out["spearman_p"] = stats.spearman_from_pairs(xa, xb, weights)
        ra, rb = np.floor(xa + 0.5), np.floor(xb + 0.5)
        levels = np.unique(np.concatenate([ra, rb]))
        boolean = set(levels.tolist()) <= {0.0, 1.0} and np.all((xa >= 0) & (xa <= 1) & (xb >= 0) & (xb <= 1))
        if boolean:
            levels = np.array([0.0, 1.0])
        out["kind"] = "boolean" if boolean else "numeric"
        if len(levels) <= MAX_LEVELS:
            if not boolean:
                levels = np.arange(levels.min(), levels.max() + 1)
                out["kind"] = "ordinal" if len(levels) <= MAX_LEVELS else "numeric"
            if len(levels) <= MAX_LEVELS:
                table = np.zeros((len(levels), len(levels)), dtype=np.int64)
                np.add.at(table, (np.searchsorted(levels, ra), np.searchsorted(levels, rb)), weights)
                _fill_kappa(out, table, [_level(v) for v in levels], ordinal=out["kind"] == "ordinal")
        return out
    labelled = [r for r in rows if r.la is not None and r.lb is not None]
    if labelled:
        cats = sorted({r.la for r in labelled} | {r.lb for r in labelled})
        index = {c: i for i, c in enumerate(cats)}
        table = np.zeros((len(cats), len(cats)), dtype=np.int64)
        for r in labelled:
            table[index[r.la], index[r.lb]] += int(r.n)
        out["kind"] = "categorical"
        _fill_kappa(out, table, cats, ordinal=False)
    return out


def _level(value: float) -> Any:
    return int(value) if float(value).is_integer() else float(value)


def _fill_kappa(out: dict[str, Any], table: np.ndarray, categories: list[Any], *, ordinal: bool) -> None:
    kappa = stats.cohen_kappa(table, ordinal=ordinal)
    out.update(
        kappa=kappa.kappa,
        kappa_ci_low=kappa.ci_low,
        kappa_ci_high=kappa.ci_high,
        weighted_kappa=kappa.weighted_kappa,
        observed_agreement=kappa.observed_agreement,
        categories=categories,
        table=table.tolist(),
    )


def strength(kappa: float | None) -> str:
    """Landis & Koch's words for a kappa."""
    if kappa is None:
        return "undefined"
    for bound, word in ((0.0, "poor"), (0.2, "slight"), (0.4, "fair"), (0.6, "moderate"), (0.8, "substantial")):
        if kappa <= bound:
            return word
    return "almost perfect"


def _verdict(results: list[dict[str, Any]], a: str, b: str) -> str:
    if not results:
        return f"no item has ratings from both {a} and {b} yet"
    parts = []
    for r in results:
        if r["kappa"] is not None:
            parts.append(f"{r['name']}: kappa {r['kappa']:.2f} ({strength(r['kappa'])}, n={r['n']})")
        elif r["spearman"] is not None:
            parts.append(f"{r['name']}: Spearman {r['spearman']:.2f} (n={r['n']})")
        else:
            parts.append(f"{r['name']}: undefined (n={r['n']})")
    return f"{a} vs {b} — " + "; ".join(parts)
