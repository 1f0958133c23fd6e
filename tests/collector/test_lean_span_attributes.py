"""A span's input and output are stored once, in their columns, yet every reader shows the attributes as sent.

Spans go to a real collector over HTTP (OTLP/JSON) on SQLite and PostgreSQL. The stored attributes must not
hold the text the input and output columns hold; the trace reply, the span export and a review queue's item
must show the same attributes the span was sent with. Migration ``0010_lean_span_attributes`` strips the
copies from rows stored before it, in batches, and its downgrade puts them back.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from plaudit_collector.ingest import content, decode
from plaudit_collector.ingest.batch import COLUMN_AT, JSON_COLUMNS, SPAN_COLUMNS
from plaudit_collector.ingest.spans import build_batch
from plaudit_collector.store import partitions
from plaudit_collector.store import spans as span_store
from plaudit_collector.store.db import Database, alembic_config
from plaudit_collector.store.tables import Span

TRACE = "5b8aa5a2d2c872e8321cf37308d69df2"
PLAUDIT_SPAN, OPENINFERENCE_SPAN, LIST_SPAN = "051581bf3cb55c13", "051581bf3cb55c14", "051581bf3cb55c15"
QUESTION = "What is the capital of France? " * 20
ANSWER = "Paris is the capital of France. " * 20


def _value(value: Any) -> dict[str, Any]:
    if isinstance(value, list):
        return {"arrayValue": {"values": [_value(v) for v in value]}}
    if isinstance(value, int):
        return {"intValue": str(value)}
    return {"stringValue": value}


def _span(span_id: str, attrs: dict[str, Any]) -> dict[str, Any]:
    now = time.time_ns()
    return {
        "traceId": TRACE,
        "spanId": span_id,
        "name": f"span {span_id}",
        "kind": 3,
        "startTimeUnixNano": str(now),
        "endTimeUnixNano": str(now + 1_000_000),
        "attributes": [{"key": k, "value": _value(v)} for k, v in attrs.items()],
    }


SENT = {
    PLAUDIT_SPAN: {
        "gen_ai.request.model": "m1",
        "plaudit.input": QUESTION,
        "plaudit.output": ANSWER,
        "plaudit.prompt.name": "capitals",
    },
    OPENINFERENCE_SPAN: {
        "llm.model_name": "m2",
        "input.value": QUESTION,
        "output.value": ANSWER,
        "llm.token_count.prompt": 12,
        "plaudit.content_keys": "sent by a client: reserved, not kept",
    },
    LIST_SPAN: {"gen_ai.request.model": "m3", "gen_ai.prompt": ["one", "two"], "gen_ai.completion": ANSWER},
}
"""Three producers' spans. The list-valued prompt is kept in the attributes as it came (the column holds its
JSON text, another form), while the string completion is stored once."""
EXPECTED = {span_id: {k: v for k, v in attrs.items() if k != content.CONTENT_KEYS} for span_id, attrs in SENT.items()}


def _otlp() -> dict[str, Any]:
    spans = [_span(span_id, attrs) for span_id, attrs in SENT.items()]
    return {"resourceSpans": [{"resource": {}, "scopeSpans": [{"scope": {"name": "lean"}, "spans": spans}]}]}


def _stored_attributes(db_url: str) -> dict[str, dict[str, Any]]:
    db = Database(db_url)
    try:
        with db.engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT span_id, attributes FROM spans").all()
    finally:
        db.dispose()
    return {span_id: json.loads(raw) if isinstance(raw, str) else raw for span_id, raw in rows}


def test_content_is_stored_once_and_read_back_as_sent(collector: Any, db_url: str) -> None:
    with httpx.Client(base_url=collector.url, timeout=30) as http:
        assert http.post("/v1/traces", json=_otlp()).status_code == 200

        stored = _stored_attributes(db_url)
        for span_id, attrs in stored.items():
            text = json.dumps(attrs)
            assert text.count("capital of France") == 0 or span_id == LIST_SPAN, (span_id, attrs)
        assert stored[PLAUDIT_SPAN][content.CONTENT_KEYS] == {"input": "plaudit.input", "output": "plaudit.output"}
        assert stored[OPENINFERENCE_SPAN][content.CONTENT_KEYS] == {"input": "input.value", "output": "output.value"}
        assert stored[LIST_SPAN]["gen_ai.prompt"] == ["one", "two"]
        assert "gen_ai.completion" not in stored[LIST_SPAN]
        assert stored[LIST_SPAN][content.CONTENT_KEYS] == {"output": "gen_ai.completion"}

        trace = http.get(f"/v1/traces/{TRACE}").json()
        shown = {span["span_id"]: span for span in trace["spans"]}
        for span_id, expected in EXPECTED.items():
            assert shown[span_id]["attributes"] == expected
        assert shown[PLAUDIT_SPAN]["input"] == QUESTION
        assert shown[OPENINFERENCE_SPAN]["output"] == ANSWER

        items = [{"trace_id": TRACE, "span_id": span_id, "name": "thumbs", "value": True} for span_id in SENT]
        assert http.post("/v1/feedback", json={"items": items}).status_code < 300
        exported = [json.loads(line) for line in http.get("/v1/export/spans").text.splitlines() if line]
        assert {row["span_id"]: row["attributes"] for row in exported} == EXPECTED

        queue = http.post(
            "/v1/queues",
            json={"name": "lean", "filter": {"span_name": f"span {PLAUDIT_SPAN}"}, "scores": ["thumbs"]},
        )
        assert queue.status_code < 300, queue.text
        item = http.get(f"/v1/queues/{queue.json()['id']}/next", params={"reviewer": "ann"}).json()
        assert item["span"]["attributes"] == EXPECTED[PLAUDIT_SPAN]


def _old_layout_rows(db: Database) -> list[tuple[Any, ...]]:
    """The spans as a collector before this change stored them: the content in the attributes too."""
    request = decode.parse_request(json.dumps(_otlp()).encode(), "application/json")
    batch = build_batch(request, "default", received=span_store.received_value(db, _now()))
    at, inp, out = COLUMN_AT["attributes"], COLUMN_AT["input"], COLUMN_AT["output"]
    rows = []
    assert len(batch.rows) == len(SENT)
    for row in batch.rows:
        attrs = content.full(json.loads(row[at]), row[inp], row[out])
        rows.append((*row[:at], json.dumps(attrs), *row[at + 1 :]))
    return rows


def _now() -> Any:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)


def _downgrade(db: Database, revision: str) -> None:
    from alembic import command

    with db.engine.begin() as conn:
        config = alembic_config(db.url)
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


def test_migration_strips_the_copies_from_stored_rows_and_downgrade_restores_them(db_url: str) -> None:
    db = Database(db_url)
    try:
        db.upgrade("0009_pg_day_partitions")
        partitions.ensure_ahead(db, time.time_ns())  # rows inserted directly need their day's partition
        old_columns = [c for c in SPAN_COLUMNS if not c.startswith("dim_")]  # as at 0009: no slots (0012)
        rows = [
            {c: json.loads(v) if c in JSON_COLUMNS else v for c, v in zip(SPAN_COLUMNS, row, strict=True)}
            for row in _old_layout_rows(db)
        ]
        with db.engine.begin() as conn:
            conn.execute(
                Span.__table__.insert(), [{**{c: row[c] for c in old_columns}, "received_at": _now()} for row in rows]
            )
        before = _stored_attributes(db_url)
        assert before[PLAUDIT_SPAN]["plaudit.input"] == QUESTION

        db.upgrade()
        after = _stored_attributes(db_url)
        assert "plaudit.input" not in after[PLAUDIT_SPAN] and "output.value" not in after[OPENINFERENCE_SPAN]
        assert after[LIST_SPAN]["gen_ai.prompt"] == ["one", "two"]
        assert len(json.dumps(after[PLAUDIT_SPAN])) < len(json.dumps(before[PLAUDIT_SPAN])) - len(QUESTION)
        trace = span_store.get_trace(db, "default", TRACE)
        assert trace is not None
        assert {span["span_id"]: span["attributes"] for span in trace["spans"]} == EXPECTED

        _downgrade(db, "0009_pg_day_partitions")
        restored = _stored_attributes(db_url)
        assert {span_id: restored[span_id] for span_id in SENT} == EXPECTED
    finally:
        db.dispose()
