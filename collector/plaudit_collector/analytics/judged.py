"""Items rated by humans and by judges, side by side: the SQL under the judge report, PPI estimates, the
disagreement list and the informative ordering.

An item is what the analytics rate (a span, or a session for session-level feedback; see :mod:`.core`).
Per item and group: ``y`` the mean of its human ratings and ``hn`` their count; ``f`` the mean of its judge
ratings and ``jn`` their count. "Human" and "judge" are feedback sources (``human_source`` and
``judge_source``), optionally one judge author (``judge_author``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import ColumnElement, case, func, select

from plaudit_collector.analytics.core import FEEDBACK, SOURCES, Filters, credited
from plaudit_collector.analytics.ppi import Paired
from plaudit_collector.errors import ApiError

HUMAN = "human"
JUDGE = "llm_judge"


def check_sources(human_source: str, judge_source: str) -> None:
    for param, value in (("human_source", human_source), ("judge_source", judge_source)):
        if value not in SOURCES:
            raise ApiError(422, "invalid_field", f"{param}: {value[:50]!r} is not one of {', '.join(SOURCES)}", param)
    if human_source == judge_source:
        raise ApiError(422, "invalid_field", "judge_source: must differ from human_source", "judge_source")


def narrowed(sources: Sequence[str], filters: Filters) -> list[str]:
    """The rater sources a question reads, narrowed by the ``source`` filter when one is given (so
    ``source=human`` leaves no judge to set against the humans, rather than being ignored)."""
    return [s for s in sources if not filters.sources or s in filters.sources]


def items(
    project: str,
    score: str,
    group_by: Sequence[str],
    filters: Filters,
    dialect: str,
    *,
    human_source: str = HUMAN,
    judge_source: str = JUDGE,
    judge_author: str | None = None,
    text: bool = False,
    more_dims: Callable[[Any], list[ColumnElement[Any]]] | None = None,
    extra: Sequence[Any] = (),
) -> Any:
    """Subquery, one row per (item, group): d0.., ``u_span``, ``u_session``, ``y``, ``hn``, ``f``, ``jn``."""
    check_sources(human_source, judge_source)
    f = FEEDBACK
    is_judge = f.c.source == judge_source
    if judge_author is not None:
        is_judge = is_judge & (f.c.author == judge_author)
    side = case((f.c.source == human_source, "h"), (is_judge, "j"), else_="-").label("side")
    rated = credited(
        project,
        [score],
        group_by,
        replace(filters, sources=()),
        dialect,
        text=text,
        more_dims=more_dims,
        extra=[side, *extra],
        terms=[f.c.source.in_(narrowed([human_source, judge_source], filters))],
    ).subquery("rated")
    keys = [c for c in rated.c if c.name.startswith("d") and c.name[1:].isdigit()]
    human, judge = rated.c.side == "h", rated.c.side == "j"
    return (
        select(
            *keys,
            rated.c.u_span,
            rated.c.u_session,
            func.avg(case((human, rated.c.score))).label("y"),
            func.count(case((human, 1))).label("hn"),
            func.avg(case((judge, rated.c.score))).label("f"),
            func.count(case((judge, 1))).label("jn"),
        )
        .group_by(rated.c.u_span, rated.c.u_session, *keys)
        .subquery("judged")
    )


def paired_sums(units: Any, width: int) -> Any:
    """Per group: the :class:`Paired` sums, plus human-only items and rating counts."""
    keys = [units.c[f"d{i}"] for i in range(width)]
    both = (units.c.hn > 0) & (units.c.jn > 0)
    judge_only = (units.c.hn == 0) & (units.c.jn > 0)
    human_only = (units.c.hn > 0) & (units.c.jn == 0)
    y, f = units.c.y, units.c.f
    return select(
        *keys,
        func.count(case((both, 1))).label("n"),
        func.sum(case((both, y))).label("sum_y"),
        func.sum(case((both, y * y))).label("sum_yy"),
        func.sum(case((both, f))).label("sum_f"),
        func.sum(case((both, f * f))).label("sum_ff"),
        func.sum(case((both, y * f))).label("sum_yf"),
        func.count(case((judge_only, 1))).label("big_n"),
        func.sum(case((judge_only, f))).label("sum_u"),
        func.sum(case((judge_only, f * f))).label("sum_uu"),
        func.count(case((human_only, 1))).label("human_only"),
        func.sum(case((human_only, y))).label("sum_h"),
        func.sum(case((human_only, y * y))).label("sum_hh"),
        func.sum(units.c.hn).label("human_ratings"),
        func.sum(units.c.jn).label("judge_ratings"),
    ).group_by(*keys)


def to_paired(row: Any) -> Paired:
    def num(name: str) -> float:
        return float(getattr(row, name) or 0.0)

    return Paired(
        int(row.n),
        num("sum_y"),
        num("sum_yy"),
        num("sum_f"),
        num("sum_ff"),
        num("sum_yf"),
        int(row.big_n),
        num("sum_u"),
        num("sum_uu"),
    )
