"""Finding the spans a judge should rate: new ones since its watermark (the worker), or stored ones in a
time range (backfill); and reading what the rubric shows the judge.

Sampling is a pure function of (judge name, span): every scan and every worker makes the same choice, so a
rescan never adds a span that was left out, and a rubric edit rates the same sample again.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from sqlalchemy import select

from plaudit import semconv
from plaudit_collector.analytics.core import FEEDBACK, SPAN, span_conditions
from plaudit_collector.judges.spec import to_filters
from plaudit_collector.store import judge_runs, judges, trace_days
from plaudit_collector.store.db import Database

SCAN_BATCH = 2000
REWIND = 1000
"""Span ids re-read below the watermark on each scan: on PostgreSQL a transaction that took an id earlier
may commit after a later one was scanned; re-reading a window catches it (queueing is idempotent)."""
MAX_FIELD_CHARS = 20_000


def sampled(name: str, trace_id: str, span_id: str, rate: float) -> bool:
    if rate >= 1:
        return True
    digest = hashlib.sha256(f"{name}:{trace_id}:{span_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate


def _matching(judge: Any, dialect: str) -> Any:
    s = SPAN
    return select(s.c.id, s.c.trace_id, s.c.span_id).where(
        s.c.project == judge.project,
        s.c.output.is_not(None),
        *span_conditions(to_filters(judge.filter or {}), s, dialect),
    )


def discover(db: Database, judge: Any, *, now: float | None = None, batch: int = SCAN_BATCH) -> int:
    """Queue the new spans matching a judge (one batch past its watermark); returns how many were queued."""
    now = time.time() if now is None else now
    query = _matching(judge, db.dialect).where(SPAN.c.id > max(int(judge.watermark) - REWIND, int(judge.floor)))
    with db.read_engine.connect() as conn:
        rows = conn.execute(query.order_by(SPAN.c.id).limit(batch + REWIND)).all()
    if not rows:
        return 0
    targets = [(r.trace_id, r.span_id) for r in rows if sampled(judge.name, r.trace_id, r.span_id, judge.sample_rate)]
    added = judge_runs.enqueue(db, judge.project, judge.name, judge.hash, targets, now)
    newest = max(r.id for r in rows)
    if newest > judge.watermark:
        judges.set_watermark(db, judge.id, newest)
        judge.watermark = newest
    return added


def backfill(
    db: Database,
    judge: Any,
    *,
    start_ns: int | None = None,
    end_ns: int | None = None,
    limit: int = 10_000,
    now: float | None = None,
) -> int:
    """Queue stored spans matching the judge (newest first, sampled, at most ``limit``); returns how many."""
    now = time.time() if now is None else now
    query = _matching(judge, db.dialect)
    if start_ns is not None:
        query = query.where(SPAN.c.start_ns >= start_ns)
    if end_ns is not None:
        query = query.where(SPAN.c.start_ns < end_ns)
    targets: list[tuple[str, str]] = []
    with db.read_engine.connect() as conn:
        for row in conn.execute(query.order_by(SPAN.c.id.desc())).yield_per(1000):
            if sampled(judge.name, row.trace_id, row.span_id, judge.sample_rate):
                targets.append((row.trace_id, row.span_id))
                if len(targets) >= limit:
                    break
    return judge_runs.enqueue(db, judge.project, judge.name, judge.hash, targets, now)


def span_context(db: Database, project: str, trace_id: str, span_id: str) -> dict[str, str] | None:
    """The placeholder values for one span (None when the span is gone, e.g. deleted by retention)."""
    s, f = SPAN, FEEDBACK
    with db.read_engine.connect() as conn:
        query = select(s.c.name, s.c.model, s.c.input, s.c.output, s.c.attributes).where(
            s.c.project == project, s.c.trace_id == trace_id, s.c.span_id == span_id
        )
        span = conn.execute(trace_days.narrow(conn, query, project, [trace_id])).first()
        if span is None:
            return None
        correction = conn.execute(
            select(f.c.correction)
            .where(
                f.c.project == project,
                f.c.trace_id == trace_id,
                f.c.span_id == span_id,
                f.c.correction.is_not(None),
                f.c.is_current.is_(True),
                f.c.deleted_at.is_(None),
                f.c.source != "llm_judge",
            )
            .order_by(f.c.id.desc())
            .limit(1)
        ).scalar()
    attrs = span.attributes or {}
    reference = attrs.get("plaudit.reference") or attrs.get(semconv.METADATA_PREFIX + "reference") or correction
    return {
        "input": _clip(span.input),
        "output": _clip(span.output),
        "reference": _clip(reference),
        "correction": _clip(correction),
        "span_name": span.name or "",
        "model": span.model or "",
    }


def _clip(value: Any) -> str:
    if value is None:
        return "(none)"
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= MAX_FIELD_CHARS else text[:MAX_FIELD_CHARS] + " …[truncated]"
