"""Span rows: the batched INSERT (idempotent: a re-sent span changes nothing) and trace reads.

Writes take an open connection: :mod:`.batches` runs them inside the one transaction that also keeps the
rollup, the feedback copies and the carried feedback in step.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, bindparam, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session as OrmSession

from plaudit_collector.ingest.batch import JSON_COLUMNS, SPAN_COLUMNS
from plaudit_collector.ingest.content import full as full_attributes
from plaudit_collector.ingest.logs import content_from_events
from plaudit_collector.store import trace_days
from plaudit_collector.store.db import Database
from plaudit_collector.store.events import event_dict
from plaudit_collector.store.feedback_reads import feedback_dict, feedback_for_trace
from plaudit_collector.store.partitions import day_of
from plaudit_collector.store.tables import Span, SpanEvent

SPAN_TABLE = Span.__table__  # type: ignore[attr-defined]
_START_AT = SPAN_COLUMNS.index("start_ns")
_RECEIVED_AT = SPAN_COLUMNS.index("received_at")
_SQL: dict[str, str] = {}


def insert_sql(dialect: str) -> str:
    """One INSERT for a batch of span tuples; a span already stored (same project, trace, span) is skipped.

    PostgreSQL names no conflict target: on its day-partitioned table the unique key also holds the start
    time, and an unpartitioned table made without migrations has not. A span re-sent with another start
    time is caught before the INSERT by :func:`_not_stored`."""
    sql = _SQL.get(dialect)
    if sql is None:
        if dialect == "postgresql":
            values = ", ".join("CAST(%s AS JSONB)" if col in JSON_COLUMNS else "%s" for col in SPAN_COLUMNS)
        else:
            values = ", ".join("?" for _ in SPAN_COLUMNS)
        target = "" if dialect == "postgresql" else "(project, trace_id, span_id) "
        sql = _SQL[dialect] = (
            f"INSERT INTO spans ({', '.join(SPAN_COLUMNS)}) VALUES ({values}) ON CONFLICT {target}DO NOTHING"
        )
    return sql


SQLITE_ROWS_PER_INSERT = 999 // len(SPAN_COLUMNS)
"""Rows per SQLite INSERT: as many as fit in 999 parameters, the limit of SQLite builds before 3.32."""
_SQLITE_MULTI: dict[int, str] = {}


def _sqlite_multi_sql(count: int) -> str:
    """The INSERT of ``count`` span rows in one statement, in :func:`insert_sql`'s form (at most
    :data:`SQLITE_ROWS_PER_INSERT` texts, each compiled once per connection by sqlite3's statement cache)."""
    sql = _SQLITE_MULTI.get(count)
    if sql is None:
        row = f"({', '.join('?' for _ in SPAN_COLUMNS)})"
        sql = _SQLITE_MULTI[count] = (
            f"INSERT INTO spans ({', '.join(SPAN_COLUMNS)}) VALUES {', '.join([row] * count)} "
            "ON CONFLICT (project, trace_id, span_id) DO NOTHING"
        )
    return sql


def _sqlite_insert(conn: Connection, rows: list[tuple[Any, ...]]) -> int:
    """SQLite: the rows in multi-row INSERTs, in order; returns how many were stored.

    An executemany runs one statement per row, and sqlite3 lets go of the GIL around each: every row pays
    the statement's setup (its cursors on the table, its indexes and the search trigger) and, while
    another thread runs Python, a wait to win the GIL back. One statement per 24 rows does the same inserts,
    in the same order (a span twice in the batch is still stored once, with the same row ids), at about 1.5x
    the speed on one thread and far better beside a busy event loop."""
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    stored = 0
    step = SQLITE_ROWS_PER_INSERT
    try:
        for start in range(0, len(rows), step):
            chunk = rows[start : start + step]
            cursor.execute(_sqlite_multi_sql(len(chunk)), [value for row in chunk for value in row])
            stored += cursor.rowcount
    finally:
        cursor.close()
    return stored


def received_value(db: Database, moment: datetime) -> Any:
    """``received_at`` as the driver wants it: SQLAlchemy's text format on SQLite, a datetime on PostgreSQL."""
    if db.is_sqlite:
        return moment.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    return moment


