"""Trace search: find the traces that match the shared filters plus text, status, feedback, score,
latency and token conditions, one page at a time.

A trace is found through its root span (the span without a parent; a trace whose root has not arrived is
not listed until it does), so the newest traces come straight off a partial index of root spans. The
span filters (name, kind, tags, metadata, ``where``) and the text query match when *some* span of the
trace matches them all; ``from``/``to`` bound the root's start; latency is the root's duration; tokens
and cost are the trace's totals; feedback conditions read the trace's current feedback (span- and
trace-level). Text search goes through the full-text index (:mod:`plaudit_collector.store.search_index`).

Pages are keyset-paginated: the opaque ``next_cursor`` holds the last row's sort key and row id, so page
1,000 costs what page 1 costs.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Float, and_, case, cast, func, literal, or_, select

from plaudit_collector.analytics.core import FEEDBACK, SPAN, Filters, connect, feedback_conditions, iso
from plaudit_collector.analytics.core import span_conditions as span_terms
from plaudit_collector.analytics.direction import resolve
from plaudit_collector.errors import ApiError
from plaudit_collector.store import search_index, trace_days
from plaudit_collector.store.db import Database

SORTS = ("time", "latency", "cost", "score")


def _bad(field: str, message: str) -> ApiError:
    return ApiError(422, "invalid_field", f"{field}: {message}", field)


def encode_cursor(sort: str, key: float | int, row_id: int) -> str:
    raw = json.dumps({"s": sort, "k": key, "i": row_id}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[float, int]:
    """(sort key, row id) of the last row of the previous page; 422 for a cursor this search did not make."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        key, row_id = data["k"], data["i"]
        ok = data["s"] == sort and isinstance(row_id, int) and isinstance(key, (int, float))
    except (ValueError, TypeError, KeyError):
        ok = False
    if not ok or isinstance(key, bool) or not math.isfinite(key) or not 0 < row_id < 2**31 or abs(key) >= 2**63:
        raise _bad("cursor", "not a next_cursor of this search (pass it back unchanged, with the same sort)")
    return float(key), int(row_id)


def _traces_where(project: str, dialect: str, filters: Filters, q: str | None) -> Any:
    """Trace ids with a span that matches every span filter and the text (None: no span condition)."""
    s = SPAN
    inner = Filters(
        span_names=filters.span_names,
        span_kinds=filters.span_kinds,
        tags=filters.tags,
        metadata=filters.metadata,
        where=filters.where,
    )
    terms = span_terms(inner, s, dialect)
    if q is not None and q.split():
        terms.append(search_index.matches(s, q, dialect))
    if not terms:
        return None
    if filters.start_ns is not None:  # a trace's spans start no earlier than its root
        terms.append(s.c.start_ns >= filters.start_ns)
    return select(s.c.trace_id).where(s.c.project == project, *terms)


def _feedback_ids(project: str, name: str, filters: Filters) -> Any:
    f = FEEDBACK
    return select(f.c.trace_id).where(
        *feedback_conditions(project, [name], filters, scored=False), f.c.trace_id.is_not(None)
    )


def _trace_means(project: str, name: str, filters: Filters) -> Any:
    f = FEEDBACK
    return (
        select(f.c.trace_id, func.avg(f.c.score).label("m"))
        .where(*feedback_conditions(project, [name], filters), f.c.trace_id.is_not(None))
        .group_by(f.c.trace_id)
        .subquery("means")
    )


def _totals(project: str, filters: Filters) -> Any:
    s = SPAN
    query = select(
        s.c.trace_id,
        func.sum(s.c.cost).label("cost"),
        func.sum(func.coalesce(s.c.input_tokens, 0) + func.coalesce(s.c.output_tokens, 0)).label("tokens"),
    ).where(s.c.project == project)
    if filters.start_ns is not None:
        query = query.where(s.c.start_ns >= filters.start_ns)
    return query.group_by(s.c.trace_id).subquery("totals")


