"""A trace read by id names the trace's days (``trace_days``) on PostgreSQL, so only their partitions are read:
the answers are those of SQLite (one plain table) however many days are kept, after retention drops some, and
a span re-sent with another start time is still stored once."""

from __future__ import annotations

import time
from typing import Any

import httpx
from alembic import command
from sqlalchemy import select, text

from plaudit_collector.server import BackgroundServer
from plaudit_collector.settings import CollectorSettings
from plaudit_collector.store import maintenance, partitions, trace_days
from plaudit_collector.store.db import Database, alembic_config
from plaudit_collector.store.retention import sweep
from plaudit_collector.store.spans import SPAN_TABLE

DAY_NS = partitions.DAY_NS
SEC = 10**9


def _midnight(days_ago: int) -> int:
    return (partitions.day_of(time.time_ns()) - days_ago) * DAY_NS


def _rows(db: Database) -> set[tuple[str, int]]:
    """(trace id, days ago) of every trace_days row."""
    today = partitions.day_of(time.time_ns())
    with db.engine.connect() as conn:
        return {(t, today - d) for t, d in conn.execute(text("SELECT trace_id, day FROM trace_days"))}


def _serve(url: str) -> tuple[BackgroundServer, Database, httpx.Client]:
    server = BackgroundServer(CollectorSettings(db_url=url)).start()
    return server, server.app.state.db, httpx.Client(base_url=server.url, timeout=30)


def test_a_trace_over_far_apart_days_reads_whole_among_many_days(db_url: str, otlp: Any) -> None:
    server, db, http = _serve(db_url)
    try:
        trace, root = otlp.trace_id(), otlp.span_id()
        spans = [
            otlp.span("root", trace_id=trace, span_id=root, start_ns=_midnight(60) + 5 * SEC),
            otlp.span("retry", trace_id=trace, parent=root, start_ns=_midnight(30) + 9 * SEC),
            otlp.span("late", trace_id=trace, parent=root, start_ns=_midnight(0) + SEC),
        ]
        others = [otlp.span(f"other{d}", start_ns=_midnight(d) + 3600 * SEC) for d in range(61)]  # a day each
        assert http.post("/v1/traces", json=otlp.request(spans[:2] + others)).status_code == 200
        assert http.post("/v1/traces", json=otlp.request(spans[2:])).status_code == 200  # a later batch

        read = http.get(f"/v1/traces/{trace}").json()
        assert [s["name"] for s in read["spans"]] == ["root", "retry", "late"]
        assert http.get(f"/v1/traces/{otlp.trace_id()}").status_code == 404
        listed = {t["trace_id"]: t for t in http.get("/v1/traces", params={"limit": 100}).json()["traces"]}
        assert (listed[trace]["name"], listed[trace]["span_count"]) == ("root", 3)  # the search page's details
        assert len(listed) == 62 and all(t["span_count"] == 1 for t in listed.values() if t["trace_id"] != trace)
        for _ in range(2):  # ratings credit spans of any kept day; the second batch reuses the narrowed statement
            orphan = otlp.span_id()
            items = [{"trace_id": trace, "span_id": span["spanId"], "name": "q", "value": 1} for span in spans[1:]]
            items.append({"trace_id": otlp.trace_id(), "span_id": orphan, "name": "q", "value": 1})
            assert http.post("/v1/feedback", json={"items": items}).status_code == 201
            with db.engine.connect() as conn:
                query = text("SELECT span_id, span_name FROM feedback ORDER BY id DESC LIMIT 3")
                credited = {row.span_id: row.span_name for row in conn.execute(query)}
            assert credited == {spans[1]["spanId"]: "retry", spans[2]["spanId"]: "late", orphan: None}
        if db.is_sqlite:
            with db.engine.connect() as conn:
                assert conn.execute(text("SELECT count(*) FROM trace_days")).scalar() == 0  # SQLite needs none
            return
        assert {d for t, d in _rows(db) if t == trace} == {60, 30, 0}
        with db.engine.connect() as conn:  # the read plans the trace's three days, not the 61 partitions
            assert len(partitions.days(conn, "spans")) >= 61
            bounds = trace_days.bounds(conn, "default", [trace], SPAN_TABLE.c.start_ns)
            query = select(SPAN_TABLE.c.name).where(SPAN_TABLE.c.trace_id == trace, bounds)
            plan = "\n".join(row[0] for row in conn.execute(text(f"EXPLAIN {_sql(query, conn)}")))
        wanted = sorted(partitions.partition_name("spans", d) for d in _days(60, 30, 0))
        assert sorted(set(_partitions_in(plan))) == wanted
    finally:
        http.close()
        server.stop()
        db.dispose()


def test_retention_drops_a_days_rows_with_its_partition(db_url: str, otlp: Any) -> None:
    """A whole day past the cutoff goes (partition and rows); in the day the cutoff falls in, a trace keeps the
    row of a day it still has spans on and loses the one it has none left on."""
    server, db, http = _serve(db_url)
    try:
        gone, straddling, cut, kept = (otlp.trace_id() for _ in range(4))
        spans = [
            otlp.span("gone", trace_id=gone, start_ns=_midnight(41) + SEC),
            otlp.span("old", trace_id=straddling, start_ns=_midnight(41) + 2 * SEC),
            otlp.span("recent", trace_id=straddling, start_ns=_midnight(2)),
            otlp.span("before cutoff", trace_id=cut, start_ns=_midnight(40) + 10 * SEC),
            otlp.span("after cutoff", trace_id=kept, start_ns=_midnight(40) + 100 * SEC),
        ]
        assert http.post("/v1/traces", json=otlp.request(spans)).status_code == 200
        retention_days = (time.time_ns() - _midnight(40) - 50 * SEC) / DAY_NS  # cutoff: 50 s past midnight
        assert sweep(db, retention_days).spans == 3

        assert http.get(f"/v1/traces/{gone}").status_code == 404
        assert http.get(f"/v1/traces/{cut}").status_code == 404
        assert [s["name"] for s in http.get(f"/v1/traces/{straddling}").json()["spans"]] == ["recent"]
        assert [s["name"] for s in http.get(f"/v1/traces/{kept}").json()["spans"]] == ["after cutoff"]
        if not db.is_sqlite:
            assert _rows(db) == {(straddling, 2), (kept, 40)}
        late = otlp.span("late", trace_id=gone, start_ns=_midnight(41) + 7 * SEC)  # its day is made anew
        assert http.post("/v1/traces", json=otlp.request([late])).status_code == 200
        assert [s["name"] for s in http.get(f"/v1/traces/{gone}").json()["spans"]] == ["late"]
    finally:
        http.close()
        server.stop()
        db.dispose()


