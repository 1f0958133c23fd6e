"""An IngestBatch written in one transaction: span rows, the rollup cells and feedback copies they feed,
span events, and the feedback the telemetry carried. Either all of it is stored or none of it."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from plaudit_collector.ingest.batch import COLUMN_AT, IngestBatch
from plaudit_collector.store import copies, events, partitions, rollup, spans
from plaudit_collector.store.db import Database
from plaudit_collector.store.feedback_writes import IdempotencyConflict, prepare, store_items
from plaudit_collector.store.score_configs import split_by_configs

_DIM_AT = [COLUMN_AT[name] for name in rollup.DIMS]
_ROLLUP_AT = [
    COLUMN_AT[name] for name in ("start_ns", "duration_ms", "status_code", "input_tokens", "output_tokens", "cost")
]
_ATTEMPTS = 3
_START = COLUMN_AT["start_ns"]


def write_batch(db: Database, batch: IngestBatch) -> None:
    """Store the batch; on return it is committed. Carried feedback that breaks a strict score config, or
    whose derived idempotency key already names another item, is left out and named in ``batch.problems``
    (the spans are not refused for it)."""
    if batch.empty:
        return
    for attempt in range(_ATTEMPTS):
        if batch.rows and not db.is_sqlite:
            partitions.ensure(db, {partitions.day_of(r[_START]) for r in batch.rows})
        try:
            with db.writing(), db.engine.begin() as conn:
                waiting = _write(conn, db, batch)
            copies.recheck(db, batch.project, waiting)
            return
        except IntegrityError:  # a concurrent request stored the same feedback idempotency key, or another
            # collector's retention dropped a day partition this one still counted on: look again
            partitions.forget(db)
            if attempt == _ATTEMPTS - 1:
                raise


def _write(conn: Connection, db: Database, batch: IngestBatch) -> list[str]:
    """Write the batch; return the traces whose waiting feedback :func:`copies.recheck` looks at after commit
    (on SQLite, where writers are serialised, it is credited here and the list is empty)."""
    project = batch.project
    waiting: list[str] = []
    if batch.rows:
        stored = spans.insert_rows(conn, db.dialect, batch.rows)
        if stored and db.is_sqlite:
            copies.resolve_traces(conn, project, [r[1] for r in stored])
        elif stored:
            waiting = [r[1] for r in stored]
        deltas = _deltas(stored)
    else:
        deltas = None
    if batch.events:
        events.insert_events(conn, db.insert(events.EVENTS_TABLE), project, batch.events)
    if batch.feedback:
        items, problems = split_by_configs(conn, project, [prepare(item) for item in batch.feedback])
        for problem in problems:
            batch.note(problem)
        if items:

            def skip(index: int, conflict: IdempotencyConflict) -> None:
                batch.note(f"feedback {items[index]['name'][:60]!r} not stored: {conflict.message}")

            rows = store_items(conn, project, items, lock=not db.is_sqlite, on_conflict=skip)
            if not db.is_sqlite:
                waiting += copies.waiting_traces(rows)
    if deltas is not None:
        # Last: on PostgreSQL this locks the day's cells, which every concurrent batch also needs, so they
        # stay locked only for the update and the commit.
        deltas.apply(conn, db.dialect)
    return waiting


def _deltas(rows: list[tuple[Any, ...]]) -> rollup.Deltas:
    deltas = rollup.Deltas()
    start, duration, status, tokens_in, tokens_out, cost = _ROLLUP_AT
    for r in rows:
        deltas.add(
            r[0], r[start], [r[i] for i in _DIM_AT], r[duration], r[status], r[tokens_in], r[tokens_out], r[cost]
        )
    return deltas
