"""Attribute dimensions a project declares, so ``attr.<key>`` questions read the rollups, not every span.

A project may declare up to three span attribute keys (``plaudit projects set NAME --dimension plan``).
Each declared key has a slot (``dim_1`` .. ``dim_3``): ingest writes the attribute's value as text into the
span's slot column, feedback copies it, and the span and score rollup cells are keyed by it. Declaring
keys backfills the project's stored spans, their feedback copies and both rollups; until that has
finished (``dimensions_ready``) questions about the new keys take the scan path, so no answer is ever
read from half-filled cells. Undeclared keys always take the scan path, and replies say so. A collector that
read the project's settings just before a declaration may store that batch without the new values; ``plaudit
db rebuild`` fills in any such span.

Values are kept as text (``ingest.spans.dimension_text``), the way PostgreSQL's ``->>`` reads them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, bindparam, case, func, literal, select, update
from sqlalchemy.engine import Connection

from plaudit_collector.ingest.spans import MAX_DIMENSION_VALUE, dimension_text
from plaudit_collector.store import rollup, score_rollup
from plaudit_collector.store.db import Database
from plaudit_collector.store.progress import Report, silent
from plaudit_collector.store.tables import Feedback, Project, Span, utcnow

SLOTS = rollup.SLOTS
MAX_DIMENSIONS = len(SLOTS)
MAX_KEY = 200
CHUNK = 50_000

PROJECTS = Project.__table__  # type: ignore[attr-defined]
SPAN = Span.__table__  # type: ignore[attr-defined]
FEEDBACK = Feedback.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Declared:
    """A project's declared keys by slot (None: a free slot) and whether stored rows have them all."""

    keys: tuple[str | None, ...] = (None,) * MAX_DIMENSIONS
    ready: bool = True

    @property
    def slots(self) -> tuple[tuple[str, str], ...]:
        """``(("attr.plan", "dim_1"), ...)`` for the keys questions may read from the rollups."""
        if not self.ready:
            return ()
        return tuple((f"attr.{key}", slot) for key, slot in zip(self.keys, SLOTS, strict=True) if key is not None)

    @property
    def named(self) -> list[str]:
        return [key for key in self.keys if key is not None]


NONE = Declared()


def check_keys(keys: Sequence[str]) -> list[str]:
    """The keys, checked: at most three, distinct, 1–200 characters, no NUL or lone surrogate.

    Raises:
        ValueError: naming the offending key.
    """
    out: list[str] = []
    for key in keys:
        if not isinstance(key, str) or not key.strip():
            raise ValueError("dimension: a key may not be empty")
        if len(key) > MAX_KEY:
            raise ValueError(f"dimension: {key[:40]!r}... is longer than {MAX_KEY} characters")
        if "\x00" in key or any(0xD800 <= ord(ch) <= 0xDFFF for ch in key):
            raise ValueError(f"dimension: {key[:40]!r} holds a NUL byte or a lone surrogate")
        if key.startswith("attr."):
            raise ValueError(f"dimension: give the attribute key without 'attr.' ({key[5:45]!r})")
        if key in out:
            raise ValueError(f"dimension: {key[:40]!r} is given twice")
        out.append(key)
    if len(out) > MAX_DIMENSIONS:
        raise ValueError(f"dimension: at most {MAX_DIMENSIONS} keys per project ({len(out)} given)")
    return out


def parse(stored: str | None, ready: bool | None) -> Declared:
    if not stored or stored == "[]":
        return NONE
    keys = list(json.loads(stored))[:MAX_DIMENSIONS]
    keys += [None] * (MAX_DIMENSIONS - len(keys))
    return Declared(tuple(keys), bool(ready))


def declared(conn: Connection, project: str) -> Declared:
    query = select(PROJECTS.c.dimensions, PROJECTS.c.dimensions_ready).where(PROJECTS.c.name == project)
    row = conn.execute(query).first()
    return NONE if row is None else parse(row.dimensions, row.dimensions_ready)


def _assign(old: Declared, keys: list[str]) -> tuple[str | None, ...]:
    """Slots for ``keys``: a key declared before keeps its slot (its values need no rewrite)."""
    slots: list[str | None] = [key if key in keys else None for key in old.keys]
    for key in keys:
        if key not in slots:
            slots[slots.index(None)] = key
    return tuple(slots)


def declare(db: Database, project: str, keys: Sequence[str], progress: Report = silent) -> Declared:
    """Declare the project's attribute dimensions (replacing the earlier ones) and backfill its stored rows.

    The declaration is committed first (not ready), so spans ingested meanwhile get their values at ingest;
    the backfill then fills what was stored before and marks the keys ready.

    Raises:
        ValueError: for keys :func:`check_keys` refuses.
    """
    wanted = check_keys(keys)
    with db.writing(), db.engine.begin() as conn:
        row = {"name": project, "store_content": True, "created_at": utcnow()}
        conn.execute(db.insert(PROJECTS).values(**row).on_conflict_do_nothing())
        old = declared(conn, project)
        slots = _assign(old, wanted)
        changed = slots != old.keys or not old.ready
        stored = json.dumps(list(slots)) if any(slots) else "[]"
        conn.execute(
            update(PROJECTS).where(PROJECTS.c.name == project).values(dimensions=stored, dimensions_ready=not changed)
        )
    if changed:
        backfill(db, project, progress)
    with db.engine.connect() as conn:
        return declared(conn, project)


