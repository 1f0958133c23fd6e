"""OTLP logs: GenAI content events join their spans, evaluation events become feedback, the rest is dropped.

GenAI instrumentations (OTel ``gen_ai.*`` message events, ``gen_ai.client.inference.operation.details``)
may send the prompt and the completion as log records that carry the span's context rather than as span
attributes. Logs and spans arrive separately and in either order, so events are stored in ``span_events``
and joined when the trace is read; a span already stored without content gets it filled in at once.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from sqlalchemy import text

from plaudit_collector import otlp, telemetry_feedback
from plaudit_collector.db import Database
from plaudit_collector.normalize import MAX_VALUE_CHARS, is_content_key, truncate
from plaudit_collector.tables import SpanEvent, utcnow

EVENTS_TABLE = SpanEvent.__table__  # type: ignore[attr-defined]
INPUT_MESSAGE_EVENTS = (
    "gen_ai.system.message",
    "gen_ai.user.message",
    "gen_ai.assistant.message",
    "gen_ai.tool.message",
)
OUTPUT_MESSAGE_EVENTS = ("gen_ai.choice",)
DETAILS_EVENT = "gen_ai.client.inference.operation.details"


@dataclass
class LogBatch:
    events: list[dict[str, Any]] = field(default_factory=list)
    feedback: list[dict[str, Any]] = field(default_factory=list)
    rejected: int = 0
    ignored: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        notes = list(self.problems[:5])
        if self.ignored:
            notes.append(f"{self.ignored} log record(s) without a span context or a gen_ai event name were not stored")
        return "; ".join(notes)


def _event_name(record: Any, attrs: dict[str, Any]) -> str:
    name = getattr(record, "event_name", "") or attrs.get("event.name") or attrs.get("gen_ai.event.name") or ""
    return str(name)


def build_log_batch(request: ExportLogsServiceRequest, project: str, *, store_content: bool = True) -> LogBatch:
    """Sort log records into span events and feedback; records that are neither are counted, not stored."""
    batch = LogBatch()
    received = utcnow()
    for rl in request.resource_logs:
        for sl in rl.scope_logs:
            for record in sl.log_records:
                attrs = otlp.attributes(record.attributes)
                name = _event_name(record, attrs)
                tid, sid = record.trace_id, record.span_id
                if tid and (len(tid) != 16 or not any(tid)) or sid and len(sid) != 8:
                    batch.rejected += 1
                    batch.problems.append(f"log record {name or '(unnamed)'!r}: malformed trace_id or span_id")
                    continue
                if not name.startswith("gen_ai.") or not tid:
                    batch.ignored += 1
                    continue
                trace_id = tid.hex()
                span_id = sid.hex() if sid and any(sid) else None
                time_ns = record.time_unix_nano or record.observed_time_unix_nano
                body = otlp.any_value(record.body) if record.HasField("body") else None
                if name == telemetry_feedback.EVALUATION_EVENT:
                    item = telemetry_feedback.evaluation_event_item(
                        attrs,
                        target_trace=trace_id,
                        target_span=span_id,
                        key_parts=(trace_id, span_id, "log", time_ns, attrs.get("gen_ai.evaluation.name")),
                    )
                    if item is None:
                        batch.rejected += 1
                        batch.problems.append(f"{name} log record without a name and a result")
                    else:
                        batch.feedback.append(item)
                    continue
                if not store_content:
                    attrs = {key: value for key, value in attrs.items() if not is_content_key(key)}
                    body = None
                dedupe = hashlib.sha256(record.SerializeToString(deterministic=True)).hexdigest()
                batch.events.append(
                    {
                        "project": project,
                        "trace_id": trace_id,
                        "span_id": span_id,
                        "name": name[:200],
                        "time_ns": int(time_ns),
                        "attributes": attrs,
                        "body": body,
                        "dedupe_key": dedupe,
                        "received_at": received,
                    }
                )
    return batch


def _messages_text(messages: list[Any]) -> str | None:
    if not messages:
        return None
    return truncate(json.dumps(messages, ensure_ascii=False, default=str), MAX_VALUE_CHARS)


def content_from_events(events: list[dict[str, Any]]) -> tuple[str | None, str | None]:
    """The span's input and output as the GenAI events describe them (JSON message lists)."""
    inputs: list[Any] = []
    outputs: list[Any] = []
    for ev in events:
        name, attrs, body = ev.get("name"), ev.get("attributes") or {}, ev.get("body")
        if name == DETAILS_EVENT:
            for key, bucket in (("gen_ai.input.messages", inputs), ("gen_ai.output.messages", outputs)):
                value = attrs.get(key)
                if isinstance(value, str):
                    try:
                        value = json.loads(value)
                    except ValueError:
                        value = [value]
                if isinstance(value, list):
                    bucket.extend(value)
        elif name in INPUT_MESSAGE_EVENTS:
            message = dict(body) if isinstance(body, dict) else {"content": body}
            message.setdefault("role", name.split(".")[1])
            inputs.append(message)
        elif name in OUTPUT_MESSAGE_EVENTS:
            outputs.append(body)
    return _messages_text(inputs), _messages_text(outputs)


def event_dict(ev: SpanEvent) -> dict[str, Any]:
    return {"name": ev.name, "time_ns": ev.time_ns, "attributes": ev.attributes, "body": ev.body, "source": "log"}


def ingest_logs(
    db: Database, request: ExportLogsServiceRequest, project: str, *, store_content: bool = True
) -> LogBatch:
    """Store span events (idempotent) and fill in content of spans already stored; then store the feedback."""
    batch = build_log_batch(request, project, store_content=store_content)
    if batch.events:
        _store_events(db, project, batch.events)
    if batch.feedback:
        batch.problems.extend(telemetry_feedback.store(db, project, batch.feedback))
    return batch


def _store_events(db: Database, project: str, events: list[dict[str, Any]]) -> None:
    insert = db.insert(EVENTS_TABLE).on_conflict_do_nothing(index_elements=["project", "dedupe_key"])
    by_span: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for ev in events:
        if ev["span_id"]:
            by_span.setdefault((ev["trace_id"], ev["span_id"]), []).append(ev)
    fill = text(
        "UPDATE spans SET input = COALESCE(input, :input), output = COALESCE(output, :output) "
        "WHERE project = :project AND trace_id = :trace_id AND span_id = :span_id "
        "AND (input IS NULL OR output IS NULL)"
    )
    with db.writing(), db.engine.begin() as conn:
        conn.execute(insert, events)
        for (trace_id, span_id), span_events in by_span.items():
            derived_input, derived_output = content_from_events(span_events)
            if derived_input is None and derived_output is None:
                continue
            conn.execute(
                fill,
                {
                    "input": derived_input,
                    "output": derived_output,
                    "project": project,
                    "trace_id": trace_id,
                    "span_id": span_id,
                },
            )
