"""PostgreSQL statistics for young tables: a table is analysed once it has doubled since its statistics were
taken, and the collector does this on its own while it is written, instead of waiting for autovacuum."""

from __future__ import annotations

import threading
import time
import uuid

import httpx
from sqlalchemy import text

from plaudit_collector.server import BackgroundServer
from plaudit_collector.settings import CollectorSettings
from plaudit_collector.store import young_tables
from plaudit_collector.store.db import Database

PAGES = "SELECT relpages, reltuples FROM pg_class WHERE oid = to_regclass(:table)"


def _grow(db: Database, rows: int) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO grow (pad) SELECT repeat('x', 100) FROM generate_series(1, :n)"), {"n": rows})


def _pages(db: Database, table: str) -> tuple[int, float]:
    with db.engine.connect() as conn:
        pages, tuples = conn.execute(text(PAGES), {"table": table}).one()
    return pages, tuples


def test_a_table_is_analysed_when_it_doubles_and_not_before(pg_url: str) -> None:
    db = Database(pg_url)
    try:
        with db.engine.begin() as conn:
            conn.execute(text("CREATE TABLE grow (id bigserial PRIMARY KEY, pad text) WITH (autovacuum_enabled = off)"))
        _grow(db, 10)  # a page: read whole faster than planned for
        with db.engine.connect() as conn:
            assert not [t for t in young_tables.grown_tables(conn) if t.endswith(".grow")]
        _grow(db, 1000)  # about 17 pages, never analysed
        assert [t for t in young_tables.analyse_grown(db) if t.endswith(".grow")]
        pages, tuples = _pages(db, "grow")
        assert tuples == 1010 and pages >= young_tables.MIN_PAGES
        _grow(db, 500)  # half as much again: left to autovacuum
        assert not [t for t in young_tables.analyse_grown(db) if t.endswith(".grow")]
        assert _pages(db, "grow")[1] == 1010
        _grow(db, 1000)  # now more than twice the pages of its statistics
        assert [t for t in young_tables.analyse_grown(db) if t.endswith(".grow")]
        assert _pages(db, "grow")[1] == 2510
    finally:
        db.dispose()


def test_an_idle_keeper_looks_at_nothing_and_stops_at_once(pg_url: str) -> None:
    db = Database(pg_url)
    try:
        with db.engine.begin() as conn:
            conn.execute(text("CREATE TABLE grow (id bigserial PRIMARY KEY, pad text) WITH (autovacuum_enabled = off)"))
        with db.engine.connect() as conn:  # rows written by another client: no commit of this process
            conn.execute(text("INSERT INTO grow (pad) SELECT repeat('x', 100) FROM generate_series(1, 1000)"))
            conn.commit()
        keeper = young_tables.StatisticsKeeper(db, interval=0.05).start()
        time.sleep(0.5)
        assert _pages(db, "grow")[1] == -1  # read only on commits: never analysed
        _grow(db, 1)  # a commit of this process wakes it
        deadline = time.monotonic() + 10
        while _pages(db, "grow")[1] < 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _pages(db, "grow")[1] == 1001
        started = time.monotonic()
        keeper.stop(timeout=5)
        assert not keeper.is_alive() and time.monotonic() - started < 1
    finally:
        db.dispose()


def test_the_collector_analyses_its_feedback_table_as_it_grows(pg_url: str) -> None:
    server = BackgroundServer(CollectorSettings(db_url=pg_url)).start()
    db: Database = server.app.state.db
    try:
        assert any(t.name == "plaudit-statistics" for t in threading.enumerate())
        with db.engine.begin() as conn:  # only the collector can analyse it within this test
            conn.execute(text("ALTER TABLE feedback SET (autovacuum_enabled = off)"))
        assert _pages(db, "feedback")[1] == -1
        with httpx.Client(base_url=server.url, timeout=30) as http:
            for batch in range(4):
                items = [
                    {
                        "trace_id": uuid.uuid4().hex,
                        "span_id": uuid.uuid4().hex[:16],
                        "name": "thumbs",
                        "value": True,
                        "comment": "a comment long enough to fill pages quickly " * 2,
                        "author": f"user-{batch}-{i}",
                    }
                    for i in range(100)
                ]
                assert http.post("/v1/feedback", json={"items": items}).status_code == 201
        deadline = time.monotonic() + 10
        while _pages(db, "feedback")[1] < 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _pages(db, "feedback")[1] >= 100  # analysed once it had grown (perhaps between two batches)
    finally:
        server.stop()
        db.dispose()
    assert not any(t.name == "plaudit-statistics" for t in threading.enumerate())


def test_sqlite_has_no_keeper(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    try:
        assert young_tables.start_keeper(db) is None
    finally:
        db.dispose()