def backfill(db: Database, project: str, progress: Report = silent, *, finish: bool = True) -> Declared:
    """Write the declared keys' values into the project's stored spans and their feedback copies, rebuild
    its rollups, and mark the keys ready; returns the declaration filled in. Chunked by row id, each chunk
    its own transaction, so ingest goes on meanwhile (and what it stores already has its values).
    ``finish=False`` leaves the rollups and the ready mark to the caller (``maintenance.rebuild``)."""
    with db.engine.connect() as conn:
        state = declared(conn, project)
        low, high = conn.execute(
            select(func.min(SPAN.c.id), func.max(SPAN.c.id)).where(SPAN.c.project == project)
        ).one()
    task = f"filling declared attributes of {project}"
    if low is not None:
        values = {SPAN.c[slot]: _text_sql(db.dialect, key) for key, slot in zip(state.keys, SLOTS, strict=True)}
        total = high - low + 1
        progress(task, 0, total)
        for start in range(low, high + 1, CHUNK):
            end = start + CHUNK
            with db.writing(), db.engine.begin() as conn:
                in_chunk = (SPAN.c.project == project, SPAN.c.id >= start, SPAN.c.id < end)
                conn.execute(update(SPAN).where(*in_chunk).values(values))
                for key, slot in zip(state.keys, SLOTS, strict=True):
                    if key is not None:
                        _fill_others(conn, db.dialect, key, slot, in_chunk)
                f = FEEDBACK
                conn.execute(  # the start time names the span's day partition on PostgreSQL
                    update(f)
                    .where(f.c.project == project, f.c.span_pk >= start, f.c.span_pk < end)
                    .where(SPAN.c.id == f.c.span_pk, SPAN.c.start_ns == f.c.span_start_ns)
                    .values({f.c[f"span_{slot}"]: SPAN.c[slot] for slot in SLOTS})
                )
            progress(task, min(end, high + 1) - low, total)
    if finish:
        with db.writing(), db.engine.begin() as conn:
            rollup.rebuild(conn, db.dialect, project)
            score_rollup.rebuild(conn, db.dialect, project)
            mark_ready(conn, project, state)
    return state


def mark_ready(conn: Connection, project: str, state: Declared) -> None:
    """The keys of ``state`` are filled in, unless the project was re-declared meanwhile (that run marks its
    own)."""
    if declared(conn, project).keys == state.keys:
        conn.execute(update(PROJECTS).where(PROJECTS.c.name == project).values(dimensions_ready=True))


def projects_declaring(conn: Connection) -> list[str]:
    return list(conn.execute(select(PROJECTS.c.name).where(PROJECTS.c.dimensions != "[]")).scalars())


def _typed(dialect: str, key: str) -> tuple[Any, Any, Any, tuple[str, ...]]:
    """SQL for an attribute's JSON type, its text (strings), its value (read into Python), and the types
    whose text Python writes (numbers, lists and maps: each database prints them its own way)."""
    if dialect == "postgresql":
        raw = SPAN.c.attributes.op("->")(bindparam(None, key, String))
        text_of = SPAN.c.attributes.op("->>")(bindparam(None, key, String))
        return func.jsonb_typeof(raw), text_of, raw, ("number", "array", "object")
    path = bindparam(None, '$."' + key.replace('"', '\\"') + '"', String)
    value = func.json_extract(SPAN.c.attributes, path)
    return func.json_type(SPAN.c.attributes, path), value, value, ("integer", "real", "array", "object")


def _text_sql(dialect: str, key: str | None) -> Any:
    """SQL for a string or boolean attribute's value as ``dimension_text`` gives it; NULL for other types
    (:func:`_fill_others` writes those) and for a free slot."""
    if key is None:
        return literal(None, String)
    kind, text_of, _, _ = _typed(dialect, key)
    if dialect == "postgresql":
        cut = func.left(text_of, MAX_DIMENSION_VALUE)
        return case((kind == "string", cut), (kind == "boolean", text_of), else_=literal(None, String))
    return case(
        (kind == "text", func.substr(text_of, 1, MAX_DIMENSION_VALUE)),
        (kind == "true", literal("true")),
        (kind == "false", literal("false")),
        else_=literal(None, String),
    )


def _fill_others(conn: Connection, dialect: str, key: str, slot: str, where: Sequence[Any]) -> None:
    """Numbers, lists and maps get their text from ``dimension_text``, as at ingest (the databases print
    them differently); such values are rare in a dimension, so they are read and written one by one."""
    kind, _, value, others = _typed(dialect, key)
    rows = conn.execute(select(SPAN.c.id, SPAN.c.start_ns, value.label("v")).where(*where, kind.in_(others))).all()
    if not rows:
        return
    decode = dialect != "postgresql"
    params = [
        {
            "s_id": row.id,
            "s_start": row.start_ns,
            "s_value": dimension_text(json.loads(row.v) if decode and isinstance(row.v, str) else row.v),
        }
        for row in rows
    ]
    statement = (
        update(SPAN)
        .where(SPAN.c.id == bindparam("s_id"), SPAN.c.start_ns == bindparam("s_start"))
        .values({SPAN.c[slot]: bindparam("s_value")})
    )
    conn.execute(statement, params)
