"""Keeping the score aggregates (``span_scores``, ``score_rollup``) in step with the feedback table.

A rated item is a span rated on a score by span- or trace-level feedback, the item the analytics average
raters over (``analytics.core.unit_scores``): its current, undeleted ratings with a score. Its aggregate is
the raters' count and score sum. Each item adds to one cell (project, score, UTC day of the span's start and
the span rollup's dimensions): items, the sum and sum of squares of the item means, ratings, items with a
non-boolean rating, and a histogram of raters per item. Session-level feedback credits several spans and is
read at query time.

Writers call :func:`apply` with the items they may have changed, inside their transaction: each item is
recomputed from its feedback rows and its cells get the difference, so the aggregates are exact whatever the
change (a new vote, a replaced one, a deletion, a span stored or deleted). :func:`rebuild` recomputes all.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, case, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from plaudit_collector.store import prepared
from plaudit_collector.store.rollup import DAY_NS, SLOTS, digest
from plaudit_collector.store.rollup import DIMS as SPAN_DIMS
from plaudit_collector.store.tables import Feedback, ScoreRollup, SpanScore
from plaudit_collector.store.value_lists import ADVISORY_LOCKS, one_of, recordset_insert, rows_of, rows_value

FEEDBACK = Feedback.__table__  # type: ignore[attr-defined]
ITEMS = SpanScore.__table__  # type: ignore[attr-defined]
CELLS = ScoreRollup.__table__  # type: ignore[attr-defined]

CELL_DIMS = ("span_name", *SPAN_DIMS[1:])
"""The cells' dimension columns, in the order of the span rollup's ``DIMS`` (``name`` is ``span_name``)."""
COPY_DIMS = tuple(name if name == "span_kind" else f"span_{name}" for name in SPAN_DIMS)
"""The feedback columns holding the credited span's copy of each dimension (see ``copies.COPIED``)."""
SUMS = ("items", "total", "total_sq", "ratings", "nb_items")
CHUNK = 400

Item = tuple[str, str, int]  # (project, score name, span row id)
CellKey = tuple[str, str, int, str]  # (project, score name, day, digest of the dimension values)


def _items_query(where: Sequence[Any], copy_dims: Sequence[str] = COPY_DIMS) -> Any:
    """Per (project, score, span): the current raters' count, score sum, any non-boolean, and the span's copy."""
    f = FEEDBACK
    return (
        select(
            f.c.project,
            f.c.name,
            f.c.span_pk,
            func.count().label("raters"),
            func.sum(f.c.score).label("total"),
            func.max(case((f.c.kind == "boolean", 0), else_=1)).label("nb"),
            func.min(f.c.span_start_ns).label("start_ns"),
            *[func.min(f.c[column]).label(column) for column in copy_dims],
        )
        .where(
            f.c.is_current.is_(True),
            f.c.deleted_at.is_(None),
            f.c.score.is_not(None),
            f.c.span_pk.is_not(None),
            or_(f.c.target_type.is_(None), f.c.target_type != "session"),
            *where,
        )
        .group_by(f.c.project, f.c.name, f.c.span_pk)
    )


@dataclass(frozen=True)
class _Statements:
    """What a write runs, built once per dialect: a rating then binds values instead of building (and
    caching, and re-rendering) its statements anew."""

    of_feedback: Any
    of_spans: Any
    stored: Any
    current: Any
    delete_items: Any
    insert_items: Any
    update_cells: Any
    delete_cells: Any
    locked: Any
    locked_for_update: Any
    create_cells: Any


CELL_KEY = ("project", "name", "day", "cell")


