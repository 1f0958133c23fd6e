"""Span writes (idempotent OTLP ingest) and trace reads. Every write commits before the caller replies.

Ingest is the hot path: rows are built straight from the protobuf message as tuples and written with one
``executemany`` per batch, so the per-span cost is the attribute walk plus one JSON encode.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from sqlalchemy import String, and_, bindparam, func, select
from sqlalchemy.orm import Session as OrmSession

from plaudit_collector import crediting, log_store, otlp, rollup, telemetry_feedback
from plaudit_collector.db import Database
from plaudit_collector.errors import ApiError
from plaudit_collector.feedback_store import feedback_dict, feedback_for_trace
from plaudit_collector.normalize import is_content_key, normalise, without_content
from plaudit_collector.tables import Span, SpanEvent, utcnow

SPAN_TABLE = Span.__table__  # type: ignore[attr-defined]

SPAN_COLUMNS = (
    "project",
    "trace_id",
    "span_id",
    "parent_span_id",
    "name",
    "otel_kind",
    "span_kind",
    "start_ns",
    "end_ns",
    "duration_ms",
    "status_code",
    "status_message",
    "service_name",
    "model",
    "response_model",
    "provider",
    "input_tokens",
    "output_tokens",
    "cost",
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
    "received_at",
)
_JSON_COLUMNS = frozenset(("attributes", "resource", "events", "links"))
_ZERO_TRACE = bytes(16)
_ZERO_SPAN = bytes(8)

dumps = otlp.dumps


MAX_TIME_NS = 2**63 - 1


def insert_sql(dialect: str) -> str:
    """One INSERT for a batch of span tuples; a span already stored (same project, trace, span) is skipped."""
    if dialect == "postgresql":
        values = ", ".join("CAST(%s AS JSONB)" if col in _JSON_COLUMNS else "%s" for col in SPAN_COLUMNS)
    else:
        values = ", ".join("?" for _ in SPAN_COLUMNS)
    return (
        f"INSERT INTO spans ({', '.join(SPAN_COLUMNS)}) VALUES ({values}) "
        "ON CONFLICT (project, trace_id, span_id) DO NOTHING"
    )


def received_value(db: Database, moment: datetime) -> Any:
    """``received_at`` as the driver wants it: SQLAlchemy's text format on SQLite, a datetime on PostgreSQL."""
    if db.is_sqlite:
        return moment.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    return moment


@dataclass
class SpanBatch:
    """What one OTLP request turns into: span rows, feedback items, and what was rejected and why."""

    rows: list[tuple[Any, ...]] = field(default_factory=list)
    feedback: list[dict[str, Any]] = field(default_factory=list)
    rejected: int = 0
    problems: list[str] = field(default_factory=list)

    first_field: str | None = None

    def reject(self, problem: str, field_name: str) -> None:
        self.rejected += 1
        self.first_field = self.first_field or field_name
        if len(self.problems) < 5:
            self.problems.append(problem)

    @property
    def message(self) -> str:
        return "; ".join(self.problems)


def _event_dicts(span: Any, store_content: bool) -> list[dict[str, Any]]:
    events = []
    for ev in span.events:
        attrs = otlp.attributes(ev.attributes)
        if not store_content:
            attrs = {key: value for key, value in attrs.items() if not is_content_key(key) and key != "content"}
        events.append({"name": ev.name, "time_ns": ev.time_unix_nano, "attributes": attrs})
    return events