def insert_rows(conn: Connection, dialect: str, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Write span tuples (multi-row INSERTs on SQLite, one COPY on PostgreSQL); returns the rows actually
    stored (re-sent spans are not). On PostgreSQL their days go to ``trace_days`` in the same transaction."""
    if dialect != "postgresql":
        stored = _sqlite_insert(conn, rows)
        return rows if stored == len(rows) else _new_rows(conn, rows)
    rows = _not_stored(conn, rows)
    if not rows:
        return []
    stored = _copy_rows(conn, rows)
    out = rows if stored == len(rows) else _new_rows(conn, rows)
    trace_days.record(conn, out, _START_AT)
    return out


def _not_stored(conn: Any, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The rows whose (trace, span) is not stored yet, whatever its start time, nor earlier in the batch.

    PostgreSQL's unique key on the day-partitioned table includes the start time, so a span re-sent with a
    different start (a producer that rebuilt it) would pass it: look first. ``trace_days`` names the days the
    batch's traces have spans on, so the look reads only those days' partitions, and none at all when every
    trace is new (the common case)."""
    project = rows[0][0]
    found = trace_days.days(conn, project, (r[1] for r in rows))
    seen: set[tuple[str, str]] = set()
    traces = sorted(found)
    for start in range(0, len(traces), 500):
        chunk = traces[start : start + 500]
        near = trace_days.within(SPAN_TABLE.c.start_ns, set().union(*(found[t] for t in chunk)))
        query = select(SPAN_TABLE.c.trace_id, SPAN_TABLE.c.span_id).where(
            SPAN_TABLE.c.project == project, SPAN_TABLE.c.trace_id.in_(chunk), near
        )
        seen.update((row.trace_id, row.span_id) for row in conn.execute(query))
    out = []
    for r in rows:
        if (r[1], r[2]) not in seen:
            seen.add((r[1], r[2]))
            out.append(r)
    return out


_STAGE = "plaudit_spans_in"
_COLUMNS = ", ".join(SPAN_COLUMNS)
_STAGE_SQL = (
    f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} ON COMMIT DELETE ROWS AS SELECT {_COLUMNS} FROM spans WITH NO DATA",
    f"COPY {_STAGE} ({_COLUMNS}) FROM STDIN",
    f"INSERT INTO spans ({_COLUMNS}) SELECT {_COLUMNS} FROM {_STAGE} "
    "ON CONFLICT DO NOTHING",  # no target: the day-partitioned table's unique key includes the start time
    f"DELETE FROM {_STAGE}",
)


def _copy_rows(conn: Connection, rows: list[tuple[Any, ...]]) -> int:
    """PostgreSQL: COPY the rows into a per-connection temporary table, then one INSERT ... SELECT skips the
    spans already stored. The server parses one stream and runs one statement instead of one per row, which
    is what keeps ingest near (and past) a plain executemany. Emptied before and at commit."""
    create, copy_sql, insert, empty = _STAGE_SQL
    with conn.connection.driver_connection.cursor() as cursor:  # type: ignore[union-attr]
        cursor.execute(create)
        cursor.execute(empty)  # empty at commit; this is for a second batch in the same transaction
        with cursor.copy(copy_sql) as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(insert)
        return int(cursor.rowcount)


def _new_rows(conn: Any, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The rows this batch stored, when some were already there (a re-sent export): every row of a batch
    carries the batch's ``received_at``, so stored rows are those whose stored value is this batch's."""
    project, received = rows[0][0], rows[0][_RECEIVED_AT]
    # SQLite stores SQLAlchemy's text format (see received_value): compare it as text, not as a datetime
    value = bindparam("received", received, type_=String) if isinstance(received, str) else received
    received_match = SPAN_TABLE.c.received_at == value
    if not isinstance(received, str):  # PostgreSQL: read only the days of the rows (their partitions)
        received_match = received_match & trace_days.within(SPAN_TABLE.c.start_ns, {day_of(r[_START_AT]) for r in rows})
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


def _iso(ns: int) -> str:
    from datetime import timezone

    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).isoformat().replace("+00:00", "Z")


# What a trace read returns per span: the stored columns, less the ones it renames or has no use for.
SPAN_FIELDS = tuple(
    column
    for column in SPAN_COLUMNS
    if column not in {"project", "trace_id", "otel_kind", "start_ns", "end_ns", "status_code", "received_at"}
)


def get_trace(db: Database, project: str, trace_id: str) -> dict[str, Any] | None:
    with OrmSession(db.engine) as session:
        # PostgreSQL: the trace's days, so only their partitions are planned and read (see trace_days)
        days = trace_days.bounds(session.connection(), project, [trace_id], Span.start_ns)
        query = select(Span).where(Span.project == project, Span.trace_id == trace_id).order_by(Span.start_ns)
        spans = session.execute(query if days is None else query.where(days)).scalars().all()
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
        events_by_span.setdefault(ev.span_id, []).append(event_dict(ev))
    by_span: dict[str | None, list[dict[str, Any]]] = {}
    for fb in feedback:
        by_span.setdefault(fb.span_id if fb.trace_id == trace_id else fb.other_span_id, []).append(feedback_dict(fb))
    out_spans = []
    for sp in spans:
        record = {field: getattr(sp, field) for field in SPAN_FIELDS}
        record["attributes"] = full_attributes(sp.attributes, sp.input, sp.output)
        extra_events = events_by_span.get(sp.span_id)
        if extra_events:  # GenAI content events that came as OTLP logs
            record["events"] = sorted([*record["events"], *extra_events], key=lambda ev: ev.get("time_ns") or 0)
            if record["input"] is None or record["output"] is None:
                derived_input, derived_output = content_from_events(extra_events)
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
