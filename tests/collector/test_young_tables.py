"""PostgreSQL statistics for young tables: a table is analysed once it has doubled since its statistics were
taken, and the collector does this on its own while it is written, instead of waiting for autovacuum."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import make_url, text

from plaudit_collector.server import BackgroundServer
from plaudit_collector.settings import CollectorSettings
from plaudit_collector.store import partitions, young_tables
from plaudit_collector.store.db import Database

PAGES = "SELECT relpages, reltuples FROM pg_class WHERE oid = to_regclass(:table)"


def _grow(db: Database, rows: int) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO grow (pad) SELECT repeat('x', 100) FROM generate_series(1, :n)"), {"n": rows})


def _pages(db: Database, table: str) -> tuple[int, float]:
    with db.engine.connect() as conn:
        pages, tuples = conn.execute(text(PAGES), {"table": table}).one()
    return pages, tuples


def _eventually(done: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:
        time.sleep(0.05)


def _analysed_rows(db: Database, table: str) -> float:
    """The rows ``table``'s statistics count, once it has any (waiting at most 10 s); -1 if it never got them."""
    _eventually(lambda: _pages(db, table)[1] >= 0)
    return _pages(db, table)[1]


def _keeper_running() -> bool:
    return any(t.name == "plaudit-statistics" for t in threading.enumerate())


@pytest.fixture
def grow_db(pg_url: str) -> Iterator[Database]:
    """A database holding an empty table ``grow`` that only the test (or a keeper) analyses."""
    db = Database(pg_url)
    with db.engine.begin() as conn:
        conn.execute(text("CREATE TABLE grow (id bigserial PRIMARY KEY, pad text) WITH (autovacuum_enabled = off)"))
    yield db
    db.dispose()


def _analysed_grow(db: Database) -> bool:
    return any(table.endswith(".grow") for table in young_tables.analyse_grown(db))


def test_a_table_is_analysed_when_it_doubles_and_not_before(grow_db: Database) -> None:
    _grow(grow_db, 10)  # a page: read whole faster than planned for
    with grow_db.engine.connect() as conn:
        assert not [t for t, _ in young_tables.grown_tables(conn) if t.endswith(".grow")]
    _grow(grow_db, 1000)  # about 17 pages, never analysed
    with grow_db.engine.connect() as conn:
        assert [c for t, c in young_tables.grown_tables(conn) if t.endswith(".grow")] == ["id"]  # indexed only
    assert _analysed_grow(grow_db)
    pages, tuples = _pages(grow_db, "grow")
    assert tuples == 1010 and pages >= young_tables.MIN_PAGES
    _grow(grow_db, 500)  # half as much again: left to autovacuum
    assert not _analysed_grow(grow_db)
    assert _pages(grow_db, "grow")[1] == 1010
    _grow(grow_db, 1000)  # now more than twice the pages of its statistics
    assert _analysed_grow(grow_db)
    assert _pages(grow_db, "grow")[1] == 2510


def test_a_name_with_a_percent_sign_is_analysed_like_any_other(pg_url: str) -> None:
    db = Database(pg_url)
    try:
        with db.engine.begin() as conn:
            conn.execute(text('CREATE TABLE "grow%(x)s" (id bigserial PRIMARY KEY, pad text)'))
            conn.execute(text("INSERT INTO \"grow%(x)s\" (pad) SELECT repeat('x', 100) FROM generate_series(1, 1000)"))
        assert [t for t in young_tables.analyse_grown(db) if t.endswith('."grow%(x)s"')]
        assert _pages(db, '"grow%(x)s"')[1] == 1000
    finally:
        db.dispose()


