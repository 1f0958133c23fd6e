"""Feedback and score-config storage. Every write is one transaction, committed before the reply.

Semantics (issue 4): one current value per (target, name, author) with the replaced rows kept as
history; a repeated ``idempotency_key`` returns the first stored row instead of adding one; strict
score configs are checked inside the write transaction, so a rejected request stores nothing.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as OrmSession

from plaudit_collector import crediting
from plaudit_collector.db import Database
from plaudit_collector.schemas import UNKNOWN_OUTCOMES, WINNERS, value_kind
from plaudit_collector.tables import Feedback, ScoreConfig, Span, utcnow


class FeedbackRejected(ValueError):
    """An item breaks a strict score config: ``index`` in the request, the ``field`` and the rule broken."""

    def __init__(self, index: int, field: str, message: str, rule: str) -> None:
        super().__init__(message)
        self.index = index
        self.field = field
        self.message = message
        self.rule = rule


# --- writes -------------------------------------------------------------------------------------------------


def insert_feedback(db: Database, project: str, items: Iterable[dict[str, Any]]) -> list[int]:
    """Store items shaped like the wire item (missing keys default) in one transaction; return their ids.

    Raises :class:`FeedbackRejected` when an item breaks a strict score config (nothing is stored).
    """
    return [int(row["id"]) for row in store_feedback(db, project, items)]


def store_feedback(db: Database, project: str, items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Like :func:`insert_feedback`, returning each stored item as its JSON form (request order)."""
    prepared = [_prepare(item) for item in items]
    for _attempt in range(3):
        try:
            with db.writing(), db.engine.begin() as conn:
                rows = _store_all(conn, project, prepared, lock=not db.is_sqlite)
            return [feedback_dict(row) for row in rows]
        except IntegrityError:  # a concurrent request stored the same idempotency key first: look again
            continue
    raise RuntimeError("feedback insert kept conflicting")


FEEDBACK_TABLE = Feedback.__table__  # type: ignore[attr-defined]
_TARGET_COLUMNS = ("trace_id", "span_id", "session_id", "other_trace_id", "other_span_id")


def _prepare(item: dict[str, Any]) -> dict[str, Any]:
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


def _store_all(conn: Connection, project: str, items: list[dict[str, Any]], *, lock: bool) -> list[Any]:
    _check_configs(conn, project, items)
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
        crediting.resolve_feedback(conn, [row.id for row in inserted])
    for row in inserted:
        existing[row.idempotency_key] = row
    by_position = {index: row for (index, _), row in zip(fresh, inserted, strict=True)}
    out = []
    for index, key in enumerate(keys):
        out.append(by_position[index] if index in by_position else existing[key])  # type: ignore[index]
    return out


# --- score configs ------------------------------------------------------------------------------------------


def _check_configs(conn: Connection, project: str, items: Sequence[dict[str, Any]]) -> None:
    names = {item["name"] for item in items}
    table = ScoreConfig.__table__  # type: ignore[attr-defined]
    configs = {
        cfg.name: cfg
        for cfg in conn.execute(
            select(table).where(table.c.project == project, table.c.name.in_(sorted(names)), table.c.strict.is_(True))
        )
    }
    if not configs:
        return
    for index, item in enumerate(items):
        cfg = configs.get(item["name"])
        if cfg is None:
            continue
        broken = config_violation(cfg, item["kind"], item.get("value"))
        if broken is not None:
            rule, detail = broken
            message = f"{item.get('value')!r} breaks score config {cfg.name!r} (strict), rule {rule!r}: {detail}"
            raise FeedbackRejected(index, "value", message, rule)


def config_violation(cfg: Any, kind: str, value: Any) -> tuple[str, str] | None:
    """(rule, explanation) when ``value`` does not fit ``cfg``; None when it does.

    A missing value (a comment or a correction on that score) and a session's "unknown"/"ongoing"
    outcome fit every config: there is no score to check.
    """
    if value is None or kind == "unknown":
        return None
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if cfg.type == "text":
        return "type", "a text score takes a comment or correction, no value"
    if cfg.type == "boolean" and not isinstance(value, bool):
        return "type", "value must be true or false"
    if cfg.type == "numeric":
        if not is_number:
            return "type", "value must be a number"
        if cfg.min is not None and value < cfg.min:
            return "range", f"value must be at least {cfg.min:g} (range {_range(cfg)})"
        if cfg.max is not None and value > cfg.max:
            return "range", f"value must be at most {cfg.max:g} (range {_range(cfg)})"
    if cfg.type == "categorical":
        if not isinstance(value, str):
            return "type", "value must be one of the categories (a string)"
        if value not in (cfg.categories or []):
            return "categories", f"value must be one of {', '.join(map(repr, cfg.categories or []))}"
    return None


def _range(cfg: Any) -> str:
    low = "-inf" if cfg.min is None else f"{cfg.min:g}"
    high = "inf" if cfg.max is None else f"{cfg.max:g}"
    return f"[{low}, {high}]"


