"""OTLP log records → span events and feedback (pure: a decoded request in, an IngestBatch out).

GenAI instrumentations (OTel ``gen_ai.*`` message events, ``gen_ai.client.inference.operation.details``)
may send the prompt and the completion as log records that carry the span's context rather than as span
attributes. Such records become span events, stored beside the spans and joined when a trace is read;
``gen_ai.evaluation.result`` records become feedback; every other record is counted and dropped.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from plaudit_collector.ingest import carried_feedback, decode
from plaudit_collector.ingest.batch import IngestBatch
from plaudit_collector.ingest.conventions import MAX_VALUE_CHARS, truncate, without_content

INPUT_MESSAGE_EVENTS = (
    "gen_ai.system.message",
    "gen_ai.user.message",
    "gen_ai.assistant.message",
    "gen_ai.tool.message",
)
OUTPUT_MESSAGE_EVENTS = ("gen_ai.choice",)
DETAILS_EVENT = "gen_ai.client.inference.operation.details"


def _event_name(record: Any, attrs: dict[str, Any]) -> str:
    name = getattr(record, "event_name", "") or attrs.get("event.name") or attrs.get("gen_ai.event.name") or ""
    return decode.text(str(name))


def build_log_batch(request: ExportLogsServiceRequest, project: str, *, store_content: bool = True) -> IngestBatch:
    """Sort log records into span events and feedback; records that are neither are counted, not stored."""
    batch = IngestBatch(project)
    received = datetime.now(timezone.utc)
    for rl in request.resource_logs:
        for sl in rl.scope_logs:
            for record in sl.log_records:
                attrs = decode.attributes(record.attributes)
                name = _event_name(record, attrs)
                tid, sid = record.trace_id, record.span_id
                if tid and (len(tid) != 16 or not any(tid)) or sid and len(sid) != 8:
                    batch.reject(f"log record {name or '(unnamed)'!r}: malformed trace_id or span_id")
                    continue
                if not name.startswith("gen_ai.") or not tid:
                    batch.ignored += 1
                    continue
                trace_id = tid.hex()
                span_id = sid.hex() if sid and any(sid) else None
                time_ns = record.time_unix_nano or record.observed_time_unix_nano
                body = decode.any_value(record.body) if record.HasField("body") else None
                if name == carried_feedback.EVALUATION_EVENT:
                    item = carried_feedback.evaluation_event_item(
                        attrs,
                        target_trace=trace_id,
                        target_span=span_id,
                        key_parts=(trace_id, span_id, "log", time_ns, attrs.get("gen_ai.evaluation.name")),
                    )
                    if item is None:
                        batch.reject(f"{name} log record without a name and a result")
                    else:
                        batch.feedback.append(item)
                    continue
                if not store_content:
                    attrs = without_content(attrs, event=True)
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
