"""What an experiment has observed: its rated choices (from the feedback rows' span copies) and its traffic
(from the spans its choices stamped).

A rated unit is a span an experiment's choice stamped that has current feedback with a score on the
experiment's score; its reward is the mean of its raters (as on the leaderboard). Choices nobody rated yet
are not read at all: missing feedback is no observation, never a loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, distinct, func, select

from plaudit_collector.store import copies
from plaudit_collector.store.db import Database
from plaudit_collector.store.tables import Feedback, Span

FEEDBACK = Feedback.__table__  # type: ignore[attr-defined]
SPANS = Span.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Rewards:
    """One (segment, variant) cell of rated units, in raw score units.

    ``n``/``total``/``total_sq`` are over units; ``ratings`` counts the feedback rows behind them;
    ``numeric`` is true when any rating was not a yes/no. The ``w*`` sums are over units whose choice
    probability ``p`` is known (``n_p`` of them), with ``w = 1/p``: what inverse-propensity estimates need.
    """

    segment: str | None
    variant: str
    n: int
    ratings: int
    total: float
    total_sq: float
    numeric: bool
    n_p: int
    sw: float
    swr: float
    sw2: float
    sw2r: float
    sw2r2: float


def settle(db: Database, project: str, score: str) -> None:
    """PostgreSQL only: credit ratings of ``score`` still waiting for a span that is stored (a collector
    stopped between a commit and its ``copies.recheck``), so a report counts every rating whose span is
    stored. SQLite serialises writers, so nothing is left waiting there."""
    if db.dialect != "postgresql":
        return
    with db.writing(), db.engine.begin() as conn:
        copies.resolve_all(conn, project, names=[score])


def rewards(
    db: Database, project: str, experiment: str, score: str, *, start_ns: int | None = None, end_ns: int | None = None
) -> list[Rewards]:
    """Per (segment, variant): the rated units of ``experiment`` on ``score`` (spans started in the window)."""
    f = FEEDBACK
    terms = [
        f.c.project == project,
        f.c.span_experiment == experiment,
        f.c.name == score,
        f.c.is_current.is_(True),
        f.c.deleted_at.is_(None),
        f.c.score.is_not(None),
        f.c.span_pk.is_not(None),
    ]
    if start_ns is not None:
        terms.append(f.c.span_start_ns >= start_ns)
    if end_ns is not None:
        terms.append(f.c.span_start_ns < end_ns)
    units = (
        select(
            func.max(f.c.span_experiment_segment).label("segment"),
            func.max(f.c.span_variant).label("variant"),
            func.max(f.c.span_experiment_probability).label("p"),
            func.avg(f.c.score).label("m"),
            func.count().label("raters"),
            func.max(case((f.c.kind == "boolean", 0), else_=1)).label("nb"),
        )
        .where(*terms)
        .group_by(f.c.span_pk)
        .subquery("units")
    )
    m, w = units.c.m, 1.0 / units.c.p
    query = select(
        units.c.segment,
        units.c.variant,
        func.count().label("n"),
        func.sum(units.c.raters).label("ratings"),
        func.sum(m).label("total"),
        func.sum(m * m).label("total_sq"),
        func.max(units.c.nb).label("nb"),
        func.count(units.c.p).label("n_p"),
        func.sum(w).label("sw"),
        func.sum(w * m).label("swr"),
        func.sum(w * w).label("sw2"),
        func.sum(w * w * m).label("sw2r"),
        func.sum(w * w * m * m).label("sw2r2"),
    ).group_by(units.c.segment, units.c.variant)
    with db.read_engine.connect() as conn:
        rows = list(conn.execute(query))
    return [
        Rewards(
            segment=row.segment,
            variant=row.variant,
            n=int(row.n),
            ratings=int(row.ratings or 0),
            total=float(row.total or 0.0),
            total_sq=float(row.total_sq or 0.0),
            numeric=bool(row.nb),
            n_p=int(row.n_p or 0),
            sw=float(row.sw or 0.0),
            swr=float(row.swr or 0.0),
            sw2=float(row.sw2 or 0.0),
            sw2r=float(row.sw2r or 0.0),
            sw2r2=float(row.sw2r2 or 0.0),
        )
        for row in rows
        if row.variant is not None
    ]


def traffic(
    db: Database,
    project: str,
    experiment: str,
    *,
    start_ns: int | None = None,
    end_ns: int | None = None,
    bucket_ns: int | None = None,
) -> list[dict[str, Any]]:
    """Choices per (time bucket, segment, variant): distinct choice ids among the spans they stamped (the
    trace stands in for a choice id a non-Plaudit producer did not set). ``bucket`` is None without
    ``bucket_ns``, else the bucket's start in ns."""
    s = SPANS
    terms = [s.c.project == project, s.c.experiment == experiment]
    if start_ns is not None:
        terms.append(s.c.start_ns >= start_ns)
    if end_ns is not None:
        terms.append(s.c.start_ns < end_ns)
    keys: list[Any] = [s.c.experiment_segment.label("segment"), s.c.variant.label("variant")]
    if bucket_ns is not None:
        keys.insert(0, (s.c.start_ns // bucket_ns * bucket_ns).label("bucket"))
    choice = func.coalesce(s.c.experiment_choice, s.c.trace_id)
    query = select(*keys, func.count(distinct(choice)).label("choices")).where(*terms).group_by(*keys)
    with db.read_engine.connect() as conn:
        return [
            {
                "bucket": int(row.bucket) if bucket_ns is not None else None,
                "segment": row.segment,
                "variant": row.variant,
                "choices": int(row.choices),
            }
            for row in conn.execute(query)
            if row.variant is not None
        ]