@functools.cache
def _statements(dialect: str) -> _Statements:
    f, c = FEEDBACK, CELLS.c
    stored = select(ITEMS.c.id, ITEMS.c.project, ITEMS.c.name, ITEMS.c.span_pk, ITEMS.c.raters, ITEMS.c.total)
    stored = stored.add_columns(ITEMS.c.nb, c.day, c.cell).join(CELLS, c.id == ITEMS.c.cell_id)
    selected = [c.id, *(c[n] for n in CELL_KEY), *[c[n] for n in SUMS], c.raters]
    locked = rows_of(CELLS, selected, CELL_KEY, "keys", dialect, (False, False, True, False))
    locked = locked.order_by(*(c[n] for n in CELL_KEY))
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    return _Statements(
        of_feedback=select(f.c.project, f.c.name, f.c.span_pk).where(
            one_of(f.c.id, "ids", dialect, integers=True), f.c.span_pk.is_not(None)
        ),
        of_spans=select(ITEMS.c.project, ITEMS.c.name, ITEMS.c.span_pk).where(
            one_of(ITEMS.c.span_pk, "pks", dialect, integers=True)
        ),
        stored=stored.where(one_of(ITEMS.c.span_pk, "pks", dialect, integers=True)),
        current=_items_query([one_of(f.c.span_pk, "pks", dialect, integers=True)]),
        delete_items=ITEMS.delete().where(one_of(ITEMS.c.id, "ids", dialect, integers=True)),
        insert_items=ITEMS.insert(),
        update_cells=CELLS.update().where(c.id == bindparam("c_id")),
        delete_cells=CELLS.delete().where(one_of(c.id, "ids", dialect, integers=True)),
        locked=locked,
        locked_for_update=locked.with_for_update(),
        create_cells=insert(CELLS).on_conflict_do_nothing(index_elements=list(CELL_KEY)),
    )


_DIMS_AT = 7
"""Where an :func:`_items_query` row's copied dimensions start: after project, name, span_pk, raters, total, nb
and start_ns."""


