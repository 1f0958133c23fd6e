"""Retention: delete spans older than the configured age, then the feedback and log events they leave behind.

On PostgreSQL whole days past the cutoff go first, as whole partitions (see :mod:`.partitions`): one DROP
per day instead of a DELETE per row. What remains (the day the cutoff falls in, any table that is not
partitioned, SQLite) is deleted in bounded batches, each its own short transaction, so a large backlog never
holds the SQLite write lock (or a PostgreSQL transaction) for long and ingest keeps flowing between batches.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, exists, func, select, text

from plaudit_collector.settings import CollectorSettings
from plaudit_collector.store import copies, partitions, rollup, trace_days
from plaudit_collector.store.db import Database
from plaudit_collector.store.progress import Report, silent
from plaudit_collector.store.tables import Feedback, Span, SpanEvent, utcnow

log = logging.getLogger("plaudit_collector.store.retention")

BATCH_SIZE = 5000
SWEEP_INTERVAL_SECONDS = 3600.0


@dataclass
class SweepResult:
    spans: int = 0
    feedback: int = 0
    events: int = 0
    partitions: int = 0


def _delete_in_batches(db: Database, statement: str, params: dict[str, object], batch_size: int) -> int:
    total = 0
    while True:
        with db.writing(), db.engine.begin() as conn:
            deleted = conn.execute(text(statement), {**params, "limit": batch_size}).rowcount or 0
        total += deleted
        if deleted < batch_size:
            return total


def _drop_old_days(db: Database, cutoff_ns: int, result: SweepResult, progress: Report) -> None:
    """PostgreSQL: drop the day partitions that end before the cutoff, each in one transaction with the
    feedback copies it held and the feedback and events of the traces it leaves without a span."""
    with db.engine.connect() as conn:
        if not partitions.is_partitioned(conn):
            return
        old = sorted(day for day in partitions.days(conn, "spans") if (day + 1) * partitions.DAY_NS <= cutoff_ns)
    task = "dropping day partitions"
    progress(task, 0, len(old))
    for done, day in enumerate(old, start=1):
        part = partitions.partition_name("spans", day)
        low, high = day * partitions.DAY_NS, (day + 1) * partitions.DAY_NS
        emptied = (
            f"EXISTS (SELECT 1 FROM {part} s WHERE s.project = t.project AND s.trace_id = t.trace_id) "
            "AND NOT EXISTS (SELECT 1 FROM spans s WHERE s.project = t.project AND s.trace_id = t.trace_id "
            "AND (s.start_ns < :low OR s.start_ns >= :high))"
        )
        with db.engine.begin() as conn:
            partitions.lock(conn)  # a sweep on another collector may have dropped this day meanwhile
            if conn.execute(text("SELECT to_regclass(:part)"), {"part": part}).scalar() is None:
                continue
            spans = conn.execute(text(f"SELECT count(*) FROM {part}")).scalar() or 0
            bounds = {"low": low, "high": high}
            # Through copies: the score aggregates of the feedback these spans carried lose it too.
            copies.forget_spans(conn, [row[0] for row in conn.execute(text(f"SELECT id FROM {part}"))])
            result.feedback += conn.execute(text(f"DELETE FROM feedback t WHERE {emptied}"), bounds).rowcount or 0
            result.events += conn.execute(text(f"DELETE FROM span_events t WHERE {emptied}"), bounds).rowcount or 0
            partitions.drop(conn, day)
            trace_days.forget_day(conn, day)  # after the DROP, which waits for any batch still writing the day
        result.spans += spans
        result.partitions += 1
        progress(task, done, len(old))
    progress(task, len(old), len(old))
    if old:
        partitions.forget(db)


def _delete_old_spans(
    db: Database, cutoff_ns: int, batch_size: int, result: SweepResult, progress: Report = silent
) -> None:
    """Spans past the cutoff, a batch at a time; with each batch, the feedback and log events of the traces
    that batch emptied (however recent the feedback: its target is gone)."""
    spans, feedback, events = Span.__table__, Feedback.__table__, SpanEvent.__table__  # type: ignore[attr-defined]
    task, deleted_before = "deleting old spans", result.spans
    total: int | None = None
    if progress is not silent:  # counting costs a scan: only for someone watching
        with db.engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(spans).where(spans.c.start_ns < cutoff_ns)).scalar()
        progress(task, 0, total)
    while True:
        with db.writing(), db.engine.begin() as conn:
            picked = conn.execute(select(spans.c.id).where(spans.c.start_ns < cutoff_ns).limit(batch_size)).all()
            if not picked:
                break
            # The rollup loses what this DELETE removed, not what the SELECT saw: a sweep running at the same
            # time on another collector may have deleted some of them already.
            rows = conn.execute(
                delete(spans)
                .where(spans.c.id.in_([row.id for row in picked]))
                .returning(spans.c.id, spans.c.trace_id, *[spans.c[name] for name in rollup.ROW_COLUMNS])
            ).all()
            deltas = rollup.Deltas()
            rollup.add_rows(deltas, rows, sign=-1)
            deltas.apply(conn, db.dialect)
            copies.forget_spans(conn, [row.id for row in rows])
            result.spans += len(rows)
            if not db.is_sqlite:
                emptied = {(row.project, row.trace_id, partitions.day_of(row.start_ns)) for row in rows}
                trace_days.forget_emptied(conn, spans, emptied)
            by_project: dict[str, set[str]] = {}
            for row in rows:
                by_project.setdefault(row.project, set()).add(row.trace_id)
            for project, trace_ids in by_project.items():
                for table, counter in ((feedback, "feedback"), (events, "events")):
                    no_span_left = ~exists().where(
                        spans.c.project == table.c.project, spans.c.trace_id == table.c.trace_id
                    )
                    deleted = conn.execute(
                        delete(table).where(table.c.project == project, table.c.trace_id.in_(trace_ids), no_span_left)
                    ).rowcount
                    setattr(result, counter, getattr(result, counter) + (deleted or 0))
        progress(task, result.spans - deleted_before, total)
        if len(picked) < batch_size:
            break
    progress(task, result.spans - deleted_before, result.spans - deleted_before)


def sweep(
    db: Database, retention_days: float, *, batch_size: int = BATCH_SIZE, progress: Report = silent
) -> SweepResult:
    """Delete what is older than ``retention_days``: old spans with the feedback and events of the traces they
    empty, old log events, and feedback that is itself past the cutoff and never found a span. Recent feedback
    whose spans have not arrived yet is kept (feedback may arrive first)."""
    cutoff = utcnow() - timedelta(days=retention_days)
    cutoff_ns = int(cutoff.timestamp() * 1e9)
    cutoff_at = cutoff.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f") if db.is_sqlite else cutoff
    result = SweepResult()
    if not db.is_sqlite:
        _drop_old_days(db, cutoff_ns, result, progress)
        partitions.ensure_ahead(db, time.time_ns())
    _delete_old_spans(db, cutoff_ns, batch_size, result, progress)
    if result.spans:
        with db.writing(), db.engine.begin() as conn:
            copies.forget_missing(conn, cutoff_ns)
    result.events += _delete_in_batches(
        db,
        "DELETE FROM span_events WHERE id IN (SELECT id FROM span_events WHERE time_ns < :cutoff LIMIT :limit)",
        {"cutoff": cutoff_ns},
        batch_size,
    )
    result.feedback += _delete_in_batches(
        db,
        "DELETE FROM feedback WHERE id IN (SELECT f.id FROM feedback f WHERE f.created_at < :cutoff "
        "AND f.trace_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM spans s "
        "WHERE s.project = f.project AND s.trace_id = f.trace_id) LIMIT :limit)",
        {"cutoff": cutoff_at},
        batch_size,
    )
    if result.spans or result.feedback or result.events:
        log.info(
            "retention: deleted %s spans (%s whole days), %s feedback rows, %s log events older than %s days",
            result.spans,
            result.partitions,
            result.feedback,
            result.events,
            retention_days,
        )
    return result


class Sweeper:
    """A daemon thread that sweeps at startup and then every ``interval`` seconds until stopped."""

    def __init__(self, db: Database, retention_days: float, interval: float = SWEEP_INTERVAL_SECONDS) -> None:
        self._db = db
        self._days = retention_days
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="plaudit-retention", daemon=True)

    def start(self) -> Sweeper:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                sweep(self._db, self._days)
            except Exception:
                log.exception("retention sweep failed")
            self._stop.wait(max(1.0, self._interval - (time.monotonic() - started)))

    def request_stop(self) -> None:
        """Start no more sweeps, without waiting (a sweep under way runs on: each of its batches is one
        transaction, so one cut short by the process ending is rolled back whole)."""
        self._stop.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout=timeout)


def start_sweeper(db: Database, settings: CollectorSettings) -> Sweeper | None:
    if settings.retention_days is None or settings.retention_days <= 0:
        return None
    return Sweeper(db, settings.retention_days).start()
