"""Feedback writes. Every write is one transaction, committed before the reply.

Semantics: one current item per (target, name, author) with the replaced rows kept as history; a new item
keeps what it leaves out of the one it replaces (a comment on its own adds to the earlier vote, a new vote
keeps the earlier comment); a repeated ``idempotency_key`` returns the first stored row instead of adding
one, and a key already used for another target, name or author is refused; strict score configs are
checked inside the write transaction, so a rejected request stores nothing; a project that stores no
content keeps no comments or corrections.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as OrmSession

from plaudit_collector.schemas import UNKNOWN_OUTCOMES, value_kind
from plaudit_collector.store import copies, prepared, projects, score_rollup, trace_days
from plaudit_collector.store.db import Database
from plaudit_collector.store.feedback_reads import feedback_dict
from plaudit_collector.store.feedback_sql import PLANNED_ONCE, TARGET_COLUMNS, inserting, statements, stored_rows
from plaudit_collector.store.score_configs import STRICT, FeedbackRejected, check_configs
from plaudit_collector.store.tables import Feedback, utcnow
from plaudit_collector.store.value_lists import ADVISORY_LOCKS

__all__ = [
    "FeedbackRejected",
    "IdempotencyConflict",
    "delete_feedback",
    "insert_feedback",
    "store_feedback",
    "store_items",
]


def insert_feedback(db: Database, project: str, items: Iterable[dict[str, Any]]) -> list[int]:
    """Store items shaped like the wire item (missing keys default) in one transaction; return their ids.

    Raises :class:`FeedbackRejected` when an item breaks a strict score config (nothing is stored).
    """
    return [int(row["id"]) for row in store_feedback(db, project, items)]


def store_feedback(db: Database, project: str, items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Like :func:`insert_feedback`, returning each stored item as its JSON form (request order)."""
    ready = [prepare(item) for item in items]
    for _attempt in range(3):
        try:
            with db.writing(), db.engine.begin() as conn:
                rows = store_items(conn, project, ready, lock=not db.is_sqlite)
            copies.recheck(db, project, copies.waiting_traces(rows))
            return [feedback_dict(row) for row in rows]
        except IntegrityError:  # a concurrent request stored the same idempotency key first: look again
            continue
    raise RuntimeError("feedback insert kept conflicting")


def prepare(item: dict[str, Any]) -> dict[str, Any]:
    """Fill defaults and derive target and kind, so wire items and ingest-built dicts store alike."""
    out = dict(item)
    value = out.get("value")
    for key in TARGET_COLUMNS:
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
    return (item["target_type"], *(item[key] for key in TARGET_COLUMNS), item["name"], item.get("author"))


def _row_key(row: Any) -> tuple[Any, ...]:
    return (row.target_type, *(getattr(row, key) for key in TARGET_COLUMNS), row.name, row.author)


class IdempotencyConflict(ValueError):
    """An ``idempotency_key`` already names an item on another target, name or author (``index`` in the
    request). Answering with that item would show one client another's row, so the item is refused."""

    def __init__(self, index: int) -> None:
        super().__init__("this idempotency_key was already used for another target, name or author; use a new key")
        self.index = index
        self.field = "idempotency_key"
        self.message = str(self)


