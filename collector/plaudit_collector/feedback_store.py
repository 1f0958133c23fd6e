"""Feedback writes and their JSON form. Every write is one transaction, committed before the reply."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import timezone
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as OrmSession

from plaudit_collector.db import Database
from plaudit_collector.tables import Feedback


def _value_columns(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"kind": "boolean", "score": 1.0 if value else 0.0, "label": None}
    if isinstance(value, (int, float)):
        return {"kind": "numeric", "score": float(value), "label": None}
    if isinstance(value, str):
        return {"kind": "categorical", "score": None, "label": value[:200]}
    return {"kind": "text", "score": None, "label": None}


def insert_feedback(db: Database, project: str, items: Iterable[dict[str, Any]]) -> list[int]:
    """Store validated items in one transaction and return their ids.

    A repeated ``idempotency_key`` returns the stored id without a new row. A new vote by the same
    author on the same target and name replaces the earlier one as current; the old row stays as history.
    """
    items = list(items)
    for _attempt in range(3):
        try:
            with db.writing(), OrmSession(db.engine) as session, session.begin():
                return [_store_one(session, project, item) for item in items]
        except IntegrityError:  # a concurrent request stored the same idempotency key first: look again
            continue
    raise RuntimeError("feedback insert kept conflicting")


def _store_one(session: OrmSession, project: str, item: dict[str, Any]) -> int:
    key = item["idempotency_key"]
    if key:
        existing = session.execute(
            select(Feedback.id).where(Feedback.project == project, Feedback.idempotency_key == key)
        ).scalar_one_or_none()
        if existing is not None:
            return int(existing)
    else:
        key = uuid.uuid4().hex
    if item.get("author") is not None:
        span_match = Feedback.span_id.is_(None) if item["span_id"] is None else Feedback.span_id == item["span_id"]
        session.execute(
            update(Feedback)
            .where(
                Feedback.project == project,
                Feedback.trace_id == item["trace_id"],
                span_match,
                Feedback.name == item["name"],
                Feedback.author == item["author"],
                Feedback.is_current.is_(True),  # type: ignore[attr-defined]
            )
            .values(is_current=False)
        )
    row = Feedback(
        project=project,
        target_type="span" if item["span_id"] else "trace",
        trace_id=item["trace_id"],
        span_id=item["span_id"],
        name=item["name"],
        value=item["value"],
        comment=item.get("comment"),
        correction=item.get("correction"),
        source=item.get("source") or "human",
        author=item.get("author"),
        meta=item.get("metadata"),
        idempotency_key=key,
        **_value_columns(item["value"]),
    )
    session.add(row)
    session.flush()
    return int(row.id)  # type: ignore[arg-type]


def feedback_dict(fb: Feedback) -> dict[str, Any]:
    return {
        "id": fb.id,
        "trace_id": fb.trace_id,
        "span_id": fb.span_id,
        "name": fb.name,
        "value": fb.value,
        "kind": fb.kind,
        "score": fb.score,
        "label": fb.label,
        "comment": fb.comment,
        "correction": fb.correction,
        "source": fb.source,
        "author": fb.author,
        "metadata": fb.meta,
        "is_current": fb.is_current,
        "created_at": _iso_utc(fb.created_at),
    }


def _iso_utc(moment: Any) -> str | None:
    """SQLite drops the zone; stored times are UTC, so say so."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