def build_batch(
    request: ExportTraceServiceRequest, project: str, *, received: Any, store_content: bool = True
) -> SpanBatch:
    """Turn a decoded OTLP request into span rows (tuples in ``SPAN_COLUMNS`` order) and feedback items.

    A span with malformed ids is rejected on its own (OTLP partial success); feedback carriers
    (OpenInference post-hoc annotations, Logfire annotation spans) become feedback, not spans.
    """
    batch = SpanBatch()
    rows = batch.rows
    kind_names = otlp.KIND_NAMES
    status_names = otlp.STATUS_NAMES
    attributes = otlp.attributes
    feedback_prefixes = telemetry_feedback.ANNOTATION_PREFIXES
    for rs in request.resource_spans:
        resource = otlp.attributes(rs.resource.attributes)
        service = resource.get("service.name")
        service_name = str(service)[:200] if service not in (None, "") else None
        resource_json = dumps(resource)
        for ss in rs.scope_spans:
            scope = ss.scope.name[:200] or None
            for span in ss.spans:
                tid, sid, pid = span.trace_id, span.span_id, span.parent_span_id
                if len(tid) != 16 or tid == _ZERO_TRACE:
                    batch.reject(
                        f"span {span.name[:60]!r}: trace_id must be 16 non-zero bytes (32 hex characters)", "trace_id"
                    )
                    continue
                if len(sid) != 8 or sid == _ZERO_SPAN:
                    batch.reject(
                        f"span {span.name[:60]!r}: span_id must be 8 non-zero bytes (16 hex characters)", "span_id"
                    )
                    continue
                if pid and len(pid) != 8:
                    batch.reject(
                        f"span {span.name[:60]!r}: parent_span_id must be 8 bytes (16 hex characters)", "parent_span_id"
                    )
                    continue
                trace_id, span_id = tid.hex(), sid.hex()
                parent_id = pid.hex() if pid and pid != _ZERO_SPAN else None
                attrs = attributes(span.attributes)
                events = _event_dicts(span, store_content) if span.events else []
                links = (
                    [
                        {"trace_id": link.trace_id.hex(), "span_id": link.span_id.hex(), **attributes(link.attributes)}
                        for link in span.links
                    ]
                    if span.links
                    else []
                )
                carries_feedback = bool(events) or telemetry_feedback.LOGFIRE_FEEDBACK_NAME in attrs
                if not carries_feedback:
                    for key in attrs:  # a plain loop: cheaper than any() over a generator on the hot path
                        if key.startswith(feedback_prefixes):
                            carries_feedback = True
                            break
                if carries_feedback:
                    if _collect_feedback(batch, attrs, events, links, trace_id, span_id, parent_id):
                        continue  # a feedback carrier: its content is the feedback, not a span to analyse
                # fixed64 on the wire, signed 64-bit in the database: clamp absurd far-future times
                start = min(span.start_time_unix_nano, MAX_TIME_NS)
                end = min(span.end_time_unix_nano, MAX_TIME_NS)
                if end < start:
                    end = start
                norm = normalise(attrs)
                if not store_content:
                    attrs = without_content(attrs)
                    norm["input"] = norm["output"] = None
                rows.append(
                    (
                        project,
                        trace_id,
                        span_id,
                        parent_id,
                        span.name[:1000] or "(unnamed)",
                        kind_names.get(span.kind, "INTERNAL"),
                        norm["span_kind"],
                        start,
                        end,
                        (end - start) / 1e6,
                        status_names.get(span.status.code, "UNSET"),
                        span.status.message or None,
                        service_name,
                        norm["model"],
                        norm["response_model"],
                        norm["provider"],
                        norm["input_tokens"],
                        norm["output_tokens"],
                        norm["cost"],
                        norm["input"],
                        norm["output"],
                        norm["prompt_name"],
                        norm["prompt_version"],
                        norm["config_hash"],
                        norm["variant"],
                        norm["user_id"],
                        norm["session_id"],
                        dumps(attrs),
                        resource_json,
                        scope,
                        dumps(events) if events else "[]",
                        dumps(links) if links else "[]",
                        received,
                    )
                )
    return batch


def _collect_feedback(
    batch: SpanBatch,
    attrs: dict[str, Any],
    events: list[dict[str, Any]],
    links: list[dict[str, Any]],
    trace_id: str,
    span_id: str,
    parent_id: str | None,
) -> bool:
    """Add the span's feedback to the batch; True when the span only carried feedback (not stored as a span)."""
    if telemetry_feedback.is_logfire_feedback(attrs):
        item = telemetry_feedback.logfire_item(attrs, trace_id=trace_id, span_id=span_id, parent_id=parent_id)
        if item is None:
            batch.problems.append(f"span {span_id}: Logfire feedback without a usable name and value ignored")
        else:
            batch.feedback.append(item)
        return True
    evaluations = [ev for ev in events if ev["name"] == telemetry_feedback.EVALUATION_EVENT]
    annotated = telemetry_feedback.has_annotations(attrs)
    if not annotated and not evaluations:
        return False
    carrier = len(links) == 1
    link = (links[0]["trace_id"], links[0]["span_id"]) if carrier else None
    skipped = 0
    if annotated:
        items, skipped = telemetry_feedback.annotation_items(attrs, trace_id=trace_id, span_id=span_id, link=link)
        batch.feedback.extend(items)
    target_trace, target_span = link if link else (trace_id, span_id)
    for index, ev in enumerate(evaluations):
        item = telemetry_feedback.evaluation_event_item(
            ev["attributes"],
            target_trace=target_trace,
            target_span=target_span,
            key_parts=(trace_id, span_id, "event", index, ev["time_ns"]),
        )
        if item is None:
            skipped += 1
        else:
            batch.feedback.append(item)
    if skipped and len(batch.problems) < 5:
        batch.problems.append(f"span {span_id}: {skipped} feedback object(s) without a name and a result ignored")
    return carrier


_AT = {name: index for index, name in enumerate(SPAN_COLUMNS)}
_DIM_AT = [_AT[name] for name in rollup.DIMS]