def _advisory_key(project: str, key: tuple[Any, ...]) -> int:
    digest = hashlib.blake2b(repr((project, key)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


_CONTENT_FIELDS = ("comment", "correction")
_NOTE_KINDS = ("text", "correction")
"""Kinds of an item without a value: a comment or a correction on its own."""


def _merged(previous: Any, item: dict[str, Any]) -> dict[str, Any]:
    """``item`` as stored when it replaces the same author's current item on that target and name.

    What the new item leaves out is kept: a comment or correction on its own adds to the earlier vote (the
    value stays), and a new vote keeps the earlier comment and correction.
    """
    out = dict(item)
    for field in _CONTENT_FIELDS:
        if out.get(field) is None:
            out[field] = previous.get(field)
    if out.get("value") is None and out["kind"] in _NOTE_KINDS:
        if previous.get("value") is not None:
            out["value"], out["kind"] = previous["value"], previous["kind"]
        else:
            out["kind"] = "correction" if out.get("correction") is not None else "text"
    return out


def _current_queries(
    conn: Connection, project: str, authored: list[dict[str, Any]], lock_keys: list[int] | None
) -> list[tuple[Any, dict[str, Any]]]:
    """The reads of the current rows (oldest first) of the targets, names and authors of ``authored``, after the
    advisory locks ``lock_keys`` (PostgreSQL) are taken; :func:`_current_found` reads their rows."""
    common = {
        "project": project,
        "names": sorted({item["name"] for item in authored}),
        "authors": sorted({item["author"] for item in authored}),
    }
    spans = [item for item in authored if item["trace_id"] is not None and item["span_id"] is not None]
    traces = [item for item in authored if item["trace_id"] is not None and item["span_id"] is None]
    sessions = [item for item in authored if item["trace_id"] is None]
    sql = statements(conn.dialect.name)
    queries = []
    if spans:
        span_traces = sorted({item["trace_id"] for item in spans})
        statement = sql.current_by_span if len(span_traces) == 1 else sql.current_by_spans_of_traces
        queries.append((statement, {"traces": span_traces, "targets": sorted({i["span_id"] for i in spans})}))
    if traces:
        queries.append((sql.current_by_trace, {"targets": sorted({item["trace_id"] for item in traces})}))
    if sessions:
        queries.append((sql.current_by_session, {"targets": sorted({item["session_id"] for item in sessions})}))
    together = [(statement, {**common, **params}) for statement, params in queries]
    if lock_keys is not None:
        together.insert(0, (ADVISORY_LOCKS, {"keys": lock_keys}))
    return together


def _current_found(found: list[list[Any]], wanted: set[tuple[Any, ...]]) -> dict[tuple[Any, ...], list[Any]]:
    """The rows of :func:`_current_queries` (the locks' row left out) of the targets in ``wanted`` (their
    :func:`_target_key`), oldest first."""
    out: dict[tuple[Any, ...], list[Any]] = {}
    for rows in found:
        for row in rows:
            if (key := _row_key(row)) in wanted:
                out.setdefault(key, []).append(row._mapping)
    return out


def store_items(
    conn: Connection,
    project: str,
    items: list[dict[str, Any]],
    *,
    lock: bool,
    on_conflict: Callable[[int, IdempotencyConflict], None] | None = None,
) -> list[Any]:
    """Store prepared items (see :func:`prepare`) in the caller's transaction; returns the rows, in order.

    A project that stores no content keeps no comments or corrections. ``on_conflict(index, error)`` is told
    of an item whose key names another item, which is then left out (its place in the result is None);
    without it, such an item raises :class:`IdempotencyConflict`.

    Raises :class:`FeedbackRejected` when an item breaks a strict score config.
    """
    sql = statements(conn.dialect.name)
    keys = [item.get("idempotency_key") for item in items]
    wanted = sorted({k for k in keys if k})
    has_content = any(item.get(field) is not None for item in items for field in _CONTENT_FIELDS)
    # what the write reads before it decides anything, read at once (one round trip on PostgreSQL)
    queries: list[tuple[Any, dict[str, Any]]] = [(STRICT, {"project": project})]
    generic = [(PLANNED_ONCE, {})] if conn.dialect.name == "postgresql" else []
    if has_content:  # nothing to drop: no need to ask
        queries.append((projects.STORES_CONTENT, {"name": project}))
    if wanted:
        queries.append((sql.by_keys, {"project": project, "keys": wanted}))
    # PostgreSQL: the days of the rated traces, which the span lookup names (every item's: a superset)
    traces = []
    if conn.dialect.name == "postgresql":
        traces = sorted({i["trace_id"] for i in items if i["trace_id"] is not None and i["target_type"] != "session"})
    read_days = 0 < len(traces) <= trace_days.CHUNK
    if read_days:
        queries.append((trace_days.DAYS, {"project": project, "ids": traces}))
    # The current rows every authored item may replace, read after their advisory locks, with the rest: an item
    # that turns out to be a retry (its key stored) was locked and read for nothing. On PostgreSQL two requests
    # replacing the same author's vote must not both stay current: transaction-scoped advisory locks, taken in
    # a fixed order so batches cannot deadlock.
    authored = [item for item in items if item.get("author") is not None]
    lock_keys = sorted({_advisory_key(project, _target_key(item)) for item in authored}) if lock else None
    current_queries = _current_queries(conn, project, authored, lock_keys) if authored else []
    found = prepared.rows_together(conn, [*generic, *queries, *current_queries])[len(generic) :]
    current_found = found[len(queries) + (lock_keys is not None) :] if authored else []
    del found[len(queries) :]
    days = trace_days.by_trace(found.pop()) if read_days else None
    check_configs(conn, project, items, found[0])
    if has_content and not projects.keeps_content(found[1]):
        items = [{**item, **dict.fromkeys(_CONTENT_FIELDS)} for item in items]
    existing: dict[str, Any] = {row.idempotency_key: row for row in found[-1]} if wanted else {}
    fresh: list[tuple[int, dict[str, Any]]] = []  # (position in the request, item) for rows to insert
    first_for_key: dict[str, int] = {}
    refused: set[int] = set()
    for index, (item, key) in enumerate(zip(items, keys, strict=True)):
        if key and (key in existing or key in first_for_key):
            earlier = _row_key(existing[key]) if key in existing else _target_key(items[first_for_key[key]])
            if earlier != _target_key(item):
                conflict = IdempotencyConflict(index)
                if on_conflict is None:
                    raise conflict
                on_conflict(index, conflict)
                refused.add(index)
            continue  # a retry (or the same key twice in one request) is the item stored first
        if key:
            first_for_key[key] = index
        fresh.append((index, item))
    # each authored item's target key, computed once: a batch uses it four times per item
    targets = [_target_key(item) if item.get("author") is not None else None for _, item in fresh]
    wanted_targets = {target for target in targets if target is not None}
    current: dict[tuple[Any, ...], Any] = {}
    ids: list[int] = []
    replaced_items: list[score_rollup.Item] = []  # the score items the retired rows counted for
    if wanted_targets:
        replaced = _current_found(current_found, wanted_targets)
        ids = sorted(row["id"] for rows in replaced.values() for row in rows)
        replaced_items = [
            (project, row["name"], row["span_pk"])
            for rows in replaced.values()
            for row in rows
            if row["span_pk"] is not None
        ]
        current = {target: rows[-1] for target, rows in replaced.items()}
    # Within the request, a later item by the same author on the same target replaces an earlier one.
    last_for_target = {target: pos for pos, target in enumerate(targets) if target is not None}
    now = utcnow()
    rows = []
    credited = copies.copies_for(conn, project, [item for _, item in fresh], days)
    for pos, (_, item) in enumerate(fresh):
        is_current = True
        target = targets[pos]
        if target is not None:
            if target in current:
                item = _merged(current[target], item)
            current[target] = item
            is_current = last_for_target[target] == pos
        rows.append(
            {
                "project": project,
                "target_type": item["target_type"],
                **{key: item[key] for key in TARGET_COLUMNS},
                "name": item["name"],
                "kind": item["kind"],
                "value": item.get("value"),
                "comment": item.get("comment"),
                "correction": item.get("correction"),
                "source": item.get("source") or "human",
                "author": item.get("author"),
                "metadata": item.get("metadata"),
                "idempotency_key": item.get("idempotency_key") or uuid.uuid4().hex,
                "is_current": is_current,
                "created_at": now,
                "deleted_at": None,
                **_value_columns(item["kind"], item.get("value")),
                **credited[pos],
            }
        )
    # The replaced rows retired and the new ones inserted, in the same round trip as the first reads of the
    # score aggregates they change (PostgreSQL), which recompute their items in this transaction.
    writes = [(sql.retire, {"ids": ids})] if ids else []
    if rows:
        writes += inserting(conn.dialect.name, project, rows)
    new_items = [(project, row["name"], row["span_pk"]) for row in rows if row["span_pk"] is not None]
    results = score_rollup.apply(conn, [*replaced_items, *new_items], first=writes)
    inserted = stored_rows(rows, results[1 if ids else 0 :]) if rows else []
    for row in inserted:
        existing[row.idempotency_key] = row
    by_position = {index: row for (index, _), row in zip(fresh, inserted, strict=True)}
    return [
        None if index in refused else by_position[index] if index in by_position else existing[key]  # type: ignore[index]
        for index, key in enumerate(keys)
    ]


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
        conn = session.connection()
        score_rollup.apply(conn, score_rollup.items_of_feedback(conn, [feedback_id]))
    return feedback_dict(row)
