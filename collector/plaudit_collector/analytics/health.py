"""Span-side health per group: span count, error rate, latency p50/p95, mean tokens and cost.

Read from the span rollup (see ``rollup``) whenever the grouping and filters only name rolled-up
dimensions (declared attributes included): whole UTC days come from the cells, the partial days at either
end of a time filter from the spans themselves, and the two are added up. Otherwise (users, sessions,
undeclared attributes, tags, metadata) every matching span is read. Percentiles come from log buckets 2%
wide (±1%), except on PostgreSQL when the spans are read directly, where ``percentile_cont`` gives them
exactly.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import case, func, select

from plaudit_collector.analytics.core import (
    DIMENSIONS,
    SPAN,
    Filters,
    connect,
    key_of,
    labelled,
    span_conditions,
)
from plaudit_collector.store import rollup
from plaudit_collector.store.db import Database

if TYPE_CHECKING:
    import numpy as np

ROLLUP = rollup.ROLLUP
DAY_NS = rollup.DAY_NS
SPAN_FIELDS = (
    "error_rate",
    "latency_p50_ms",
    "latency_p95_ms",
    "input_tokens_mean",
    "output_tokens_mean",
    "cost_mean",
)


def on_rollup(group_by: Sequence[str], filters: Filters) -> bool:
    """True when the rollup can answer: every dimension named is one it is keyed by."""
    names = [*group_by, *(name for name, _ in filters.where)]
    rolled = set(rollup.DIMS)
    declared = {name for name, _ in filters.slots}
    return (
        all((name in DIMENSIONS and DIMENSIONS[name] in rolled) or name in declared for name in names)
        and not filters.tags
        and not filters.metadata
    )


class _Groups:
    """Per-group sums and latency histograms, added up from cells and from span buckets.

    Histograms arrive as the cells' flat JSON arrays; a group's arrays are joined and parsed once, and
    counted with numpy, so a few thousand cells cost a few milliseconds."""

    def __init__(self) -> None:
        self.sums: dict[tuple[Any, ...], list[float]] = {}
        self.texts: dict[tuple[Any, ...], list[str]] = {}
        self.pairs: dict[tuple[Any, ...], list[int]] = {}

    def _sums(self, key: tuple[Any, ...], counts: Sequence[Any]) -> None:
        sums = self.sums.get(key)
        if sums is None:
            sums = self.sums[key] = [0] * len(rollup.COUNTS)
            self.texts[key], self.pairs[key] = [], []
        for i, value in enumerate(counts):
            sums[i] += value or 0

    def add_cell(self, key: tuple[Any, ...], counts: Sequence[Any], latency: str) -> None:
        self._sums(key, counts)
        if len(latency) > 2:
            self.texts[key].append(latency[1:-1])

    def add_bucket(self, key: tuple[Any, ...], counts: Sequence[Any], bucket: int, n: int) -> None:
        self._sums(key, counts)
        self.pairs[key] += (bucket, n)

    def result(self) -> dict[tuple[Any, ...], dict[str, Any]]:
        import numpy as np

        out = {}
        for key, sums in self.sums.items():
            if sums[0] <= 0:
                continue
            flat = json.loads("[" + ",".join(self.texts[key]) + "]") + self.pairs[key]
            pairs = np.array(flat, dtype=np.int64).reshape(-1, 2)
            p50, p95 = percentiles(pairs, (0.5, 0.95))
            out[key] = span_row(dict(zip(rollup.COUNTS, sums, strict=True)), p50, p95)
        return out


def percentiles(pairs: np.ndarray, quantiles: Sequence[float]) -> list[float | None]:
    """Quantiles of a histogram given as (bucket, count) rows, buckets in any order and repeated."""
    import numpy as np

    if not len(pairs):
        return [None for _ in quantiles]
    low = int(pairs[:, 0].min())
    counts = np.bincount(pairs[:, 0] - low, weights=pairs[:, 1])
    cum = np.cumsum(counts)
    total = float(cum[-1])
    out: list[float | None] = []
    for q in quantiles:
        index = int(np.searchsorted(cum, max(q * total, 1), side="left"))
        out.append(rollup.bucket_value(low + min(index, len(counts) - 1)))
    return out


def span_stats(
    db: Database, project: str, group_by: Sequence[str], filters: Filters
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Per group over all its spans: count, error rate, latency p50/p95, mean tokens (and cost)."""
    if on_rollup(group_by, filters):
        return _from_rollup(db, project, group_by, filters)
    if db.dialect == "postgresql":
        return _exact_postgres(db, project, group_by, filters)
    groups = _Groups()
    with connect(db) as conn:
        _add_span_buckets(conn, db.dialect, project, group_by, filters, groups)
    return groups.result()


