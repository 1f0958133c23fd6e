"""Day partitions on PostgreSQL: made for each new day at ingest, dropped whole by retention, and built from
an existing unpartitioned database by the migration with every row kept. SQLite keeps plain tables and
behaves the same from outside."""

from __future__ import annotations

import re
import subprocess
import time
from typing import Any

import httpx
from sqlalchemy import text

from plaudit_collector.server import BackgroundServer
from plaudit_collector.settings import CollectorSettings
from plaudit_collector.store import partitions
from plaudit_collector.store.db import Database
from plaudit_collector.store.retention import sweep
from plaudit_collector.store.tables import TraceDay

DAY_NS = partitions.DAY_NS
ROLLUP_CELLS = "SELECT project, day, cell, spans FROM span_rollup ORDER BY 1, 2, 3"


def _partition_days(db: Database, table: str = "spans") -> set[int]:
    with db.engine.connect() as conn:
        return set(partitions.days(conn, table))


def _midnight(days_ago: int) -> int:
    """The start of the UTC day ``days_ago`` days before today, in nanoseconds."""
    return (partitions.day_of(time.time_ns()) - days_ago) * DAY_NS


def test_each_new_day_gets_its_partitions(pg_url: str, otlp: Any) -> None:
    server = BackgroundServer(CollectorSettings(db_url=pg_url)).start()
    db: Database = server.app.state.db
    try:
        today = partitions.day_of(time.time_ns())
        assert set(range(today, today + partitions.AHEAD_DAYS + 1)) <= _partition_days(db)  # made ahead at start
        old, future = _midnight(12) + 3600 * 10**9, _midnight(-9)
        trace = otlp.trace_id()
        spans = [otlp.span("old", trace_id=trace, start_ns=old), otlp.span("later", trace_id=trace, start_ns=future)]
        with httpx.Client(base_url=server.url, timeout=30) as http:
            assert http.post("/v1/traces", json=otlp.request(spans)).status_code == 200
            assert http.post("/v1/traces", json=otlp.request(spans)).status_code == 200  # re-sent: stored once
            assert [s["name"] for s in http.get(f"/v1/traces/{trace}").json()["spans"]] == ["old", "later"]
        for table in partitions.PARTITIONED:
            assert {today - 12, today + 9} <= _partition_days(db, table)
        with db.engine.connect() as conn:
            old_day = partitions.partition_name("spans", today - 12)
            assert conn.execute(text(f"SELECT count(*) FROM {old_day}")).scalar() == 1
            assert conn.execute(text("SELECT count(*) FROM spans")).scalar() == 2
            assert conn.execute(text("SELECT sum(spans) FROM span_rollup")).scalar() == 2
    finally:
        server.stop()
        db.dispose()


def test_retention_drops_whole_days_and_keeps_a_trace_that_straddles_midnight(db_url: str, otlp: Any) -> None:
    """A trace whose root starts before midnight and whose child starts after it keeps its feedback while
    either span is left; a trace wholly in a dropped day loses its spans, rollup and feedback together."""
    server = BackgroundServer(CollectorSettings(db_url=db_url)).start()
    db: Database = server.app.state.db
    try:
        gone, straddling, recent = otlp.trace_id(), otlp.trace_id(), otlp.trace_id()
        root = otlp.span_id()
        spans = [
            *[otlp.span(f"gone{i}", trace_id=gone, start_ns=_midnight(41) + i * 10**9) for i in range(3)],
            otlp.span("root", trace_id=straddling, span_id=root, start_ns=_midnight(40) - 10**9),
            otlp.span("child", trace_id=straddling, parent=root, start_ns=_midnight(40) + 60 * 10**9),
            otlp.span("recent", trace_id=recent, start_ns=time.time_ns() - 3600 * 10**9),
        ]
        with httpx.Client(base_url=server.url, timeout=30) as http:
            assert http.post("/v1/traces", json=otlp.request(spans)).status_code == 200
            for trace in (gone, straddling, recent):
                feedback = {"trace_id": trace, "name": "thumbs", "value": True}
                assert http.post("/v1/feedback", json=feedback).status_code == 201
            # the cutoff falls just after midnight, between root and child: the day before goes whole
            retention_days = (time.time_ns() - _midnight(40) - 30 * 10**9) / DAY_NS
            result = sweep(db, retention_days)

            assert (result.spans, result.feedback) == (4, 1)  # three "gone" and the root; gone's rating
            if not db.is_sqlite:
                assert result.partitions == 1  # the day of "gone" and of the root
                for table in partitions.PARTITIONED:
                    days = _partition_days(db, table)
                    assert partitions.day_of(_midnight(41)) not in days
                    assert partitions.day_of(_midnight(40)) in days  # the cutoff falls in it: kept
            assert http.get(f"/v1/traces/{gone}").status_code == 404
            left = http.get(f"/v1/traces/{straddling}").json()
            assert [s["name"] for s in left["spans"]] == ["child"]
            assert [f["name"] for f in left["feedback"]] == ["thumbs"]
            assert http.get(f"/v1/traces/{recent}").status_code == 200
            # the rollup lost exactly the dropped spans
            with db.engine.connect() as conn:
                assert conn.execute(text("SELECT sum(spans) FROM span_rollup")).scalar() == 2
            # a late span for a dropped day is stored again (its partition is made anew)
            late = otlp.span("late", trace_id=gone, start_ns=_midnight(41) + 5 * 10**9)
            assert http.post("/v1/traces", json=otlp.request([late])).status_code == 200
            assert [s["name"] for s in http.get(f"/v1/traces/{gone}").json()["spans"]] == ["late"]
    finally:
        server.stop()
        db.dispose()


