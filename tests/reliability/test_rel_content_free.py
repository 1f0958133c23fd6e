"""A project set to store no content (``plaudit projects set NAME --no-store-content``) stores none of the
kinds docs/privacy.md lists, through any door, on SQLite and PostgreSQL.

Every piece of content sent below carries a marker; afterwards no row of any table holds one, while what is
not content (model, tokens, scores, exception types, link ids) is kept.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status
from rel_helpers import db_rows

from plaudit_collector.server import BackgroundServer
from plaudit_collector.settings import CollectorSettings
from plaudit_collector.store import projects

TID = "c0" * 16
SID = "00f067aa0ba902b7"
LINKED = ("00f067aa0ba902b8", "00f067aa0ba902b9")
MARK = "SECRET"
PROTOBUF = {"Content-Type": "application/x-protobuf"}
TABLES = ("spans", "span_events", "feedback")


def kv(key: str, value: Any) -> KeyValue:
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


CONTENT_ATTRIBUTES = {
    "plaudit.input": f"{MARK} question",
    "plaudit.output": f"{MARK} answer",
    "gen_ai.tool.call.arguments": f'{{"city": "{MARK}"}}',
    "gen_ai.tool.call.result": f"{MARK} sunny",
    "tool_call.function.arguments": f'{{"q": "{MARK}"}}',
    "llm.function_call": f'{{"name": "f", "arguments": "{MARK}"}}',
    "retrieval.documents.0.document.content": f"{MARK} document",
    "reranker.input_documents.0.document.content": f"{MARK} candidate",
    "embedding.embeddings.0.embedding.text": f"{MARK} embedded text",
    "ai.values": f'["{MARK} embedded"]',
    "events": f'[{{"role": "user", "content": "{MARK}"}}]',  # pydantic-ai message events
    "all_messages_events": f'[{{"content": "{MARK}"}}]',
    "pydantic_ai.all_messages": f'[{{"parts": "{MARK}"}}]',
    "final_result": f"{MARK} final",
    "exception.message": f"{MARK} in an attribute",
    "annotations.0.annotation.name": "helpful",
    "annotations.0.annotation.score": 1.0,
    "annotations.0.annotation.explanation": f"{MARK} because",
}


def spans_request() -> bytes:
    span = Span(
        trace_id=bytes.fromhex(TID),
        span_id=bytes.fromhex(SID),
        name="chat",
        start_time_unix_nano=1_700_000_000_000_000_000,
        end_time_unix_nano=1_700_000_001_000_000_000,
        attributes=[
            kv("gen_ai.request.model", "m1"),
            KeyValue(key="gen_ai.usage.input_tokens", value=AnyValue(int_value=12)),
            *(kv(key, value) for key, value in CONTENT_ATTRIBUTES.items()),
        ],
        status=Status(code=Status.STATUS_CODE_ERROR, message=f"{MARK} status description"),
        events=[
            Span.Event(
                name="exception",
                time_unix_nano=2,
                attributes=[
                    kv("exception.type", "ValueError"),
                    kv("exception.message", f"{MARK} message"),
                    kv("exception.stacktrace", f"Traceback: {MARK}"),
                ],
            ),
            Span.Event(name="gen_ai.user.message", time_unix_nano=3, attributes=[kv("content", f"{MARK} hi")]),
            Span.Event(
                name="gen_ai.evaluation.result",
                time_unix_nano=4,
                attributes=[
                    kv("gen_ai.evaluation.name", "judged"),
                    kv("gen_ai.evaluation.score.value", 0.5),
                    kv("gen_ai.evaluation.explanation", f"{MARK} judged so"),
                ],
            ),
        ],
        links=[  # two links: one alone would make this span a post-hoc feedback carrier for the linked span
            Span.Link(trace_id=bytes.fromhex(TID), span_id=bytes.fromhex(linked), attributes=[kv("why", MARK)])
            for linked in LINKED
        ],
    )
    return ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=[span])])]
    ).SerializeToString()


def logs_request() -> bytes:
    records = [
        LogRecord(
            trace_id=bytes.fromhex(TID),
            span_id=bytes.fromhex(SID),
            event_name="gen_ai.choice",
            body=AnyValue(string_value=f"{MARK} choice"),
            attributes=[kv("message", f"{MARK} message"), kv("gen_ai.system", "openai")],
        ),
        LogRecord(
            trace_id=bytes.fromhex(TID),
            span_id=bytes.fromhex(SID),
            event_name="gen_ai.evaluation.result",
            attributes=[
                kv("gen_ai.evaluation.name", "logged"),
                kv("gen_ai.evaluation.score.value", 1.0),
                kv("gen_ai.evaluation.explanation", f"{MARK} logged"),
            ],
        ),
    ]
    request = ExportLogsServiceRequest(resource_logs=[ResourceLogs(scope_logs=[ScopeLogs(log_records=records)])])
    return request.SerializeToString()


@pytest.fixture
def quiet(db_url: str) -> Iterator[httpx.Client]:
    with BackgroundServer(CollectorSettings(db_url=db_url, auth=True)) as srv:
        db = srv.app.state.db
        projects.ensure_project(db, "quiet", store_content=False)
        key, _ = projects.create_key(db, "quiet")
        try:
            with httpx.Client(base_url=srv.url, timeout=30, headers={"Authorization": f"Bearer {key}"}) as http:
                yield http
        finally:
            db.dispose()


def test_a_content_free_project_stores_no_content_through_any_door(quiet: httpx.Client, db_url: str) -> None:
    http = quiet
    assert http.post("/v1/traces", content=spans_request(), headers=PROTOBUF).status_code == 200
    assert http.post("/v1/logs", content=logs_request(), headers=PROTOBUF).status_code == 200
    rated = {"trace_id": TID, "span_id": SID, "name": "thumbs", "value": False, "author": "u1"}
    assert http.post("/v1/feedback", json={**rated, "comment": f"{MARK} comment"}).status_code == 201
    assert http.post("/v1/feedback", json={**rated, "value": None, "correction": f"{MARK} fix"}).status_code == 201
    preference = {"a": {"trace_id": TID}, "b": {"trace_id": "c1" * 16}, "winner": "a", "comment": f"{MARK} pref"}
    assert http.post("/v1/preferences", json=preference).status_code == 201
    minted = http.post("/v1/feedback-tokens", json={"trace_id": TID, "names": ["stars"]}).json()
    browser = {"trace_id": TID, "name": "stars", "value": 4, "comment": f"{MARK} from a browser"}
    posted = httpx.post(http.base_url.join("/v1/feedback"), json=browser, headers={minted["header"]: minted["token"]})
    assert posted.status_code == 201, posted.text

    for table in TABLES:
        for row in db_rows(db_url, f"SELECT * FROM {table}"):
            assert MARK not in json.dumps(row, default=str), (table, row)
    span = http.get(f"/v1/traces/{TID}").json()["spans"][0]
    assert MARK not in json.dumps(span)
    assert (span["model"], span["input_tokens"], span["status"]) == ("m1", 12, "ERROR")
    (links,) = db_rows(db_url, "SELECT links FROM spans")[0]
    links = json.loads(links) if isinstance(links, str) else links
    assert links == [{"trace_id": TID, "span_id": linked} for linked in LINKED], "link ids are kept"
    exception = next(event for event in span["events"] if event["name"] == "exception")
    assert exception["attributes"] == {"exception.type": "ValueError"}
    scores = {f["name"]: f["score"] for f in http.get("/v1/feedback").json()["data"]}
    assert scores == {"helpful": 1.0, "judged": 0.5, "logged": 1.0, "thumbs": 0.0, "preference": None, "stars": 4.0}
