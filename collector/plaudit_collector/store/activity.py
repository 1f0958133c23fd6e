"""Sessions and users: each with its traces, spans, errors, tokens, cost and a feedback summary, most recently
active first, a page at a time.

Listing by last activity without aggregating every span: spans are read newest first (the start-time index)
and each session or user is listed at its newest span. The cursor is the position (start, row id) of the last
span read; a later page skips values whose newest span lies before that position, as they were listed already.
Only the values on the page are then aggregated, through the index on their column.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import String, and_, case, func, literal, or_, select, union_all

from plaudit_collector.errors import ApiError
from plaudit_collector.store.db import Database
from plaudit_collector.store.tables import Feedback, Span

SPAN = Span.__table__  # type: ignore[attr-defined]
FEEDBACK = Feedback.__table__  # type: ignore[attr-defined]
CHUNK = 2000
MAX_SCAN = 200_000
"""Spans read for one page at most; past that the page ends early, with a cursor to go on."""
COLUMNS = {"session": "session_id", "user": "user_id"}


def _iso(ns: int | None) -> str | None:
    if ns is None:
        return None
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def encode_cursor(start_ns: int, row_id: int) -> str:
    return base64.urlsafe_b64encode(f"{start_ns}:{row_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[int, int] | None:
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        start, row_id = text.split(":")
        position = (int(start), int(row_id))
    except (ValueError, UnicodeDecodeError):
        raise ApiError(422, "invalid_field", "cursor: not a cursor this list returned", "cursor") from None
    if not all(0 <= part < 2**63 for part in position):
        raise ApiError(422, "invalid_field", "cursor: out of range", "cursor")
    return position


def _page_values(
    conn: Any, project: str, column: Any, limit: int, after: tuple[int, int] | None
) -> tuple[list[str], tuple[int, int] | None]:
    """The next ``limit`` values by last activity, and the cursor after them (None at the end)."""
    found: list[str] = []
    seen: set[str] = set()
    position = after
    scanned = 0
    while len(found) < limit and scanned < MAX_SCAN:
        query = select(SPAN.c.id, SPAN.c.start_ns, column).where(SPAN.c.project == project, column.is_not(None))
        if position is not None:
            query = query.where(*_before(position))
        rows = conn.execute(query.order_by(SPAN.c.start_ns.desc(), SPAN.c.id.desc()).limit(CHUNK)).all()
        if not rows:
            return found, None
        listed_before: set[str] = set()
        checked: set[str] = set()
        for index, (row_id, start_ns, value) in enumerate(rows):
            scanned += 1
            position = (start_ns, row_id)
            if value in seen:
                continue
            if after is not None and value not in checked:
                # the next values met in this chunk, a few more than the page needs, checked in one query
                batch = list(dict.fromkeys(r[2] for r in rows[index:] if r[2] not in seen and r[2] not in checked))
                batch = batch[: min(2 * limit + 10, 400)]  # SQLite compounds at most 500 SELECTs
                listed_before |= _active_after(conn, project, column, batch, after)
                checked.update(batch)
            seen.add(value)
            if value in listed_before:
                continue
            found.append(value)
            if len(found) == limit:
                break
    return found, position


def _before(position: tuple[int, int]) -> list[Any]:
    """Spans read after ``position`` (newest first): the first term is the start-time index's range."""
    start_ns, row_id = position
    return [SPAN.c.start_ns <= start_ns, or_(SPAN.c.start_ns < start_ns, SPAN.c.id < row_id)]


def _active_after(conn: Any, project: str, column: Any, values: list[str], after: tuple[int, int]) -> set[str]:
    """Which of ``values`` have a span at or past ``after`` (so were listed on an earlier page).

    Each value's newest start comes from the end of its index range (one seek each); only a value whose newest
    start equals the cursor's is looked at span by span, to break the tie on row id.
    """
    listed_values = union_all(*(select(literal(value, String).label("value")) for value in values)).subquery("v")
    newest = select(func.max(SPAN.c.start_ns)).where(SPAN.c.project == project, column == listed_values.c.value)
    rows = conn.execute(select(listed_values.c.value, newest.scalar_subquery())).all()
    start_ns, _ = after
    listed = {value for value, last in rows if last is not None and last > start_ns}
    ties = [value for value, last in rows if last == start_ns]
    if ties:
        query = select(column).where(SPAN.c.project == project, column.in_(ties), ~and_(*_before(after))).distinct()
        listed.update(conn.execute(query).scalars())
    return listed