def test_migration_partitions_an_existing_database_and_keeps_every_row(
    pg_url: str, otlp: Any, plaudit_cli: list[str]
) -> None:
    db = Database(pg_url)
    db.upgrade("0008_score_rollups")
    with db.engine.begin() as conn:  # what this version's ingest writes beside the spans (migration 0013 makes it)
        TraceDay.__table__.create(conn)  # type: ignore[attr-defined]
    db.dispose()
    server = BackgroundServer(CollectorSettings(db_url=pg_url, migrate=False)).start()
    old: Database = server.app.state.db
    traces = [otlp.trace_id() for _ in range(5)]
    spans = [
        otlp.span("call", {"gen_ai.request.model": f"m{i % 2}"}, trace_id=t, start_ns=_midnight(i) + 60 * 10**9)
        for i, t in enumerate(traces)
    ]
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            assert http.post("/v1/traces", json=otlp.request(spans)).status_code == 200
            for i, trace in enumerate(traces):
                feedback = {"trace_id": trace, "name": "score", "value": float(i)}
                assert http.post("/v1/feedback", json=feedback).status_code == 201
            before = {t: http.get(f"/v1/traces/{t}").json() for t in traces}
            board = http.get("/v1/analytics/leaderboard", params={"score": "score", "group_by": "model"}).json()
        with old.engine.connect() as conn:
            assert not partitions.is_partitioned(conn)
            rollup_before = conn.execute(text(ROLLUP_CELLS)).all()
        with old.engine.begin() as conn:  # dropped: the upgrade makes it and fills it from the spans
            TraceDay.__table__.drop(conn)  # type: ignore[attr-defined]
    finally:
        server.stop()
        old.dispose()

    result = subprocess.run(
        [*plaudit_cli, "db", "upgrade", "--db", pg_url],
        capture_output=True,
        text=True,
        check=True,
        env={**_env(), "PLAUDIT_PROGRESS_SECONDS": "0"},
    )
    assert "copying spans: 5/5 (100%)" in result.stderr
    assert re.search(r"applying migrations: (\d+)/\1 \(100%\)", result.stderr)  # 0009 and those after it

    server = BackgroundServer(CollectorSettings(db_url=pg_url)).start()
    db = server.app.state.db
    try:
        with db.engine.connect() as conn:
            assert partitions.is_partitioned(conn, "spans") and partitions.is_partitioned(conn, "span_rollup")
            assert conn.execute(text(ROLLUP_CELLS)).all() == rollup_before
            top_id = conn.execute(text("SELECT max(id) FROM spans")).scalar()
        assert {partitions.day_of(_midnight(i)) for i in range(5)} <= _partition_days(db)
        with httpx.Client(base_url=server.url, timeout=30) as http:
            assert {t: http.get(f"/v1/traces/{t}").json() for t in traces} == before
            again = http.get("/v1/analytics/leaderboard", params={"score": "score", "group_by": "model"}).json()
            assert again == board
            assert http.post("/v1/traces", json=otlp.request(spans)).status_code == 200  # re-sent: no duplicates
            fresh = otlp.trace_id()
            assert http.post("/v1/traces", json=otlp.request([otlp.span("new", trace_id=fresh)])).status_code == 200
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM spans")).scalar() == 6
            assert conn.execute(text("SELECT max(id) FROM spans")).scalar() > top_id  # the sequence carried on
    finally:
        server.stop()
        db.dispose()


def test_migration_leaves_sqlite_tables_plain(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    try:
        db.upgrade()
        with db.engine.connect() as conn:
            sql = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'spans'")).scalar()
        assert "PARTITION" not in sql.upper()
        assert db.current_revision() >= "0009_pg_day_partitions"  # 0009 and what follows it
    finally:
        db.dispose()


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)
