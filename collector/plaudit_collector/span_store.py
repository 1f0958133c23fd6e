"""Span writes (idempotent OTLP ingest) and trace reads. Every write commits before the caller replies."""

from __future__ import annotations

from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from sqlalchemy import Insert, and_, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session as OrmSession

from plaudit_collector import otlp
from plaudit_collector.db import Database
from plaudit_collector.feedback_store import feedback_dict
from plaudit_collector.normalize import bounded_attributes, normalise
from plaudit_collector.tables import Feedback, Span, utcnow

SPAN_TABLE = Span.__table__  # type: ignore[attr-defined]


def _insert(db: Database) -> Any:
    return sqlite_insert if db.is_sqlite else pg_insert


def span_rows(request: ExportTraceServiceRequest, project: str) -> list[dict[str, Any]]:
    """Turn a decoded OTLP request into rows; raises ApiError (400) on malformed ids."""
    rows: list[dict[str, Any]] = []
    received = utcnow()
    for resource, scope, span in otlp.iter_spans(request):
        trace_id, span_id, parent_id = otlp.span_ids(span)
        attrs = bounded_attributes(otlp.attributes(span.attributes))
        start, end = int(span.start_time_unix_nano), int(span.end_time_unix_nano)
        row = {
            "project": project,
            "trace_id": trace_id,
            "span_id": span_id,
            "parent_span_id": parent_id,
            "name": span.name[:1000] or "(unnamed)",
            "otel_kind": otlp.kind_name(span.kind),
            "start_ns": start,
            "end_ns": max(end, start),
            "duration_ms": max(end - start, 0) / 1e6,
            "status_code": otlp.status_name(span.status.code),
            "status_message": span.status.message or None,
            "service_name": str(resource.get("service.name", ""))[:200] or None,
            "attributes": attrs,
            "resource": bounded_attributes(resource),
            "scope": (scope or "")[:200] or None,
            "events": [
                {
                    "name": ev.name,
                    "time_ns": int(ev.time_unix_nano),
                    "attributes": bounded_attributes(otlp.attributes(ev.attributes)),
                }
                for ev in span.events
            ],
            "links": [
                {"trace_id": link.trace_id.hex(), "span_id": link.span_id.hex(), **otlp.attributes(link.attributes)}
                for link in span.links
            ],
            "received_at": received,
        }
        row.update(normalise(attrs))
        rows.append(row)
    return rows


def insert_spans(db: Database, rows: list[dict[str, Any]]) -> int:
    """Insert rows in one transaction; a span already stored (same trace and span id) is left as is."""
    if not rows:
        return 0
    stmt: Insert = _insert(db)(SPAN_TABLE).on_conflict_do_nothing(index_elements=["project", "trace_id", "span_id"])
    with db.writing(), db.engine.begin() as conn:
        for start in range(0, len(rows), 1000):
            conn.execute(stmt, rows[start : start + 1000])
    return len(rows)


def _iso(ns: int) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).isoformat().replace("+00:00", "Z")


SPAN_FIELDS = (
    "span_id",
    "parent_span_id",
    "name",
    "span_kind",
    "duration_ms",
    "status_message",
    "service_name",
    "model",
    "provider",
    "input_tokens",
    "output_tokens",
    "input",
    "output",
    "prompt_name",
    "prompt_version",
    "config_hash",
    "variant",
    "user_id",
    "session_id",
    "attributes",
    "resource",
    "scope",
    "events",
    "links",
)


def get_trace(db: Database, project: str, trace_id: str) -> dict[str, Any] | None:
    with OrmSession(db.engine) as session:
        spans = (
            session.execute(
                select(Span).where(Span.project == project, Span.trace_id == trace_id).order_by(Span.start_ns)
            )
            .scalars()
            .all()
        )
        feedback = (
            session.execute(
                select(Feedback)
                .where(Feedback.project == project, Feedback.trace_id == trace_id, Feedback.is_current.is_(True))  # type: ignore[attr-defined]
                .order_by(Feedback.id)
            )
            .scalars()
            .all()
        )
    if not spans and not feedback:
        return None
    by_span: dict[str | None, list[dict[str, Any]]] = {}
    for fb in feedback:
        by_span.setdefault(fb.span_id, []).append(feedback_dict(fb))
    out_spans = []
    for sp in spans:
        record = {field: getattr(sp, field) for field in SPAN_FIELDS}
        record.update(
            kind=sp.otel_kind,
            start_time=_iso(sp.start_ns),
            end_time=_iso(sp.end_ns),
            status=sp.status_code,
            feedback=by_span.pop(sp.span_id, []),
        )
        out_spans.append(record)
    return {
        "trace_id": trace_id,
        "spans": out_spans,
        "feedback": by_span.pop(None, []),
        "pending_feedback": [item for items in by_span.values() for item in items],
    }


def list_traces(db: Database, project: str, limit: int, offset: int) -> dict[str, Any]:
    """Recent traces, newest first, with their root span's name and span count."""
    with db.engine.connect() as conn:
        recent = (
            select(
                Span.trace_id,
                func.min(Span.start_ns).label("start_ns"),
                func.max(Span.end_ns).label("end_ns"),
                func.count().label("span_count"),
                func.max(Span.model).label("any_model"),
                func.max(Span.variant).label("any_variant"),
            )
            .where(Span.project == project)
            .group_by(Span.trace_id)
            .order_by(func.min(Span.start_ns).desc())
            .limit(limit)
            .offset(offset)
            .subquery()
        )
        root = Span.__table__.alias("root")  # type: ignore[attr-defined]
        rows = conn.execute(
            select(recent, root.c.name, root.c.status_code, root.c.model, root.c.variant)
            .select_from(
                recent.outerjoin(
                    root,
                    and_(
                        root.c.project == project,
                        root.c.trace_id == recent.c.trace_id,
                        root.c.parent_span_id.is_(None),
                    ),
                )
            )
            .order_by(recent.c.start_ns.desc())
        ).all()
        total = conn.execute(select(func.count(func.distinct(Span.trace_id))).where(Span.project == project)).scalar()
    data = []
    seen: set[str] = set()
    for row in rows:
        if row.trace_id in seen:
            continue
        seen.add(row.trace_id)
        data.append(
            {
                "trace_id": row.trace_id,
                "name": row.name,
                "start_time": _iso(row.start_ns),
                "duration_ms": (row.end_ns - row.start_ns) / 1e6,
                "span_count": row.span_count,
                "status": row.status_code,
                "model": row.model or row.any_model,
                "variant": row.variant or row.any_variant,
            }
        )
    return {"data": data, "count": int(total or 0)}
