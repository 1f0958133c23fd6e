"""A span and its feedback committed at the same moment by two transactions are credited before either
request returns (PostgreSQL, READ COMMITTED: each transaction's own lookup misses the other's uncommitted
row). Each test holds one writer mid-transaction with a table lock from a third connection, so the
interleaving is the same on every run."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import select, text

from plaudit_collector import pipeline
from plaudit_collector.store import copies, feedback_writes, score_rollup
from plaudit_collector.store.db import Database

TRACE = "f7" * 16


@pytest.fixture
def db(pg_url: str) -> Iterator[Database]:
    database = Database(pg_url)
    database.upgrade()
    _ingest(database, "e6" * 16)  # the day's partitions exist before any lock is held
    try:
        yield database
    finally:
        database.dispose()


def _ingest(db: Database, trace_id: str = TRACE) -> None:
    start = 1_700_000_000_000_000_000
    span = {
        "traceId": trace_id,
        "spanId": trace_id[:16],
        "name": "answer",
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + 5_000_000),
        "attributes": [{"key": "gen_ai.request.model", "value": {"stringValue": "m-1"}}],
    }
    body = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}).encode()
    pipeline.ingest_traces(db, "default", body, content_type="application/json", encoding=None, limit=1 << 20)


def _rate(db: Database) -> None:
    feedback_writes.store_feedback(db, "default", [{"trace_id": TRACE, "name": "stars", "value": 4}])


def _credited(db: Database) -> list[Any]:
    f = copies.FEEDBACK
    with db.engine.connect() as conn:
        return [row[0] for row in conn.execute(select(f.c.span_pk))]


def _scored(db: Database) -> list[Any]:
    """The spans the score aggregates count a rating for."""
    with db.engine.connect() as conn:
        return list(conn.execute(select(score_rollup.ITEMS.c.span_pk)).scalars())


# the locks waiting on the connection holding the table lock
_WAITING = "SELECT count(*) FROM pg_locks WHERE NOT granted AND :pid = ANY(pg_blocking_pids(pid))"


@contextmanager
def _stopped(db: Database, lock: str, writer: Callable[[], None]) -> Iterator[None]:
    """Run ``writer`` in a thread that stops on ``lock`` (held from another connection) mid-transaction;
    the body runs while it waits, then the lock is released and the writer finishes."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            writer()
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)

    with db.engine.connect() as held, db.engine.connect() as probe:
        held.execute(text(lock))
        worker = threading.Thread(target=run)
        worker.start()
        deadline = time.monotonic() + 30
        while not probe.execute(text(_WAITING), {"pid": held.connection.dbapi_connection.info.backend_pid}).scalar():
            assert worker.is_alive() and time.monotonic() < deadline, errors or "the writer never waited"
            probe.rollback()
            time.sleep(0.02)
        try:
            yield
        finally:
            held.rollback()
            worker.join(timeout=30)
    assert not worker.is_alive() and not errors, errors


def test_feedback_committed_while_its_span_is_written_is_credited_by_the_ingest(db: Database) -> None:
    # the ingest stops at the span rollup, its last write, after its spans are inserted
    with _stopped(db, "LOCK TABLE span_rollup IN SHARE MODE", lambda: _ingest(db)):
        _rate(db)  # sees no span yet: stored waiting, committed
        assert _credited(db) == [None]
    [span_pk] = _credited(db)
    assert span_pk is not None and _scored(db) == [span_pk]


def test_span_committed_while_its_feedback_is_written_is_credited_by_the_feedback(db: Database) -> None:
    # the feedback stops at its insert, after looking for the span
    with _stopped(db, "LOCK TABLE feedback IN SHARE MODE", lambda: _rate(db)):
        _ingest(db)  # commits its span; the feedback row is not there to credit yet
    [span_pk] = _credited(db)
    assert span_pk is not None and _scored(db) == [span_pk]


def test_sqlite_credits_in_the_ingest_transaction(sqlite_url: str) -> None:
    database = Database(sqlite_url)
    database.upgrade()
    try:
        _rate(database)
        assert _credited(database) == [None]
        _ingest(database)
        assert _credited(database)[0] is not None
    finally:
        database.dispose()


def test_a_failed_look_after_commit_is_logged_not_raised(pg_url: str, caplog: pytest.LogCaptureFixture) -> None:
    database = Database(pg_url)  # no tables: the look fails
    try:
        copies.recheck(database, "default", [TRACE])
    finally:
        database.dispose()
    assert "credited later" in caplog.text
