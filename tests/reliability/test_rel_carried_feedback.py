"""Spans and the feedback they carry commit together, on SQLite and PostgreSQL.

The database itself refuses one carried feedback item (a trigger installed by the test, a real failure
inside the write transaction): the request fails and none of its spans is stored. The ``kill -9`` variant is
``test_rel_crash.py``, whose OTLP batches carry annotations.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span
from rel_helpers import CollectorProcess, db_count

PROTOBUF = {"Content-Type": "application/x-protobuf"}
SQLITE_TRIGGER = """
CREATE TRIGGER refuse_explode BEFORE INSERT ON feedback WHEN NEW.name = 'explode'
BEGIN SELECT RAISE(ABORT, 'refused by the test trigger'); END
"""
PG_TRIGGER = """
CREATE FUNCTION refuse_explode() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.name = 'explode' THEN RAISE EXCEPTION 'refused by the test trigger'; END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER refuse_explode BEFORE INSERT ON feedback FOR EACH ROW EXECUTE FUNCTION refuse_explode();
"""


@pytest.fixture
def collector(db_url: str, tmp_path: Path) -> Iterator[tuple[httpx.Client, str]]:
    proc = CollectorProcess(db_url, tmp_path).start()  # its own process: the expected 500 logs a traceback
    try:
        if db_url.startswith("sqlite"):
            with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
                conn.execute(SQLITE_TRIGGER)
        else:
            import psycopg

            with psycopg.connect(db_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
                conn.execute(PG_TRIGGER)
        # A connection that answered a 500 is closed by the server: no keep-alive.
        with httpx.Client(base_url=proc.url, timeout=30, limits=httpx.Limits(max_keepalive_connections=0)) as http:
            yield http, db_url
    finally:
        proc.stop()


def batch(trace_id: str, feedback_name: str) -> bytes:
    annotated = [
        KeyValue(key="annotations.0.annotation.name", value=AnyValue(string_value=feedback_name)),
        KeyValue(key="annotations.0.annotation.score", value=AnyValue(double_value=1.0)),
    ]
    spans = [
        Span(
            trace_id=bytes.fromhex(trace_id),
            span_id=index.to_bytes(8, "big"),
            name=f"s{index}",
            start_time_unix_nano=1,
            attributes=annotated if index == 3 else [],
        )
        for index in range(1, 6)
    ]
    return ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=spans)])]
    ).SerializeToString()


def test_a_batch_whose_carried_feedback_fails_to_store_leaves_no_spans(collector: tuple[httpx.Client, str]) -> None:
    http, db_url = collector
    failing, fine = "c1" * 16, "c2" * 16
    response = http.post("/v1/traces", content=batch(failing, "explode"), headers=PROTOBUF)
    assert response.status_code >= 500, "the database refused part of the batch"
    assert db_count(db_url, f"SELECT COUNT(*) FROM spans WHERE trace_id = '{failing}'") == 0
    assert db_count(db_url, f"SELECT COUNT(*) FROM feedback WHERE trace_id = '{failing}'") == 0
    assert http.post("/v1/traces", content=batch(fine, "thumbs"), headers=PROTOBUF).status_code == 200
    assert db_count(db_url, f"SELECT COUNT(*) FROM spans WHERE trace_id = '{fine}'") == 5
    assert db_count(db_url, f"SELECT COUNT(*) FROM feedback WHERE trace_id = '{fine}'") == 1
