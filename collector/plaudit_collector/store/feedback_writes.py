"""Feedback writes. Every write is one transaction, committed before the reply.

Semantics: one current value per (target, name, author) with the replaced rows kept as history; a
repeated ``idempotency_key`` returns the first stored row instead of adding one; strict score configs
are checked inside the write transaction, so a rejected request stores nothing.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as OrmSession

from plaudit_collector.schemas import UNKNOWN_OUTCOMES, value_kind
from plaudit_collector.store import copies
from plaudit_collector.store.db import Database
from plaudit_collector.store.feedback_reads import feedback_dict
from plaudit_collector.store.score_configs import FeedbackRejected, check_configs
from plaudit_collector.store.tables import Feedback, utcnow

__all__ = ["FeedbackRejected", "delete_feedback", "insert_feedback", "store_feedback", "store_items"]


def insert_feedback(db: Database, project: str, items: Iterable[dict[str, Any]]) -> list[int]:
    """Store items shaped like the wire item (missing keys default) in one transaction; return their ids.

    Raises :class:`FeedbackRejected` when an item breaks a strict score config (nothing is stored).
    """
    return [int(row["id"]) for row in store_feedback(db, project, items)]


def store_feedback(db: Database, project: str, items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Like :func:`insert_feedback`, returning each stored item as its JSON form (request order)."""
    prepared = [prepare(item) for item in items]
    for _attempt in range(3):
        try:
            with db.writing(), db.engine.begin() as conn:
                rows = store_items(conn, project, prepared, lock=not db.is_sqlite)
            return [feedback_dict(row) for row in rows]
        except IntegrityError:  # a concurrent request stored the same idempotency key first: look again
            continue
    raise RuntimeError("feedback insert kept conflicting")


FEEDBACK_TABLE = Feedback.__table__  # type: ignore[attr-defined]
_TARGET_COLUMNS = ("trace_id", "span_id", "session_id", "other_trace_id", "other_span_id")


def prepare(item: dict[str, Any]) -> dict[str, Any]:
    """Fill defaults and derive target and kind, so wire items and ingest-built dicts store alike."""
    out = dict(item)
    value = out.get("value")
    for key in _TARGET_COLUMNS:
        out.setdefault(key, None)
    trace_id, session_id = out["trace_id"], out["session_id"]
    kind = out.get("kind")
    if kind is None:
        if out["other_trace_id"] is not None:
            kind = "preference"
        elif trace_id is None and session_id is not None and value in UNKNOWN_OUTCOMES:
            kind = "unknown"
        else:
            kind = value_kind(value, out.get("correction"))
    out["kind"] = kind
    if trace_id is None and session_id is not None:
        out["target_type"] = "session"
    else:
        out["target_type"] = "span" if out["span_id"] else "trace"
        out["session_id"] = None  # a span or trace target; the session comes from the span
    return out


def _value_columns(kind: str, value: Any) -> dict[str, Any]:
    """Where analytics read the value: ``score`` for numbers and thumbs (1.0/0.0), ``label`` for labels."""
    if kind in ("boolean", "numeric") and isinstance(value, (bool, int, float)) and math.isfinite(value):
        return {"score": float(value), "label": None}
    if kind in ("categorical", "preference", "unknown") and isinstance(value, str):
        return {"score": None, "label": value[:200]}
    if kind == "unknown":
        return {"score": None, "label": "unknown"}
    return {"score": None, "label": None}


def _target_key(item: dict[str, Any]) -> tuple[Any, ...]:
    """What one author's current vote is unique on: target, B side (preferences), name, author."""
    return (item["target_type"], *(item[key] for key in _TARGET_COLUMNS), item["name"], item.get("author"))


_REPLACE_CACHE: dict[tuple[bool, ...], Any] = {}


def _replace_statement(shape: tuple[bool, ...]) -> Any:
    """``UPDATE ... SET is_current = false`` for one author's current vote on a target of this shape
    (which target columns are NULL), with bound parameters so a batch runs as one executemany."""
    stmt = _REPLACE_CACHE.get(shape)
    if stmt is None:
        table = FEEDBACK_TABLE
        conditions = [
            table.c.project == bindparam("b_project"),
            table.c.target_type == bindparam("b_target_type"),
            table.c.name == bindparam("b_name"),
            table.c.author == bindparam("b_author"),
            table.c.is_current.is_(True),
        ]
        for column, is_null in zip(_TARGET_COLUMNS, shape, strict=True):
            conditions.append(table.c[column].is_(None) if is_null else table.c[column] == bindparam(f"b_{column}"))
        stmt = update(table).where(*conditions).values(is_current=False)
        _REPLACE_CACHE[shape] = stmt
    return stmt