def test_a_span_re_sent_weeks_later_is_stored_once(db_url: str, otlp: Any) -> None:
    """A producer that rebuilt a span re-sends it with another start time, far from the first: the first copy
    stays, on both databases."""
    server, db, http = _serve(db_url)
    try:
        trace, span_id = otlp.trace_id(), otlp.span_id()
        first = otlp.span("call", trace_id=trace, span_id=span_id, start_ns=_midnight(50) + SEC)
        again = otlp.span("call again", trace_id=trace, span_id=span_id, start_ns=_midnight(1) + SEC)
        sibling = otlp.span("sibling", trace_id=trace, start_ns=_midnight(1) + 2 * SEC)
        assert http.post("/v1/traces", json=otlp.request([first])).status_code == 200
        assert http.post("/v1/traces", json=otlp.request([again, sibling])).status_code == 200
        assert http.post("/v1/traces", json=otlp.request([again, again])).status_code == 200  # twice in a batch

        assert [s["name"] for s in http.get(f"/v1/traces/{trace}").json()["spans"]] == ["call", "sibling"]
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM spans")).scalar() == 2
            assert conn.execute(text("SELECT sum(spans) FROM span_rollup")).scalar() == 2
        if not db.is_sqlite:
            assert _rows(db) == {(trace, 50), (trace, 1)}
    finally:
        http.close()
        server.stop()
        db.dispose()


def test_rebuild_notes_the_days_of_spans_an_older_collector_stored(db_url: str, otlp: Any) -> None:
    """An older collector (a rolling upgrade) writes spans without their days: PostgreSQL's reads by trace id
    miss them until ``plaudit db rebuild``, after which both databases answer alike."""
    server, db, http = _serve(db_url)
    try:
        trace = otlp.trace_id()
        new = otlp.span("new", trace_id=trace, start_ns=_midnight(1))
        assert http.post("/v1/traces", json=otlp.request([new])).status_code == 200
        partitions.ensure(db, [partitions.day_of(_midnight(3))])
        with db.engine.begin() as conn:  # what a collector of the previous version writes: the span row alone
            conn.execute(
                text(
                    "INSERT INTO spans (project, trace_id, span_id, name, otel_kind, start_ns, end_ns, duration_ms, "
                    "status_code, attributes, resource, events, links, received_at, cost_estimated) VALUES ('default', "
                    f"'{trace}', 'b7ad6b7169203331', 'older', 'INTERNAL', {_midnight(3)}, {_midnight(3) + SEC}, 1000, "
                    "'UNSET', '{}', '{}', '[]', '[]', CURRENT_TIMESTAMP, FALSE)"
                )
            )
        names = ["new"] if not db.is_sqlite else ["older", "new"]
        assert [s["name"] for s in http.get(f"/v1/traces/{trace}").json()["spans"]] == names
        maintenance.rebuild(db)
        assert [s["name"] for s in http.get(f"/v1/traces/{trace}").json()["spans"]] == ["older", "new"]
    finally:
        http.close()
        server.stop()
        db.dispose()


def test_migration_fills_trace_days_from_stored_spans(pg_url: str, otlp: Any) -> None:
    server, db, http = _serve(pg_url)
    traces = [otlp.trace_id() for _ in range(3)]
    try:
        spans = [otlp.span(f"s{i}", trace_id=t, start_ns=_midnight(3 * i) + SEC) for i, t in enumerate(traces)]
        spans.append(otlp.span("next day", trace_id=traces[0], start_ns=_midnight(-1) + SEC))
        assert http.post("/v1/traces", json=otlp.request(spans)).status_code == 200
        before = {t: http.get(f"/v1/traces/{t}").json() for t in traces}
        rows = _rows(db)
        with db.engine.begin() as conn:  # back to before 0013 (the table goes), then up again
            config = alembic_config(pg_url)
            config.attributes["connection"] = conn
            command.downgrade(config, "0012_attr_dimensions")
            assert not conn.execute(text("SELECT to_regclass('trace_days')")).scalar()
            command.upgrade(config, "head")
        assert rows == {(traces[0], 0), (traces[0], -1), (traces[1], 3), (traces[2], 6)} == _rows(db)
        assert {t: http.get(f"/v1/traces/{t}").json() for t in traces} == before
    finally:
        http.close()
        server.stop()
        db.dispose()


def _days(*ago: int) -> list[int]:
    today = partitions.day_of(time.time_ns())
    return [today - d for d in ago]


def _partitions_in(plan: str) -> list[str]:
    import re

    return re.findall(r"\bon (spans_p\d{8})", plan)


def _sql(query: Any, conn: Any) -> str:
    return str(query.compile(conn, compile_kwargs={"literal_binds": True}))
