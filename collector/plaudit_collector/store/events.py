"""Span events that came as OTLP log records: stored once each, joined to their span when a trace is read.

Logs and spans arrive separately and in either order; a span already stored without content gets the
content its events describe filled in at once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from plaudit_collector.ingest.logs import content_from_events
from plaudit_collector.store.tables import SpanEvent

EVENTS_TABLE = SpanEvent.__table__  # type: ignore[attr-defined]

_FILL = text(
    "UPDATE spans SET input = COALESCE(input, :input), output = COALESCE(output, :output) "
    "WHERE project = :project AND trace_id = :trace_id AND span_id = :span_id "
    "AND (input IS NULL OR output IS NULL)"
)


def insert_events(conn: Connection, insert: Any, project: str, events: list[dict[str, Any]]) -> None:
    """Store events (a re-sent record is skipped) and fill in the content of their spans already stored.

    ``insert`` is the dialect's INSERT for the events table (it offers ``on_conflict_do_nothing``)."""
    conn.execute(insert.on_conflict_do_nothing(index_elements=["project", "dedupe_key"]), events)
    by_span: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for ev in events:
        if ev["span_id"]:
            by_span.setdefault((ev["trace_id"], ev["span_id"]), []).append(ev)
    for (trace_id, span_id), span_events in by_span.items():
        derived_input, derived_output = content_from_events(span_events)
        if derived_input is None and derived_output is None:
            continue
        conn.execute(
            _FILL,
            {
                "input": derived_input,
                "output": derived_output,
                "project": project,
                "trace_id": trace_id,
                "span_id": span_id,
            },
        )


def event_dict(ev: SpanEvent) -> dict[str, Any]:
    return {"name": ev.name, "time_ns": ev.time_ns, "attributes": ev.attributes, "body": ev.body, "source": "log"}