def trace_terms(
    dialect: str,
    project: str,
    root: Any,
    filters: Filters,
    *,
    q: str | None = None,
    status: str | None = None,
    has_feedback: str | None = None,
    missing_feedback: str | None = None,
    score: str | None = None,
    min_score: float | None = None,
    max_score: float | None = None,
    min_duration_ms: float | None = None,
    max_duration_ms: float | None = None,
) -> list[ColumnElement[bool]]:
    """WHERE terms on ``root`` (an alias of the spans table) for the traces a search matches: the one filter
    builder, also used to choose a review queue's spans. ``min_score``/``max_score`` bound the trace's mean
    ``score`` (the search joins that mean itself when it also sorts by it)."""
    r = root
    terms: list[ColumnElement[bool]] = [r.c.project == project, r.c.parent_span_id.is_(None)]
    if filters.start_ns is not None:
        terms.append(r.c.start_ns >= filters.start_ns)
    if filters.end_ns is not None:
        terms.append(r.c.start_ns < filters.end_ns)
    if min_duration_ms is not None:
        terms.append(r.c.duration_ms >= min_duration_ms)
    if max_duration_ms is not None:
        terms.append(r.c.duration_ms <= max_duration_ms)
    matching = _traces_where(project, dialect, filters, q)
    if matching is not None:
        terms.append(r.c.trace_id.in_(matching))
    if status is not None:
        s = SPAN
        errors = select(s.c.trace_id).where(s.c.project == project, s.c.status_code == "ERROR")
        terms.append(r.c.trace_id.in_(errors) if status == "error" else r.c.trace_id.not_in(errors))
    if has_feedback is not None:
        terms.append(r.c.trace_id.in_(_feedback_ids(project, has_feedback, filters)))
    if missing_feedback is not None:
        terms.append(r.c.trace_id.not_in(_feedback_ids(project, missing_feedback, filters)))
    if score is not None and (min_score is not None or max_score is not None):
        means = _trace_means(project, score, filters)
        bounds = [means.c.m >= min_score] if min_score is not None else []
        bounds += [means.c.m <= max_score] if max_score is not None else []
        terms.append(r.c.trace_id.in_(select(means.c.trace_id).where(*bounds)))
    return terms


def search_traces(
    db: Database,
    project: str,
    filters: Filters | None = None,
    *,
    q: str | None = None,
    status: str | None = None,
    has_feedback: str | None = None,
    missing_feedback: str | None = None,
    score: str | None = None,
    min_score: float | None = None,
    max_score: float | None = None,
    min_duration_ms: float | None = None,
    max_duration_ms: float | None = None,
    min_tokens: int | None = None,
    max_tokens: int | None = None,
    sort: str = "time",
    limit: int = 50,
    cursor: str | None = None,
    higher_is_better: bool | None = None,
) -> dict[str, Any]:
    """One page of matching traces, best first for the sort, and the cursor of the next page (None: last)."""
    filters = filters or Filters()
    if (min_score is not None or max_score is not None or sort == "score") and score is None:
        raise _bad("score", "name the score that min_score, max_score or sort=score read")
    if sort not in SORTS:
        raise _bad("sort", f"use one of {', '.join(SORTS)}")
    r = SPAN.alias("root")
    terms = trace_terms(
        db.dialect,
        project,
        r,
        filters,
        q=q,
        status=status,
        has_feedback=has_feedback,
        missing_feedback=missing_feedback,
        min_duration_ms=min_duration_ms,
        max_duration_ms=max_duration_ms,
    )
    query = select(r.c.id, r.c.trace_id, r.c.start_ns, r.c.duration_ms)
    direction = resolve(db, project, score, higher_is_better) if score is not None else None
    means = None
    if score is not None and (min_score is not None or max_score is not None or sort == "score"):
        means = _trace_means(project, score, filters)
        query = query.join(means, means.c.trace_id == r.c.trace_id)
        if min_score is not None:
            terms.append(means.c.m >= min_score)
        if max_score is not None:
            terms.append(means.c.m <= max_score)
    totals = None
    if sort == "cost" or min_tokens is not None or max_tokens is not None:
        totals = _totals(project, filters)
        query = query.outerjoin(totals, totals.c.trace_id == r.c.trace_id)
        tokens = func.coalesce(totals.c.tokens, 0)
        if min_tokens is not None:
            terms.append(tokens >= min_tokens)
        if max_tokens is not None:
            terms.append(tokens <= max_tokens)
    if sort == "time":
        key: Any = r.c.start_ns
    elif sort == "latency":
        key = r.c.duration_ms
    elif sort == "cost":
        assert totals is not None
        key = func.coalesce(cast(totals.c.cost, Float), literal(-1.0))
    else:
        assert means is not None and direction is not None
        key = means.c.m if direction.higher_is_better else -means.c.m
    if cursor:
        last_key, last_id = decode_cursor(cursor, sort)
        bound = int(last_key) if sort == "time" else last_key
        terms.append(or_(key < bound, and_(key == bound, r.c.id < last_id)))
    query = query.add_columns(key.label("k")).where(*terms).order_by(key.desc(), r.c.id.desc()).limit(limit + 1)
    with connect(db, project) as conn:
        page = conn.execute(query).all()
        more = len(page) > limit
        page = page[:limit]
        details = _details(conn, project, [row.trace_id for row in page])
    traces = [_trace(row, details) for row in page]
    next_cursor = None
    if more and page:
        last = page[-1]
        next_cursor = encode_cursor(sort, int(last.k) if sort == "time" else float(last.k), int(last.id))
    out: dict[str, Any] = {"traces": traces, "next_cursor": next_cursor, "sort": sort}
    if direction is not None:
        out.update(score=score, **direction.stated())
    return out