def _measures() -> list[Any]:
    s = SPAN
    return [
        func.count().label("spans"),
        func.sum(case((s.c.status_code == "ERROR", 1), else_=0)).label("errors"),
        func.sum(s.c.input_tokens).label("in_sum"),
        func.count(s.c.input_tokens).label("in_n"),
        func.sum(s.c.output_tokens).label("out_sum"),
        func.count(s.c.output_tokens).label("out_n"),
        func.sum(s.c.cost).label("cost_sum"),
        func.count(s.c.cost).label("cost_n"),
    ]


def _add_span_buckets(
    conn: Any, dialect: str, project: str, group_by: Sequence[str], filters: Filters, groups: _Groups
) -> None:
    s = SPAN
    dims = labelled(group_by, slots=filters.slots)
    width = len(dims)
    floor_of = func.greatest if dialect == "postgresql" else func.max
    bucket = func.floor(func.ln(floor_of(s.c.duration_ms, rollup.MIN_DURATION_MS)) * rollup.LATENCY_BUCKETS_PER_E)
    bucket = bucket.label("b")
    terms = [s.c.project == project, *span_conditions(filters, s, dialect)]
    query = select(*dims, bucket, *_measures()).where(*terms).group_by(*dims, bucket)
    for row in conn.execute(query):
        counts = [getattr(row, name) for name in rollup.COUNTS]
        groups.add_bucket(key_of(row, width), counts, int(row.b), int(row.spans))


def _split(start: int | None, end: int | None) -> tuple[tuple[int | None, int | None] | None, list[Any]]:
    """A time filter as (first whole day, day after the last whole day), or None when no whole day lies
    inside, plus the span-time ranges at the edges that must be read from the spans."""
    first_day = None if start is None else -(-start // DAY_NS)
    end_day = None if end is None else end // DAY_NS
    if first_day is not None and end_day is not None and first_day >= end_day:
        return None, [(start, end)]
    edges = []
    if start is not None and first_day is not None and start < first_day * DAY_NS:
        edges.append((start, first_day * DAY_NS))
    if end is not None and end_day is not None and end_day * DAY_NS < end:
        edges.append((end_day * DAY_NS, end))
    return (first_day, end_day), edges


def _from_rollup(
    db: Database, project: str, group_by: Sequence[str], filters: Filters
) -> dict[tuple[Any, ...], dict[str, Any]]:
    days, edges = _split(filters.start_ns, filters.end_ns)
    groups = _Groups()
    with connect(db) as conn:
        if days is not None:
            first_day, end_day = days
            r = ROLLUP
            dims = labelled(group_by, r, slots=filters.slots)
            width = len(dims)
            terms = [
                r.c.project == project,
                *span_conditions(dataclasses.replace(filters, start_ns=None, end_ns=None), r, db.dialect),
            ]
            if first_day is not None:
                terms.append(r.c.day >= first_day)
            if end_day is not None:
                terms.append(r.c.day < end_day)
            query = select(*dims, *[r.c[name] for name in rollup.COUNTS], r.c.latency).where(*terms)
            for row in conn.execute(query):
                groups.add_cell(key_of(row, width), row[width : width + len(rollup.COUNTS)], row.latency)
        for edge_start, edge_end in edges:
            edge = dataclasses.replace(filters, start_ns=edge_start, end_ns=edge_end)
            _add_span_buckets(conn, db.dialect, project, group_by, edge, groups)
    return groups.result()


def _exact_postgres(
    db: Database, project: str, group_by: Sequence[str], filters: Filters
) -> dict[tuple[Any, ...], dict[str, Any]]:
    s = SPAN
    dims = labelled(group_by, slots=filters.slots)
    width = len(dims)
    terms = [s.c.project == project, *span_conditions(filters, s, db.dialect)]
    query = (
        select(
            *dims,
            *_measures(),
            func.percentile_cont(0.5).within_group(s.c.duration_ms).label("p50"),
            func.percentile_cont(0.95).within_group(s.c.duration_ms).label("p95"),
        )
        .where(*terms)
        .group_by(*dims)
    )
    out = {}
    with connect(db) as conn:
        for row in conn.execute(query):
            named = {name: getattr(row, name) for name in rollup.COUNTS}
            out[key_of(row, width)] = span_row(named, float(row.p50), float(row.p95))
    return out


def span_row(sums: dict[str, Any], p50: float | None, p95: float | None) -> dict[str, Any]:
    spans = int(sums.get("spans") or 0)
    return {
        "spans": spans,
        "error_rate": (int(sums.get("errors") or 0) / spans) if spans else None,
        "latency_p50_ms": p50,
        "latency_p95_ms": p95,
        "input_tokens_mean": _mean(sums.get("in_sum"), sums.get("in_n")),
        "output_tokens_mean": _mean(sums.get("out_sum"), sums.get("out_n")),
        "cost_mean": _mean(sums.get("cost_sum"), sums.get("cost_n")),
    }


def _mean(total: Any, n: Any) -> float | None:
    return float(total) / int(n) if n else None