def _cell_of(row: Any, digests: dict[tuple[Any, ...], str]) -> tuple[CellKey, tuple[Any, ...]]:
    """The cell an :func:`_items_query` row adds to, and its dimension values (sliced, not read by name: a
    hundred rows' thirteen dimensions by attribute cost more than the rest of the cell arithmetic)."""
    dims = tuple(row[_DIMS_AT:])
    cell = digests.get(dims)
    if cell is None:
        cell = digests[dims] = digest(dims)
    return (row[0], row[1], int(row[6]) // DAY_NS, cell), dims


class _Cell:
    __slots__ = ("dims", "hist", "sums")

    def __init__(self, dims: tuple[Any, ...] | None) -> None:
        self.dims = dims
        self.sums = [0, 0.0, 0.0, 0, 0]
        self.hist: dict[int, int] = {}

    def add(self, raters: int, total: float, nb: int, sign: int) -> None:
        mean = total / raters
        self.sums[0] += sign
        self.sums[1] += sign * mean
        self.sums[2] += sign * mean * mean
        self.sums[3] += sign * raters
        self.sums[4] += sign * nb
        self.hist[raters] = self.hist.get(raters, 0) + sign


def items_of_feedback(conn: Connection, feedback_ids: Sequence[int]) -> list[Item]:
    """The items these feedback rows count for (rows not credited to a span count for none)."""
    found, sql = [], _statements(conn.dialect.name)
    for start in range(0, len(feedback_ids), CHUNK):
        found += conn.execute(sql.of_feedback, {"ids": list(feedback_ids[start : start + CHUNK])}).all()
    return [tuple(row) for row in found]  # type: ignore[misc]


def items_of_spans(conn: Connection, span_pks: Sequence[int]) -> list[Item]:
    """The stored items of these spans (before their feedback is uncredited)."""
    found, sql = [], _statements(conn.dialect.name)
    for start in range(0, len(span_pks), CHUNK):
        found += conn.execute(sql.of_spans, {"pks": list(span_pks[start : start + CHUNK])}).all()
    return [tuple(row) for row in found]  # type: ignore[misc]


def apply(conn: Connection, changes: Iterable[Item], first: Sequence[tuple[Any, Any]] = ()) -> list[list[Any]]:
    """Recompute these items from their feedback rows and move their cells by the difference.

    Runs in the writer's transaction. On PostgreSQL the items are locked first (advisory locks, sorted), so
    two writers rating one span queue and the second recomputes from what the first committed; the cells
    are then created and locked in sorted order, as the span rollup does. ``first``: the writer's own
    statements (the feedback rows it changes), run before the items are read, in the same round trip on
    PostgreSQL; returns their results (see :func:`prepared.rows_together`)."""
    wanted = sorted(set(changes))
    if not wanted:
        return prepared.rows_together(conn, first) if first else []
    dialect = conn.dialect.name
    sql = _statements(dialect)
    locks: list[tuple[Any, dict[str, Any]]] = []
    if dialect == "postgresql":  # taken before the first reads, in the same round trip
        locks.append((ADVISORY_LOCKS, {"keys": sorted({_lock_key(item) for item in wanted})}))
    wanted_set = set(wanted)
    pks = sorted({item[2] for item in wanted})
    old: dict[Item, Any] = {}
    new: dict[Item, Any] = {}
    results: list[list[Any]] = []
    for start in range(0, len(pks), CHUNK):
        chunk = {"pks": pks[start : start + CHUNK]}
        found = prepared.rows_together(conn, [*first, *locks, (sql.stored, chunk), (sql.current, chunk)])
        if first:  # the first chunk's round trip carried them
            results = found[: len(first)]
        stored, current = found[-2:]
        first, locks = [], []
        for row in stored:  # id, then the item
            if (item := tuple(row[1:4])) in wanted_set:
                old[item] = row
        for row in current:  # the item first
            if (item := tuple(row[:3])) in wanted_set:
                new[item] = row
    cells: dict[CellKey, _Cell] = {}
    digests: dict[tuple[Any, ...], str] = {}
    dropped: list[int] = []
    added: list[tuple[CellKey, Any]] = []
    for item in wanted:
        before, after = old.get(item), new.get(item)
        key = dims = None
        if after is not None:
            key, dims = _cell_of(after, digests)
        if before is not None:
            same_cell = key == (before.project, before.name, before.day, before.cell)
            if same_cell and (before.raters, before.total, before.nb) == (after.raters, float(after.total), after.nb):
                continue
            old_key = (before.project, before.name, before.day, before.cell)
            cells.setdefault(old_key, _Cell(None)).add(before.raters, before.total, before.nb, -1)
            dropped.append(before.id)
        if after is not None and key is not None:
            cell = cells.setdefault(key, _Cell(dims))
            cell.dims = dims
            cell.add(int(after.raters), float(after.total), int(after.nb), 1)
            added.append((key, after))
    if not cells:
        return results
    ids, writes = _apply_cells(conn, dialect, cells)
    for start in range(0, len(dropped), CHUNK):
        writes.append((sql.delete_items, {"ids": dropped[start : start + CHUNK]}))
    if added:
        rows = [
            {
                "project": row.project,
                "name": row.name,
                "span_pk": row.span_pk,
                "cell_id": ids[key],
                "raters": int(row.raters),
                "total": float(row.total),
                "nb": int(row.nb),
            }
            for key, row in added
        ]
        if dialect == "postgresql" and len(rows) > 1:
            writes.append(recordset_insert(ITEMS, rows))
        else:
            writes.append((sql.insert_items, rows))
    prepared.run_together(conn, writes)  # PostgreSQL: the cells' changes and the items, one round trip
    return results


def _lock_key(item: Item) -> int:
    raw = hashlib.blake2b(repr(("score_rollup", *item)).encode(), digest_size=8).digest()
    return int.from_bytes(raw, "big", signed=True)


def _apply_cells(
    conn: Connection, dialect: str, cells: dict[CellKey, _Cell]
) -> tuple[dict[CellKey, int], list[tuple[Any, Any]]]:
    """The stored cells' row ids (created as needed, locked on PostgreSQL), and the writes that add the cells'
    changes to them and drop the emptied ones, for the caller to run with its own."""
    keyed = sorted(cells)
    creatable = [key for key in keyed if cells[key].dims is not None]
    if dialect == "postgresql":  # created where missing and locked, in one round trip
        stored = _locked(conn, keyed, for_update=True, create=_blank(creatable, cells))
    else:  # one writer at a time: look first, and create only what a new day or combination needs
        stored = _locked(conn, keyed)
        missing = [key for key in creatable if key not in stored]
        if missing:
            prepared.run(conn, _statements(dialect).create_cells, _blank(missing, cells))
            stored.update(_locked(conn, missing))
    updates, emptied = [], []
    for key in keyed:
        if key not in stored:  # an item whose cell is gone: nothing left to subtract from
            continue
        row, change = stored[key], cells[key]
        sums = [getattr(row, name) + change.sums[i] for i, name in enumerate(SUMS)]
        if sums[0] <= 0:
            emptied.append(row.id)
            continue
        hist = _load(row.raters)
        for raters, n in change.hist.items():
            left = hist.get(raters, 0) + n
            if left > 0:
                hist[raters] = left
            else:
                hist.pop(raters, None)
        updates.append(
            {
                "c_id": row.id,
                **dict(zip(SUMS, sums, strict=True)),
                "top_raters": max(hist, default=0),
                "raters": _dump(hist),
            }
        )
    sql = _statements(dialect)
    writes: list[tuple[Any, Any]] = [(sql.update_cells, updates)]
    writes += [(sql.delete_cells, {"ids": emptied[start : start + CHUNK]}) for start in range(0, len(emptied), CHUNK)]
    return {key: row.id for key, row in stored.items()}, writes


def _blank(keys: list[CellKey], cells: dict[CellKey, _Cell]) -> list[dict[str, Any]]:
    """New cells' rows, all sums zero: the changes are added to them as to any stored cell."""
    zero = {**dict.fromkeys(SUMS, 0), "top_raters": 0, "raters": "[]"}
    return [
        {
            "project": k[0],
            "name": k[1],
            "day": k[2],
            "cell": k[3],
            **dict(zip(CELL_DIMS, cells[k].dims or (), strict=True)),
            **zero,
        }
        for k in keys
    ]


def _locked(
    conn: Connection, keys: list[CellKey], *, for_update: bool = False, create: list[dict[str, Any]] | None = None
) -> dict[CellKey, Any]:
    """The stored rows of ``keys`` (sorted), in that order; ``for_update`` locks them (PostgreSQL writers).
    ``create``: blank cells inserted first where missing, in the same round trip as the first read."""
    stored: dict[CellKey, Any] = {}
    dialect = conn.dialect.name
    sql = _statements(dialect)
    query = sql.locked_for_update if for_update else sql.locked
    first: list[tuple[Any, Any]] = [(sql.create_cells, create)] if create else []
    for start in range(0, len(keys), CHUNK):
        read = (query, rows_value("keys", keys[start : start + CHUNK], len(CELL_KEY), dialect))
        *_, found = prepared.rows_together(conn, [*first, read])
        first = []
        for row in found:
            stored[(row.project, row.name, row.day, row.cell)] = row
    return stored


def _dump(hist: dict[int, int]) -> str:
    return json.dumps([x for item in sorted(hist.items()) for x in item], separators=(",", ":"))


def _load(text_: str) -> dict[int, int]:
    flat = json.loads(text_)
    return dict(zip(flat[::2], flat[1::2], strict=True))


def rebuild(conn: Connection, dialect: str, project: str | None = None, *, slots: bool = True) -> int:
    """Recompute the items and cells (of one project, or all) from the feedback rows; returns the cells.
    ``slots=False``: a migration before the declared-attribute slots existed."""
    width = len(CELL_DIMS) if slots else len(CELL_DIMS) - len(SLOTS)
    cell_dims, copy_dims = CELL_DIMS[:width], COPY_DIMS[:width]
    conn.execute(ITEMS.delete().where(*([ITEMS.c.project == project] if project is not None else [])))
    conn.execute(CELLS.delete().where(*([CELLS.c.project == project] if project is not None else [])))
    cells: dict[CellKey, _Cell] = {}
    digests: dict[tuple[Any, ...], str] = {}
    items: list[tuple[CellKey, Any]] = []
    query = _items_query([FEEDBACK.c.project == project] if project is not None else [], copy_dims)
    for row in conn.execute(query):
        key, dims = _cell_of(row, digests)
        cell = cells.get(key)
        if cell is None:
            cell = cells[key] = _Cell(dims)
        cell.add(int(row.raters), float(row.total), int(row.nb), 1)
        items.append((key, (row.project, row.name, row.span_pk, int(row.raters), float(row.total), int(row.nb))))
    rows = [
        {
            "project": k[0],
            "name": k[1],
            "day": k[2],
            "cell": k[3],
            **dict(zip(cell_dims, cell.dims or (), strict=True)),
            **dict(zip(SUMS, cell.sums, strict=True)),
            "top_raters": max(cell.hist, default=0),
            "raters": _dump(cell.hist),
        }
        for k, cell in cells.items()
    ]
    for start in range(0, len(rows), 2000):
        conn.execute(CELLS.insert(), rows[start : start + 2000])
    ids = {key: row.id for key, row in _locked(conn, sorted(cells)).items()}
    columns = ("project", "name", "span_pk", "cell_id", "raters", "total", "nb")
    for start in range(0, len(items), 5000):
        batch = [dict(zip(columns, (*v[:3], ids[k], *v[3:]), strict=True)) for k, v in items[start : start + 5000]]
        conn.execute(ITEMS.insert(), batch)
    return len(rows)