def _advisory_key(project: str, key: tuple[Any, ...]) -> int:
    digest = hashlib.blake2b(repr((project, key)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def store_items(conn: Connection, project: str, items: list[dict[str, Any]], *, lock: bool) -> list[Any]:
    """Store prepared items (see :func:`prepare`) in the caller's transaction; returns the rows, in order.

    Raises :class:`FeedbackRejected` when an item breaks a strict score config.
    """
    check_configs(conn, project, items)
    table = FEEDBACK_TABLE
    keys = [item.get("idempotency_key") for item in items]
    existing: dict[str, Any] = {}
    wanted = sorted({k for k in keys if k})
    for start in range(0, len(wanted), 500):
        for row in conn.execute(
            select(table).where(table.c.project == project, table.c.idempotency_key.in_(wanted[start : start + 500]))
        ):
            existing[row.idempotency_key] = row
    fresh: list[tuple[int, dict[str, Any]]] = []  # (position in the request, item) for rows to insert
    first_for_key: dict[str, int] = {}
    for index, (item, key) in enumerate(zip(items, keys, strict=True)):
        if key and key in existing:
            continue
        if key and key in first_for_key:
            continue  # the same key twice in one request is one row
        if key:
            first_for_key[key] = index
        fresh.append((index, item))
    authored = [item for _, item in fresh if item.get("author") is not None]
    if lock and authored:
        # PostgreSQL: two requests replacing the same author's vote must not both stay current.
        # Transaction-scoped advisory locks, taken in a fixed order so batches cannot deadlock.
        lock_keys = sorted({_advisory_key(project, _target_key(item)) for item in authored})
        conn.execute(
            text("SELECT pg_advisory_xact_lock(k) FROM (SELECT unnest(CAST(:keys AS bigint[])) AS k ORDER BY 1) AS s"),
            {"keys": lock_keys},
        )
    by_shape: dict[tuple[bool, ...], dict[tuple[Any, ...], dict[str, Any]]] = {}
    for item in authored:
        shape = tuple(item[key] is None for key in _TARGET_COLUMNS)
        params = {"b_project": project, "b_target_type": item["target_type"], "b_name": item["name"]}
        params["b_author"] = item["author"]
        params.update({f"b_{key}": item[key] for key in _TARGET_COLUMNS if item[key] is not None})
        by_shape.setdefault(shape, {})[_target_key(item)] = params
    for shape, targets in by_shape.items():
        conn.execute(_replace_statement(shape), list(targets.values()))
    # Within the request, a later item by the same author on the same target replaces an earlier one.
    last_for_target = {_target_key(item): pos for pos, (_, item) in enumerate(fresh) if item.get("author") is not None}
    now = utcnow()
    rows = []
    for pos, (_, item) in enumerate(fresh):
        current = item.get("author") is None or last_for_target[_target_key(item)] == pos
        rows.append(
            {
                "project": project,
                "target_type": item["target_type"],
                **{key: item[key] for key in _TARGET_COLUMNS},
                "name": item["name"],
                "kind": item["kind"],
                "value": item.get("value"),
                "comment": item.get("comment"),
                "correction": item.get("correction"),
                "source": item.get("source") or "human",
                "author": item.get("author"),
                "metadata": item.get("metadata"),
                "idempotency_key": item.get("idempotency_key") or uuid.uuid4().hex,
                "is_current": current,
                "created_at": now,
                "deleted_at": None,
                **_value_columns(item["kind"], item.get("value")),
            }
        )
    inserted: list[Any] = []
    if rows:
        inserted = list(conn.execute(insert(table).returning(*table.c, sort_by_parameter_order=True), rows))
        copies.resolve_feedback(conn, [row.id for row in inserted])
    for row in inserted:
        existing[row.idempotency_key] = row
    by_position = {index: row for (index, _), row in zip(fresh, inserted, strict=True)}
    out = []
    for index, key in enumerate(keys):
        out.append(by_position[index] if index in by_position else existing[key])  # type: ignore[index]
    return out


def delete_feedback(db: Database, project: str, feedback_id: int) -> dict[str, Any] | None:
    """Mark the row deleted (kept for audit, never current again); None when there is no such row."""
    with db.writing(), OrmSession(db.engine, expire_on_commit=False) as session, session.begin():
        row = session.execute(
            select(Feedback).where(Feedback.project == project, Feedback.id == feedback_id)
        ).scalar_one_or_none()
        if row is None:
            return None
        if row.deleted_at is None:
            row.deleted_at = utcnow()
            row.is_current = False
        session.flush()
    return feedback_dict(row)