def _feedback_summary(conn: Any, project: str, column: Any, values: Sequence[str], kind: str) -> dict[str, list[Any]]:
    """Per value: current feedback per score name (count, mean of the scored ones), most used name first.

    Users: from the user id copied onto each rating with its span (an index on it), so a user with thousands
    of spans costs a seek, not a join. Sessions: through the session's few spans (the feedback index on trace
    and span), plus the session-level ratings.
    """
    f, s = FEEDBACK, SPAN
    current = [f.c.is_current.is_(True), f.c.deleted_at.is_(None), f.c.kind != "preference"]
    measures = [func.count(f.c.id), func.count(f.c.score), func.avg(f.c.score)]
    if kind == "user":
        queries = [
            select(f.c.span_user_id.label("v"), f.c.name, *measures)
            .where(f.c.project == project, f.c.span_user_id.in_(values), *current)
            .group_by(f.c.span_user_id, f.c.name)
        ]
    else:
        on = and_(
            f.c.project == s.c.project,
            f.c.trace_id == s.c.trace_id,
            or_(f.c.span_id == s.c.span_id, and_(f.c.span_id.is_(None), s.c.parent_span_id.is_(None))),
        )
        queries = [
            select(column.label("v"), f.c.name, *measures)
            .select_from(s.join(f, on))
            .where(s.c.project == project, column.in_(values), *current)
            .group_by(column, f.c.name),
            select(f.c.session_id.label("v"), f.c.name, *measures)
            .where(f.c.project == project, f.c.target_type == "session", f.c.session_id.in_(values), *current)
            .group_by(f.c.session_id, f.c.name),
        ]
    merged: dict[str, dict[str, list[float]]] = {}
    for query in queries:
        for value, name, count, scored, mean in conn.execute(query):
            entry = merged.setdefault(value, {}).setdefault(name, [0, 0, 0.0])
            entry[0] += count
            entry[1] += scored
            entry[2] += (mean or 0.0) * scored
    return {
        value: [
            {"name": name, "count": int(c), "scored": int(n), "mean": (total / n) if n else None}
            for name, (c, n, total) in sorted(names.items(), key=lambda item: (-item[1][0], item[0]))
        ]
        for value, names in merged.items()
    }


def list_activity(db: Database, project: str, kind: str, limit: int, cursor: str | None) -> dict[str, Any]:
    """Sessions (``kind="session"``) or users, most recently active first: ``{"<kind>s": [...], "next_cursor"}``."""
    name = COLUMNS[kind]
    column = SPAN.c[name]
    with db.read_engine.connect() as conn:
        values, position = _page_values(conn, project, column, limit, decode_cursor(cursor))
        rows = []
        if values:
            other = SPAN.c.user_id if kind == "session" else SPAN.c.session_id
            rows = conn.execute(
                select(
                    column.label("v"),
                    func.count().label("spans"),
                    func.count(func.distinct(SPAN.c.trace_id)).label("traces"),
                    func.count(func.distinct(other)).label("others"),
                    func.max(other).label("other"),
                    func.min(SPAN.c.start_ns).label("first_ns"),
                    func.max(SPAN.c.start_ns).label("last_ns"),
                    func.max(SPAN.c.end_ns).label("end_ns"),
                    func.sum(case((SPAN.c.status_code == "ERROR", 1), else_=0)).label("errors"),
                    func.sum(SPAN.c.input_tokens).label("input_tokens"),
                    func.sum(SPAN.c.output_tokens).label("output_tokens"),
                    func.sum(SPAN.c.cost).label("cost"),
                )
                .where(SPAN.c.project == project, column.in_(values))
                .group_by(column)
            ).all()
            summary = _feedback_summary(conn, project, column, values, kind)
    by_value = {row.v: row for row in rows}
    out = []
    for value in values:
        row = by_value.get(value)
        if row is None:
            continue
        record: dict[str, Any] = {
            name: value,
            "traces": int(row.traces),
            "spans": int(row.spans),
            "errors": int(row.errors or 0),
            "first_start": _iso(row.first_ns),
            "last_start": _iso(row.last_ns),
            "duration_ms": (row.end_ns - row.first_ns) / 1e6,
            "input_tokens": row.input_tokens,
            "output_tokens": row.output_tokens,
            "cost": row.cost,
            "feedback": summary.get(value, []),
        }
        if kind == "session":
            record["user_id"] = row.other
        else:
            record["sessions"] = int(row.others)
        out.append(record)
    next_cursor = encode_cursor(*position) if position is not None else None
    return {f"{kind}s": out, "next_cursor": next_cursor}