def test_only_tables_the_role_may_analyse_are_looked_at(pg_url: str) -> None:
    """PostgreSQL skips another role's table with a warning and its statistics never change: left out."""
    role = f"plaudit_test_{uuid.uuid4().hex[:8]}"
    owner = Database(pg_url)
    with owner.engine.begin() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
        conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
        conn.execute(text(f'GRANT USAGE, CREATE ON SCHEMA "{schema}" TO "{role}"'))
        conn.execute(text("CREATE TABLE theirs AS SELECT repeat('x', 100) AS pad FROM generate_series(1, 1000)"))
    mine = Database(make_url(pg_url).set(username=role, password=None).render_as_string(hide_password=False))
    try:
        with mine.engine.begin() as conn:
            conn.execute(text("CREATE TABLE ours AS SELECT repeat('x', 100) AS pad FROM generate_series(1, 1000)"))
        analysed = young_tables.analyse_grown(mine)
        assert any(t.endswith(".ours") for t in analysed) and not any(t.endswith(".theirs") for t in analysed)
    finally:
        mine.dispose()
        with owner.engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS ours, theirs"))
            conn.execute(text(f'DROP OWNED BY "{role}"'))
            conn.execute(text(f'DROP ROLE "{role}"'))
        owner.dispose()


def test_a_table_past_its_youth_is_left_to_autovacuum(grow_db: Database) -> None:
    _grow(grow_db, 70_000)
    young_tables.analyse_grown(grow_db)
    assert _pages(grow_db, "grow")[0] >= young_tables.YOUNG_PAGES
    _grow(grow_db, 150_000)  # more than doubled, but its statistics were taken past YOUNG_PAGES
    assert not _analysed_grow(grow_db)
    assert _pages(grow_db, "grow")[1] == 70_000


def test_span_partitions_are_analysed_without_the_text_search_expression(pg_url: str, otlp: Any) -> None:
    """Statistics of the search index's ``to_tsvector`` expression cost seconds per partition: left out."""
    server = BackgroundServer(CollectorSettings(db_url=pg_url)).start()
    db: Database = server.app.state.db
    try:
        today = partitions.partition_name("spans", partitions.day_of(time.time_ns()))
        with db.engine.begin() as conn:  # only the collector can analyse it within this test
            conn.execute(text(f"ALTER TABLE {today} SET (autovacuum_enabled = off)"))
        content = {"input.value": "a question " * 40, "output.value": "an answer " * 40}
        spans = [otlp.span(f"call {i}", content, start_ns=time.time_ns()) for i in range(400)]
        with httpx.Client(base_url=server.url, timeout=30) as http:
            assert http.post("/v1/traces", json=otlp.request(spans)).status_code == 200
        assert _analysed_rows(db, today) == 400
        with db.engine.connect() as conn:
            index_stats = conn.execute(
                text(
                    "SELECT count(*) FROM pg_statistic s JOIN pg_index i ON i.indexrelid = s.starelid "
                    "WHERE i.indrelid = to_regclass(:t)"
                ),
                {"t": today},
            ).scalar()
            trace_id_stats = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stats WHERE schemaname = current_schema() AND tablename = :t"
                    " AND attname = 'trace_id'"
                ),
                {"t": today},
            ).scalar()
        assert index_stats == 0 and trace_id_stats == 1
    finally:
        server.stop()
        db.dispose()


def test_an_idle_keeper_looks_at_nothing_and_stops_at_once(grow_db: Database) -> None:
    with grow_db.engine.connect() as conn:  # rows written by another client: no commit of this process
        conn.execute(text("INSERT INTO grow (pad) SELECT repeat('x', 100) FROM generate_series(1, 1000)"))
        conn.commit()
    keeper = young_tables.StatisticsKeeper(grow_db, interval=0.05).start()
    time.sleep(0.5)
    assert _pages(grow_db, "grow")[1] == -1  # read only on commits: never analysed
    _grow(grow_db, 1)  # a commit of this process wakes it
    assert _analysed_rows(grow_db, "grow") == 1001
    started = time.monotonic()
    keeper.stop(timeout=5)
    assert not keeper.is_alive() and time.monotonic() - started < 1


def test_the_collector_analyses_its_feedback_table_as_it_grows(pg_url: str) -> None:
    server = BackgroundServer(CollectorSettings(db_url=pg_url)).start()
    db: Database = server.app.state.db
    try:
        assert _keeper_running()
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
        assert _analysed_rows(db, "feedback") >= 100  # analysed once it had grown (perhaps between two batches)
    finally:
        server.stop()
        db.dispose()
    _eventually(lambda: not _keeper_running(), 5)  # an ANALYZE under way when the stop began finishes first
    assert not _keeper_running()


def test_sqlite_has_no_keeper(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    try:
        assert young_tables.start_keeper(db) is None
    finally:
        db.dispose()
