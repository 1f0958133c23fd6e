"""Per-group score sums, from the score rollup when it can answer, from the ratings otherwise.

The score rollup (``store/score_rollup.py``) holds, per project, score, UTC day and combination of the
rolled-up span dimensions, the sums the estimators need over rated items (raters averaged per item, as
``core.unit_scores`` does). A question whose dimensions and filters the cells carry (no undeclared
attributes, tags,
metadata, rating source or author; times on whole UTC days; trend buckets of whole days) reads a few
thousand cells, whatever the history; session-level ratings, which credit several spans, are always read
from the ratings and added. Anything else takes the scan path, with the same answer.
"""

from __future__ import annotations

import dataclasses
from collections import namedtuple
from collections.abc import Sequence
from typing import Any

from sqlalchemy import case, func, literal, select

from plaudit_collector.analytics.core import DIMENSIONS, Filters, connect, group_scores, unit_scores
from plaudit_collector.store import dimensions
from plaudit_collector.store.db import Database
from plaudit_collector.store.rollup import DAY_NS
from plaudit_collector.store.rollup import DIMS as SPAN_DIMS
from plaudit_collector.store.score_rollup import CELL_DIMS, CELLS

CELL_COLUMN = dict(zip(SPAN_DIMS, CELL_DIMS, strict=True))
"""Span column → the cell column holding it."""
FIELDS = ("n", "total", "total_sq", "ratings", "max_raters", "nb", "rated_spans")
ROLLUP = "rollup"
SCAN = "scan"
Bucket = tuple[int, int]  # (width, offset) in nanoseconds: trend buckets by span start


def with_declared(db: Database, project: str, group_by: Sequence[str], filters: Filters) -> Filters:
    """``filters`` with the project's declared attribute dimensions (``store/dimensions.py``) that the
    question names, once they are filled in: those read their columns and the rollups, not the JSON."""
    names = [*group_by, *(name for name, _ in filters.where)]
    if not any(name.startswith("attr.") for name in names):
        return filters
    with db.read_engine.connect() as conn:
        slots = dimensions.declared(conn, project).slots
    wanted = tuple((name, slot) for name, slot in slots if name in names)
    return dataclasses.replace(filters, slots=wanted) if wanted else filters


def _column_of(name: str, filters: Filters) -> str | None:
    """The cell column holding a dimension, or None when the cells do not carry it."""
    column = CELL_COLUMN.get(DIMENSIONS.get(name, ""))
    if column is None:
        column = dict(filters.slots).get(name)
    return column


def answerable(group_by: Sequence[str], filters: Filters, bucket: Bucket | None = None) -> bool:
    """True when the score rollup holds every dimension and filter of the question."""
    names = [*group_by, *(name for name, _ in filters.where)]
    if any(_column_of(name, filters) is None for name in names):
        return False
    if filters.tags or filters.metadata or filters.sources or filters.authors:
        return False
    times = [filters.start_ns, filters.end_ns, *(bucket or ())]
    return all(t is None or t % DAY_NS == 0 for t in times)


def hint(group_by: Sequence[str], filters: Filters, bucket: Bucket | None = None) -> str | None:
    """Why a question was answered by a scan, and what would make it fast; None when nothing would."""
    declared = {name for name, _ in filters.slots}
    attrs = sorted({n for n in [*group_by, *(n for n, _ in filters.where)] if n.startswith("attr.")} - declared)
    if attrs:
        keys = " ".join(f"--dimension {name[5:]}" for name in attrs)
        return (
            f"{', '.join(attrs)} read every span's attributes; declare them (`plaudit projects set PROJECT {keys}`) "
            "to read the rollups (keys just declared read them once their stored spans are filled in)"
        )
    if filters.tags or filters.metadata or filters.sources or filters.authors:
        return "tag, metadata, source and author filters read every rating"
    if any(t is not None and t % DAY_NS for t in (filters.start_ns, filters.end_ns)):
        return "from/to inside a UTC day read every rating; whole days (midnight UTC) read the rollup"
    if bucket is not None and any(t % DAY_NS for t in bucket):
        return "hour buckets read every rating; day and week buckets read the rollup"
    return None