def _details(conn: Any, project: str, trace_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per trace of the page: its root's fields, span totals and the feedback summary."""
    if not trace_ids:
        return {}
    s, f = SPAN, FEEDBACK
    out: dict[str, dict[str, Any]] = {t: {"feedback": {}} for t in trace_ids}
    # PostgreSQL: the page's days, so only their partitions are read (see store.trace_days)
    days = trace_days.bounds(conn, project, trace_ids, s.c.start_ns)
    near = [] if days is None else [days]
    spans = conn.execute(
        select(
            s.c.trace_id,
            func.count().label("spans"),
            func.sum(case((s.c.status_code == "ERROR", 1), else_=0)).label("errors"),
            func.sum(s.c.cost).label("cost"),
            func.sum(s.c.input_tokens).label("input_tokens"),
            func.sum(s.c.output_tokens).label("output_tokens"),
            func.max(s.c.model).label("model"),
            func.max(s.c.variant).label("variant"),
            func.max(s.c.user_id).label("user_id"),
            func.max(s.c.session_id).label("session_id"),
        )
        .where(s.c.project == project, s.c.trace_id.in_(trace_ids), *near)
        .group_by(s.c.trace_id)
    )
    for row in spans:
        out[row.trace_id].update(row._asdict())
    roots = conn.execute(
        select(s.c.trace_id, s.c.name, s.c.model, s.c.variant, s.c.user_id, s.c.session_id, s.c.status_code).where(
            s.c.project == project, s.c.trace_id.in_(trace_ids), s.c.parent_span_id.is_(None), *near
        )
    )
    for row in roots:
        entry = out[row.trace_id]
        entry["name"] = row.name
        entry["root_status"] = row.status_code
        for field in ("model", "variant", "user_id", "session_id"):  # the root's value first
            entry[field] = getattr(row, field) or entry.get(field)
    rated = conn.execute(
        select(f.c.trace_id, f.c.name, func.count().label("n"), func.avg(f.c.score).label("mean"))
        .where(*feedback_conditions(project, None, Filters(), scored=False), f.c.trace_id.in_(trace_ids))
        .group_by(f.c.trace_id, f.c.name)
    )
    for row in rated:
        mean = None if row.mean is None else float(row.mean)
        out[row.trace_id]["feedback"][row.name] = {"count": int(row.n), "mean": mean}
    return out


def _trace(row: Any, details: dict[str, dict[str, Any]]) -> dict[str, Any]:
    d = details.get(row.trace_id, {})
    errors = int(d.get("errors") or 0)
    return {
        "trace_id": row.trace_id,
        "name": d.get("name"),
        "start_time": iso(row.start_ns),
        "duration_ms": row.duration_ms,
        "status": "ERROR" if errors else (d.get("root_status") or "UNSET"),
        "error_spans": errors,
        "span_count": int(d.get("spans") or 0),
        "model": d.get("model"),
        "variant": d.get("variant"),
        "user_id": d.get("user_id"),
        "session_id": d.get("session_id"),
        "input_tokens": d.get("input_tokens"),
        "output_tokens": d.get("output_tokens"),
        "cost": None if d.get("cost") is None else float(d["cost"]),
        "feedback": d.get("feedback", {}),
    }
