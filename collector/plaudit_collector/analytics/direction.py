"""Score direction: whether a higher or a lower score is better, and from where that was taken.

A query's ``higher_is_better`` wins, then the score config's, then the default (higher is better). Every
ranked answer states the direction it used, so a reader can tell "best" from "highest".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from plaudit_collector.analytics.core import connect
from plaudit_collector.store.db import Database
from plaudit_collector.store.score_configs import higher_is_better


@dataclass(frozen=True)
class Direction:
    higher_is_better: bool = True
    source: str = "default"
    """``query`` (or ``experiment``: whoever gave it explicitly), ``score config`` or ``default``."""

    def good(self, value: float) -> float:
        """``value`` on a scale where more is better (negated when lower is better)."""
        return value if self.higher_is_better else -value

    def better(self, a: float | None, b: float | None) -> bool:
        """Strictly better in this direction (a missing value is never better)."""
        if a is None or b is None:
            return a is not None and b is None
        return a > b if self.higher_is_better else a < b

    def goodness(self, mean: float | None, low: float | None, high: float | None) -> tuple[float, float]:
        """(pessimistic interval bound, mean) on a more-is-better scale, what rankings sort by: the lower bound
        when higher is better, the upper one when lower is; unknown values rank last."""
        bound = low if self.higher_is_better else high
        worst = float("-inf")
        return (self.good(bound) if bound is not None else worst, self.good(mean) if mean is not None else worst)

    @property
    def words(self) -> str:
        return "higher is better" if self.higher_is_better else "lower is better"

    def stated(self) -> dict[str, Any]:
        """The fields every ranked answer carries."""
        return {"higher_is_better": self.higher_is_better, "direction": self.words, "direction_from": self.source}


def resolve(
    db: Database, project: str, score: str | None, override: bool | None, *, override_from: str = "query"
) -> Direction:
    """The direction for ``score``: the override (the query's, or an experiment's own setting), else its score
    config's, else higher is better."""
    if override is not None:
        return Direction(bool(override), override_from)
    if score is None:
        return Direction()
    with connect(db) as conn:
        declared = higher_is_better(conn, project, score)
    return Direction() if declared is None else Direction(declared, "score config")