def scores_by_group(
    db: Database,
    project: str,
    score: str,
    group_by: Sequence[str],
    filters: Filters,
    *,
    bucket: Bucket | None = None,
    use_rollup: bool = True,
) -> tuple[list[Any], str]:
    """Rows ``d0, d1, ... (then the bucket number), n, total, total_sq, ratings, max_raters, nb,
    rated_spans`` per group, and the path that answered (``"rollup"`` or ``"scan"``)."""
    width = len(group_by)
    more = _bucket_of(bucket, width) if bucket else None
    with connect(db, project) as conn:
        if not (use_rollup and answerable(group_by, filters, bucket)):
            units = unit_scores(project, score, group_by, filters, db.dialect, more_dims=more)
            return list(conn.execute(group_scores(units, width + (bucket is not None))).all()), SCAN
        cells = conn.execute(_cells_query(project, score, group_by, filters, bucket)).all()
        units = unit_scores(project, score, group_by, filters, db.dialect, more_dims=more, spans=False)
        sessions = conn.execute(group_scores(units, width + (bucket is not None))).all()
    return _merged(cells, sessions, width + (bucket is not None)), ROLLUP


def _bucket_of(bucket: Bucket, width: int) -> Any:
    size, offset = bucket

    def more_dims(table: Any) -> list[Any]:
        return [((table.c.start_ns - literal(offset)) // literal(size)).label(f"d{width}")]

    return more_dims


def _cells_query(project: str, score: str, group_by: Sequence[str], filters: Filters, bucket: Bucket | None) -> Any:
    c = CELLS.c
    keys = [c[_column_of(name, filters)].label(f"d{i}") for i, name in enumerate(group_by)]
    if bucket is not None:
        size, offset = bucket
        keys.append(((c.day * literal(DAY_NS) - literal(offset)) // literal(size)).label(f"d{len(group_by)}"))
    terms = [c.project == project, c.name == score]
    if filters.start_ns is not None:
        terms.append(c.day >= filters.start_ns // DAY_NS)
    if filters.end_ns is not None:
        terms.append(c.day < filters.end_ns // DAY_NS)
    if filters.span_names:
        terms.append(c.span_name.in_(filters.span_names))
    if filters.span_kinds:
        terms.append(c.span_kind.in_(filters.span_kinds))
    for name, value in filters.where:
        column = c[_column_of(name, filters)]
        terms.append(column.is_(None) if value is None else column == value)
    return (
        select(
            *keys,
            func.sum(c["items"]).label("n"),
            func.sum(c.total).label("total"),
            func.sum(c.total_sq).label("total_sq"),
            func.sum(c.ratings).label("ratings"),
            func.max(c.top_raters).label("max_raters"),
            func.max(case((c.nb_items > 0, 1), else_=0)).label("nb"),
            func.sum(c["items"]).label("rated_spans"),
        )
        .where(*terms)
        .group_by(*keys)
    )


def _merged(cells: Sequence[Any], sessions: Sequence[Any], width: int) -> list[Any]:
    """Cells' groups plus session-level items' groups (items add up; the most raters is the larger)."""
    row_type = namedtuple("row_type", [*(f"d{i}" for i in range(width)), *FIELDS])  # type: ignore[misc]
    out: dict[tuple[Any, ...], list[Any]] = {}
    for row in [*cells, *sessions]:
        key = tuple(row[:width])
        values = [row.n or 0, row.total or 0.0, row.total_sq or 0.0, row.ratings or 0, row.max_raters or 0]
        values += [int(bool(row.nb)), row.rated_spans or 0]
        seen = out.get(key)
        if seen is None:
            out[key] = values
            continue
        for i in (0, 1, 2, 3, 6):
            seen[i] += values[i]
        seen[4], seen[5] = max(seen[4], values[4]), max(seen[5], values[5])
    return [row_type(*key, *values) for key, values in out.items()]
