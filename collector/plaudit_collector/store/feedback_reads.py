"""Feedback reads: one item, filtered lists with history, orphans, a trace's feedback, and the JSON form."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import ColumnElement, exists, func, or_, select, union
from sqlalchemy.orm import Session as OrmSession

from plaudit_collector.schemas import WINNERS
from plaudit_collector.store.db import Database
from plaudit_collector.store.tables import Feedback, Span


def get_feedback(db: Database, project: str, feedback_id: int) -> dict[str, Any] | None:
    with OrmSession(db.engine) as session:
        row = session.execute(
            select(Feedback).where(Feedback.project == project, Feedback.id == feedback_id)
        ).scalar_one_or_none()
        return None if row is None else feedback_dict(row)


def list_feedback(
    db: Database,
    project: str,
    *,
    trace_id: str | None = None,
    span_id: str | None = None,
    session_id: str | None = None,
    name: str | None = None,
    author: str | None = None,
    history: bool = False,
    limit: int = 100,
    offset: int = 0,
) -> dict[str, Any]:
    """Feedback matching every given filter, newest first; ``history`` adds replaced and deleted rows."""
    conditions: list[ColumnElement[bool]] = [Feedback.project == project]
    for column, value in (
        (Feedback.trace_id, trace_id),
        (Feedback.span_id, span_id),
        (Feedback.session_id, session_id),
        (Feedback.name, name),
        (Feedback.author, author),
    ):
        if value is not None:
            conditions.append(column == value)  # type: ignore[arg-type]
    if not history:
        conditions += [Feedback.is_current.is_(True), Feedback.deleted_at.is_(None)]  # type: ignore[attr-defined, union-attr]
    with OrmSession(db.engine) as session:
        total = session.execute(select(func.count()).select_from(Feedback).where(*conditions)).scalar_one()
        rows = session.execute(
            select(Feedback).where(*conditions).order_by(Feedback.id.desc()).limit(limit).offset(offset)  # type: ignore[union-attr]
        ).scalars()
        data = [feedback_dict(row) for row in rows]
    return {"data": data, "count": int(total)}


def find_orphans(
    db: Database, project: str, *, older_than: float = 0.0, limit: int = 100, offset: int = 0
) -> dict[str, Any]:
    """Current feedback whose span (or, for trace-level feedback, any span of the trace) has not arrived.

    ``older_than`` (seconds) leaves out feedback still within the normal export delay of its spans.
    A preference is an orphan when either side is missing. Only feedback not credited to a span (see
    ``copies``), and preferences for their B side, are looked at: a credited item's span is stored, and
    checking every rating for its span read the whole table (seconds at 60,000 ratings on PostgreSQL).
    """

    def missing(trace_col: Any, span_col: Any) -> ColumnElement[bool]:
        span_match = or_(span_col.is_(None), Span.span_id == span_col)
        return ~exists().where(Span.project == project, Span.trace_id == trace_col, span_match)

    cutoff = datetime.now(timezone.utc) - timedelta(seconds=max(older_than, 0.0))
    current = [
        Feedback.project == project,
        Feedback.is_current.is_(True),  # type: ignore[attr-defined]
        Feedback.deleted_at.is_(None),  # type: ignore[union-attr]
        Feedback.target_type != "session",
        Feedback.created_at <= cutoff,  # type: ignore[operator]
    ]
    uncredited = select(Feedback.id).where(
        *current,
        Feedback.span_pk.is_(None),  # type: ignore[union-attr]
        missing(Feedback.trace_id, Feedback.span_id),
    )
    b_missing = select(Feedback.id).where(
        *current,
        Feedback.other_trace_id.is_not(None),  # type: ignore[union-attr]
        missing(Feedback.other_trace_id, Feedback.other_span_id),
    )
    orphans = union(uncredited, b_missing)  # each read through its partial index
    with OrmSession(db.engine) as session:
        total = session.execute(select(func.count()).select_from(orphans.subquery())).scalar_one()
        rows = session.execute(
            select(Feedback).where(Feedback.id.in_(orphans)).order_by(Feedback.id).limit(limit).offset(offset)  # type: ignore[union-attr]
        ).scalars()
        data = [feedback_dict(row) for row in rows]
    return {"data": data, "count": int(total), "older_than": older_than}


def feedback_for_trace(session: OrmSession, project: str, trace_id: str) -> list[Feedback]:
    """Current feedback on a trace or its spans, including preferences where it is the B side."""
    return list(
        session.execute(
            select(Feedback)
            .where(
                Feedback.project == project,
                or_(Feedback.trace_id == trace_id, Feedback.other_trace_id == trace_id),
                Feedback.is_current.is_(True),  # type: ignore[attr-defined]
                Feedback.deleted_at.is_(None),  # type: ignore[union-attr]
            )
            .order_by(Feedback.id)
        )
        .scalars()
        .all()
    )


class _OrmFields:
    """An ORM ``Feedback`` read like a Core row's mapping (its ``metadata`` column is the attribute ``meta``)."""

    __slots__ = ("_row",)

    def __init__(self, row: Feedback) -> None:
        self._row = row

    def __getitem__(self, name: str) -> Any:
        return getattr(self._row, "meta" if name == "metadata" else name)


def feedback_dict(fb: Any) -> dict[str, Any]:
    """The JSON form of a stored row (an ORM ``Feedback`` or a Core row of the feedback table). A Core row is
    read through its mapping: a reply of a hundred items reads 2,200 fields, and a row's attribute access
    costs five times a mapping lookup."""
    m: Any = _OrmFields(fb) if isinstance(fb, Feedback) else fb._mapping
    kind, label = m["kind"], m["label"]
    return {
        "id": m["id"],
        "target_type": m["target_type"],
        "trace_id": m["trace_id"],
        "span_id": m["span_id"],
        "session_id": m["session_id"],
        "other_trace_id": m["other_trace_id"],
        "other_span_id": m["other_span_id"],
        "name": m["name"],
        "value": m["value"],
        "kind": kind,
        "score": m["score"],
        "label": label,
        "winner": label if kind == "preference" and label in WINNERS else None,
        "comment": m["comment"],
        "correction": m["correction"],
        "source": m["source"],
        "author": m["author"],
        "metadata": m["metadata"],
        "idempotency_key": m["idempotency_key"],
        "is_current": m["is_current"],
        "created_at": iso_utc(m["created_at"]),
        "deleted_at": iso_utc(m["deleted_at"]),
    }


def iso_utc(moment: Any) -> str | None:
    """SQLite drops the zone; stored times are UTC, so say so. The last time written is kept: the rows of one
    write share their ``created_at`` object, and a reply of a hundred rows would otherwise format it a hundred
    times."""
    global _LAST_ISO
    if moment is None:
        return None
    last = _LAST_ISO
    if moment is last[0]:
        return last[1]
    given = moment
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    elif moment.utcoffset():  # not UTC already
        moment = moment.astimezone(timezone.utc)
    text = moment.isoformat().replace("+00:00", "Z")
    _LAST_ISO = (given, text)
    return text


_LAST_ISO: tuple[Any, str] = (None, "")
"""The last (time object, its text) :func:`iso_utc` wrote: datetimes are immutable, so the same object always
writes the same text."""
