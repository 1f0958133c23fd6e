"""How far to trust each judge: its ratings against the humans' on the same items.

Per judge (a feedback author of the judge source, ``<name>@<hash>``) and score, over items both it and
humans rated (the human value is the mean of the item's human ratings): bias (judge − human, mean with a
Student t interval), Pearson and Spearman correlation, Cohen's kappa (quadratic-weighted too) and
Krippendorff's alpha (interval, bootstrap interval) on the ratings, the confusion table of rounded ratings,
and the bias per group (e.g. per model or variant), each with its interval. A judge whose bias differs
between groups (Cochran's Q over the group biases, p < 0.05) is flagged, with the groups whose bias differs
from the rest (Holm-adjusted): such a judge reorders a judge-only leaderboard.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from plaudit_collector.analytics import stats
from plaudit_collector.analytics.core import Filters, check_group_by, format_group, group_dict
from plaudit_collector.analytics.judged import check_sources
from plaudit_collector.analytics.raters import alpha, fetch
from plaudit_collector.store.db import Database

if TYPE_CHECKING:
    import numpy as np

MAX_LEVELS = 11


def judge_report(
    db: Database,
    project: str,
    score: str,
    filters: Filters | None = None,
    *,
    group_by: Sequence[str] = ("variant",),
    human_source: str = "human",
    judge_source: str = "llm_judge",
    bootstrap: int = 1000,
) -> dict[str, Any]:
    """One entry per judge author, most items first; ``verdict`` sums up the largest problem."""
    import numpy as np

    filters = filters or Filters()
    dims = check_group_by(list(group_by), "group_by")
    check_sources(human_source, judge_source)
    ratings = fetch(
        db, project, score, filters, sources=[human_source, judge_source], group_by=dims, machine_sources=[judge_source]
    )
    judges = sorted(r for r, human in ratings.human.items() if not human)
    entries = []
    for judge in judges:
        y, f, groups = [], [], []
        for item, values in ratings.values.items():
            if judge not in values:
                continue
            humans = [v for r, v in values.items() if ratings.human[r]]
            if humans:
                y.append(sum(humans) / len(humans))
                f.append(values[judge])
                groups.append(ratings.groups[item])
        entries.append(_one(judge, np.array(y), np.array(f), groups, dims, bootstrap))
    entries.sort(key=lambda e: (-e["n"], e["judge"]))
    return {
        "score": score,
        "group_by": dims,
        "human_source": human_source,
        "judge_source": judge_source,
        "confidence": stats.CONFIDENCE,
        "judges": entries,
        "verdict": _verdict(entries, human_source, judge_source),
    }


def _t(values: np.ndarray) -> tuple[float | None, float | None, float | None]:
    n = len(values)
    if n == 0:
        return None, None, None
    summary = stats.Summary(n, float(values.sum()), float((values * values).sum()))
    low, high = stats.t_interval(summary)
    return summary.mean, low, high


def _one(
    judge: str, y: np.ndarray, f: np.ndarray, groups: list[tuple[Any, ...]], dims: list[str], bootstrap: int
) -> dict[str, Any]:
    import numpy as np
    from scipy import stats as sps

    name, _, digest = judge.partition("@")
    bias, low, high = _t(f - y)
    out: dict[str, Any] = {
        "judge": judge,
        "name": name,
        "hash": digest or None,
        "n": len(y),
        "human_mean": float(y.mean()) if len(y) else None,
        "judge_mean": float(f.mean()) if len(f) else None,
        "bias": bias,
        "bias_ci_low": low,
        "bias_ci_high": high,
        "pearson": None,
        "spearman": None,
        "kappa": None,
        "weighted_kappa": None,
        "alpha": None,
        "alpha_ci_low": None,
        "alpha_ci_high": None,
        "categories": [],
        "table": [],
        "groups": [],
        "group_bias_differs": None,
        "group_bias_p": None,
    }
    if len(y) >= 3 and np.std(y) > 0 and np.std(f) > 0:
        out["pearson"] = float(sps.pearsonr(y, f).statistic)
        out["spearman"] = float(sps.spearmanr(y, f).statistic)
    if len(y) >= 2:
        out["alpha"], out["alpha_ci_low"], out["alpha_ci_high"] = alpha(
            np.vstack([y, f]), "interval", bootstrap=bootstrap
        )
        _confusion(out, y, f)
    _by_group(out, y, f, groups, dims)
    return out


def _confusion(out: dict[str, Any], y: np.ndarray, f: np.ndarray) -> None:
    import numpy as np

    ry, rf = np.floor(y + 0.5), np.floor(f + 0.5)
    levels = np.arange(min(ry.min(), rf.min()), max(ry.max(), rf.max()) + 1)
    if len(levels) > MAX_LEVELS:
        return
    table = np.zeros((len(levels), len(levels)), dtype=np.int64)
    np.add.at(table, (np.searchsorted(levels, ry), np.searchsorted(levels, rf)), 1)
    kappa = stats.cohen_kappa(table, ordinal=True)
    out.update(
        kappa=kappa.kappa,
        weighted_kappa=kappa.weighted_kappa,
        categories=[int(v) for v in levels],
        table=table.tolist(),
    )


def _by_group(
    out: dict[str, Any], y: np.ndarray, f: np.ndarray, groups: list[tuple[Any, ...]], dims: list[str]
) -> None:
    import numpy as np
    from scipy import stats as sps

    if not dims:
        return
    diffs: dict[tuple[Any, ...], list[float]] = defaultdict(list)
    for key, d in zip(groups, (f - y).tolist(), strict=True):
        diffs[key].append(d)
    rows = []
    for key in sorted(diffs, key=lambda k: tuple("" if v is None else str(v) for v in k)):
        values = np.array(diffs[key])
        bias, low, high = _t(values)
        se = float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) >= 2 else None
        rows.append(
            {"group": group_dict(dims, key), "n": len(values), "bias": bias, "ci_low": low, "ci_high": high, "_se": se}
        )
    usable = [r for r in rows if r["_se"]]
    if len(usable) >= 2:
        weights = np.array([1 / r["_se"] ** 2 for r in usable])
        biases = np.array([r["bias"] for r in usable])
        pooled = float((weights * biases).sum() / weights.sum())
        q = float((weights * (biases - pooled) ** 2).sum())
        out["group_bias_p"] = float(sps.chi2.sf(q, len(usable) - 1))
        out["group_bias_differs"] = out["group_bias_p"] < stats.ALPHA
        raw = []
        for r in usable:
            rest = [o for o in usable if o is not r]
            w = np.array([1 / o["_se"] ** 2 for o in rest])
            others = float((w * np.array([o["bias"] for o in rest])).sum() / w.sum())
            se = math.sqrt(r["_se"] ** 2 + 1 / w.sum())
            raw.append(float(2 * sps.norm.sf(abs(r["bias"] - others) / se)))
        for r, p in zip(usable, stats.holm(raw), strict=True):
            r["p_vs_rest"] = p
            r["flagged"] = p < stats.ALPHA
    for r in rows:
        r.pop("_se")
        r.setdefault("p_vs_rest", None)
        r.setdefault("flagged", False)
    out["groups"] = rows


def _verdict(entries: list[dict[str, Any]], human_source: str, judge_source: str) -> str:
    rated = [e for e in entries if e["n"]]
    if not rated:
        return f"no item has ratings from both {human_source} and a {judge_source} rater yet"
    parts = []
    for e in rated:
        text = f"{e['judge']}: n={e['n']}"
        if e["bias_ci_low"] is not None:
            sure = e["bias_ci_low"] > 0 or e["bias_ci_high"] < 0
            text += f", bias {e['bias']:+.2f} [{e['bias_ci_low']:+.2f}, {e['bias_ci_high']:+.2f}]"
            text += " (real)" if sure else " (not distinguishable from 0)"
        if e["spearman"] is not None:
            text += f", Spearman {e['spearman']:.2f}"
        if e["group_bias_differs"]:
            flagged = [format_group(g["group"]) for g in e["groups"] if g["flagged"]]
            text += "; its bias differs between groups" + (f" ({'; '.join(flagged)})" if flagged else "")
            text += ": a judge-only leaderboard would be misordered"
        parts.append(text)
    return " | ".join(parts)