def put_score_config(db: Database, project: str, name: str, config: dict[str, Any]) -> dict[str, Any]:
    """Create or replace the config for ``name``; returns its JSON form."""
    values = {key: config.get(key) for key in ("type", "min", "max", "categories", "strict", "description")}
    values["strict"] = bool(values["strict"]) if values["strict"] is not None else True
    with db.writing(), OrmSession(db.engine, expire_on_commit=False) as session, session.begin():
        row = session.execute(
            select(ScoreConfig).where(ScoreConfig.project == project, ScoreConfig.name == name)
        ).scalar_one_or_none()
        if row is None:
            row = ScoreConfig(project=project, name=name, **values)
            session.add(row)
        else:
            for key, value in values.items():
                setattr(row, key, value)
            row.updated_at = utcnow()
        session.flush()
    return score_config_dict(row)


def get_score_config(db: Database, project: str, name: str) -> dict[str, Any] | None:
    with OrmSession(db.engine) as session:
        row = session.execute(
            select(ScoreConfig).where(ScoreConfig.project == project, ScoreConfig.name == name)
        ).scalar_one_or_none()
        return None if row is None else score_config_dict(row)


def list_score_configs(db: Database, project: str) -> dict[str, Any]:
    with OrmSession(db.engine) as session:
        rows = session.execute(
            select(ScoreConfig).where(ScoreConfig.project == project).order_by(ScoreConfig.name)
        ).scalars()
        data = [score_config_dict(row) for row in rows]
    return {"data": data, "count": len(data)}


def delete_score_config(db: Database, project: str, name: str) -> bool:
    with db.writing(), db.engine.begin() as conn:
        result = conn.execute(delete(ScoreConfig).where(ScoreConfig.project == project, ScoreConfig.name == name))  # type: ignore[arg-type]
    return bool(result.rowcount)


def score_config_dict(cfg: ScoreConfig) -> dict[str, Any]:
    return {
        "name": cfg.name,
        "type": cfg.type,
        "min": cfg.min,
        "max": cfg.max,
        "categories": cfg.categories,
        "strict": cfg.strict,
        "description": cfg.description,
        "created_at": _iso_utc(cfg.created_at),
        "updated_at": _iso_utc(cfg.updated_at),
    }


# --- reads and deletes --------------------------------------------------------------------------------------


def get_feedback(db: Database, project: str, feedback_id: int) -> dict[str, Any] | None:
    with OrmSession(db.engine) as session:
        row = session.execute(
            select(Feedback).where(Feedback.project == project, Feedback.id == feedback_id)
        ).scalar_one_or_none()
        return None if row is None else feedback_dict(row)


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
    A preference is an orphan when either side is missing.
    """

    def missing(trace_col: Any, span_col: Any) -> ColumnElement[bool]:
        span_match = or_(span_col.is_(None), Span.span_id == span_col)
        return ~exists().where(Span.project == project, Span.trace_id == trace_col, span_match)

    cutoff = datetime.now(timezone.utc) - timedelta(seconds=max(older_than, 0.0))
    conditions = [
        Feedback.project == project,
        Feedback.is_current.is_(True),  # type: ignore[attr-defined]
        Feedback.deleted_at.is_(None),  # type: ignore[union-attr]
        Feedback.target_type != "session",
        Feedback.created_at <= cutoff,  # type: ignore[operator]
        or_(
            missing(Feedback.trace_id, Feedback.span_id),
            and_(Feedback.other_trace_id.is_not(None), missing(Feedback.other_trace_id, Feedback.other_span_id)),  # type: ignore[union-attr]
        ),
    ]
    with OrmSession(db.engine) as session:
        total = session.execute(select(func.count()).select_from(Feedback).where(*conditions)).scalar_one()
        rows = session.execute(
            select(Feedback).where(*conditions).order_by(Feedback.id).limit(limit).offset(offset)
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


def feedback_dict(fb: Any) -> dict[str, Any]:
    """The JSON form of a stored row (an ORM ``Feedback`` or a Core row of the feedback table)."""
    meta = fb.meta if isinstance(fb, Feedback) else fb._mapping["metadata"]
    return {
        "id": fb.id,
        "target_type": fb.target_type,
        "trace_id": fb.trace_id,
        "span_id": fb.span_id,
        "session_id": fb.session_id,
        "other_trace_id": fb.other_trace_id,
        "other_span_id": fb.other_span_id,
        "name": fb.name,
        "value": fb.value,
        "kind": fb.kind,
        "score": fb.score,
        "label": fb.label,
        "winner": fb.label if fb.kind == "preference" and fb.label in WINNERS else None,
        "comment": fb.comment,
        "correction": fb.correction,
        "source": fb.source,
        "author": fb.author,
        "metadata": meta,
        "idempotency_key": fb.idempotency_key,
        "is_current": fb.is_current,
        "created_at": _iso_utc(fb.created_at),
        "deleted_at": _iso_utc(fb.deleted_at),
    }


def _iso_utc(moment: Any) -> str | None:
    """SQLite drops the zone; stored times are UTC, so say so."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