def insert_rows(db: Database, rows: list[tuple[Any, ...]]) -> None:
    """Write span tuples in one transaction with one executemany; re-sent spans are left as stored.

    In the same transaction, the spans actually stored are added to the rollup and credited to the
    feedback that was waiting for them, so analytics never see one without the other."""
    if not rows:
        return
    sql = insert_sql(db.dialect)
    with db.writing(), db.engine.begin() as conn:
        stored = conn.exec_driver_sql(sql, rows).rowcount  # type: ignore[arg-type]
        if stored != len(rows):
            rows = _new_rows(conn, rows)
        deltas = rollup.Deltas()
        at = _AT
        for r in rows:
            deltas.add(
                r[0],
                r[at["start_ns"]],
                [r[i] for i in _DIM_AT],
                r[at["duration_ms"]],
                r[at["status_code"]],
                r[at["input_tokens"]],
                r[at["output_tokens"]],
                r[at["cost"]],
            )
        if rows:
            crediting.resolve_traces(conn, rows[0][0], [r[1] for r in rows])
        # Last: on PostgreSQL this locks the day's cells, which every concurrent batch also needs, so they
        # stay locked only for the update and the commit.
        deltas.apply(conn, db.dialect)


def _new_rows(conn: Any, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The rows this batch stored, when some were already there (a re-sent export): every row of a batch
    carries the batch's ``received_at``, so stored rows are those whose stored value is this batch's."""
    project, received = rows[0][0], rows[0][-1]
    # SQLite stores SQLAlchemy's text format (see received_value): compare it as text, not as a datetime
    value = bindparam("received", received, type_=String) if isinstance(received, str) else received
    received_match = SPAN_TABLE.c.received_at == value
    fresh: set[tuple[str, str]] = set()
    traces = sorted({r[1] for r in rows})
    for start in range(0, len(traces), 500):
        query = select(SPAN_TABLE.c.trace_id, SPAN_TABLE.c.span_id).where(
            SPAN_TABLE.c.project == project, SPAN_TABLE.c.trace_id.in_(traces[start : start + 500]), received_match
        )
        fresh.update((row.trace_id, row.span_id) for row in conn.execute(query))
    out = []
    for r in rows:
        key = (r[1], r[2])
        if key in fresh:
            fresh.discard(key)  # a span twice in one batch was stored once
            out.append(r)
    return out


def ingest(db: Database, request: ExportTraceServiceRequest, project: str, *, store_content: bool = True) -> SpanBatch:
    """Store a decoded request: spans first, then the feedback they carried. Both commit before returning."""
    with db.ingesting():
        batch = build_batch(request, project, received=received_value(db, utcnow()), store_content=store_content)
        if batch.rejected and not batch.rows and not batch.feedback:
            # Nothing usable at all: a plain 400 (not retried), as for any malformed request.
            raise ApiError(400, "invalid_id", batch.problems[0], batch.first_field)
        insert_rows(db, batch.rows)
    if batch.feedback:
        batch.problems.extend(telemetry_feedback.store(db, project, batch.feedback))
    return batch


def _iso(ns: int) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).isoformat().replace("+00:00", "Z")


# What a trace read returns per span: the stored columns, less the ones it renames or has no use for.
SPAN_FIELDS = tuple(
    column
    for column in SPAN_COLUMNS
    if column not in {"project", "trace_id", "otel_kind", "start_ns", "end_ns", "status_code", "received_at"}
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
        feedback = feedback_for_trace(session, project, trace_id)  # current, not deleted; both preference sides
        logged = (
            session.execute(
                select(SpanEvent)
                .where(SpanEvent.project == project, SpanEvent.trace_id == trace_id)
                .order_by(SpanEvent.time_ns, SpanEvent.id)
            )
            .scalars()
            .all()
        )
    if not spans and not feedback:
        return None
    events_by_span: dict[str | None, list[dict[str, Any]]] = {}
    for ev in logged:
        events_by_span.setdefault(ev.span_id, []).append(log_store.event_dict(ev))
    by_span: dict[str | None, list[dict[str, Any]]] = {}
    for fb in feedback:
        by_span.setdefault(fb.span_id if fb.trace_id == trace_id else fb.other_span_id, []).append(feedback_dict(fb))
    out_spans = []
    for sp in spans:
        record = {field: getattr(sp, field) for field in SPAN_FIELDS}
        extra_events = events_by_span.get(sp.span_id)
        if extra_events:  # GenAI content events that came as OTLP logs
            record["events"] = sorted([*record["events"], *extra_events], key=lambda ev: ev.get("time_ns") or 0)
            if record["input"] is None or record["output"] is None:
                derived_input, derived_output = log_store.content_from_events(extra_events)
                record["input"] = record["input"] if record["input"] is not None else derived_input
                record["output"] = record["output"] if record["output"] is not None else derived_output
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
