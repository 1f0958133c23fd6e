"""Keeping the span rollup (``span_rollup``) in step with the spans table.

Every stored span adds to one cell: its project, UTC day and the values of the low-cardinality dimensions
in :data:`DIMS`. A cell holds the span count, errors, token and cost sums, and a latency histogram in log
buckets 2% wide (a flat JSON array of bucket, count pairs). The leaderboard reads a few thousand cells
instead of sorting a million spans. Ingest adds the spans it actually stored (a re-sent span adds
nothing), retention subtracts what it deletes, and :func:`rebuild` recomputes everything from the spans
(migrations, bulk loads).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import bindparam, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from plaudit_collector.store import prepared
from plaudit_collector.store.tables import Span, SpanRollup
from plaudit_collector.store.value_lists import rows_of, rows_value

SPAN = Span.__table__  # type: ignore[attr-defined]
ROLLUP = SpanRollup.__table__  # type: ignore[attr-defined]

BASE_DIMS = (
    "name",
    "span_kind",
    "service_name",
    "model",
    "provider",
    "prompt_name",
    "prompt_version",
    "config_hash",
    "variant",
)
"""Span columns a cell is keyed by: the dimensions whose values are few (not users, sessions, attributes)."""
SLOTS = ("dim_1", "dim_2", "dim_3")
"""Span columns holding the values of the attributes a project declared (``store/dimensions.py``)."""
DIMS = (*BASE_DIMS, *SLOTS)

DAY_NS = 86_400 * 10**9
LATENCY_BUCKETS_PER_E = 50
"""Durations are counted in log buckets 2% wide: a percentile read from them is within ±1%."""
MIN_DURATION_MS = 0.001
COUNTS = ("spans", "errors", "in_sum", "in_n", "out_sum", "out_n", "cost_sum", "cost_n")
CHUNK = 400

Key = tuple[Any, ...]  # (project, day, *DIMS values)


def latency_bucket(duration_ms: float) -> int:
    return math.floor(math.log(max(duration_ms, MIN_DURATION_MS)) * LATENCY_BUCKETS_PER_E)


def bucket_value(bucket: int) -> float:
    """The middle of a bucket, in milliseconds."""
    return math.exp((bucket + 0.5) / LATENCY_BUCKETS_PER_E)


def digest(values: Sequence[Any]) -> str:
    """A fixed-width key for a combination of values, NULLs included (a unique index treats NULLs as
    distinct, so the values themselves cannot be the conflict target). Empty declared-attribute slots at
    the end are left out, so a cell of a project that declares none keeps the digest it had before slots."""
    listed = list(values)
    while len(listed) > len(BASE_DIMS) and listed[-1] is None:
        listed.pop()
    return hashlib.sha1(json.dumps(listed, separators=(",", ":")).encode()).hexdigest()


def _new_cell() -> list[Any]:
    """A cell's sums in ``COUNTS`` order, then its latency histogram ``{bucket: count}``."""
    return [0, 0, 0, 0, 0, 0, 0.0, 0, {}]


class Deltas:
    """Changes to cells, collected in Python and applied in one pass (a few statements per batch)."""

    def __init__(self) -> None:
        self.cells: dict[Key, list[Any]] = {}

    def add(
        self,
        project: str,
        start_ns: int,
        dims: Sequence[Any],
        duration_ms: float,
        status_code: str,
        input_tokens: int | None,
        output_tokens: int | None,
        cost: float | None,
        sign: int = 1,
    ) -> None:
        key = (project, start_ns // DAY_NS, *dims)
        cell = self.cells.get(key)
        if cell is None:
            cell = self.cells[key] = _new_cell()
        cell[0] += sign
        if status_code == "ERROR":
            cell[1] += sign
        if input_tokens is not None:
            cell[2] += sign * input_tokens
            cell[3] += sign
        if output_tokens is not None:
            cell[4] += sign * output_tokens
            cell[5] += sign
        if cost is not None:
            cell[6] += sign * cost
            cell[7] += sign
        hist = cell[8]
        bucket = latency_bucket(duration_ms)
        hist[bucket] = hist.get(bucket, 0) + sign

    def apply(self, conn: Connection, dialect: str) -> None:
        """Add the collected changes to the stored cells (creating and dropping cells as needed).

        Runs inside the caller's write transaction: on SQLite it already holds the write lock; on
        PostgreSQL the cells are locked in sorted order, so concurrent collectors queue rather than
        overwrite each other's counts."""
        if not self.cells:
            return
        keyed = sorted(((key[0], key[1], digest(key[2:])), key) for key in self.cells)
        if dialect == "postgresql":
            # Create any missing cell, then lock them all, both in sorted order: a writer that has created
            # a cell another one needs is never waiting for that other one, so writers cannot deadlock.
            _create(conn, dialect, keyed)
            stored = _locked(conn, dialect, [c for c, _ in keyed])
        else:  # one writer at a time: look first, and create only what a new day or combination needs
            stored = _locked(conn, dialect, [c for c, _ in keyed])
            missing = [(c, key) for c, key in keyed if c not in stored]
            if missing:
                _create(conn, dialect, missing)
                stored.update(_locked(conn, dialect, [c for c, _ in missing]))
        updates, emptied = [], []
        for c, key in keyed:
            row, change = stored[c], self.cells[key]
            counts = [getattr(row, name) + change[i] for i, name in enumerate(COUNTS)]
            if counts[0] <= 0:
                emptied.append(row.id)
                continue
            hist = load_histogram(row.latency)
            for bucket, n in change[8].items():
                left = hist.get(bucket, 0) + n
                if left > 0:
                    hist[bucket] = left
                else:
                    hist.pop(bucket, None)
            updates.append(
                {"b_id": row.id, "b_day": row.day, **dict(zip(COUNTS, counts, strict=True)), "latency": _dump(hist)}
            )
        if updates:  # the day lets PostgreSQL go straight to the day's partition
            where = (ROLLUP.c.id == bindparam("b_id"), ROLLUP.c.day == bindparam("b_day"))
            conn.execute(ROLLUP.update().where(*where), updates)
        for start in range(0, len(emptied), CHUNK):
            conn.execute(ROLLUP.delete().where(ROLLUP.c.id.in_(emptied[start : start + CHUNK])))


def _create(conn: Connection, dialect: str, keyed: list[tuple[tuple[str, int, str], Key]]) -> None:
    zero = {**dict.fromkeys(COUNTS, 0), "latency": "[]"}
    blank = [
        {"project": c[0], "day": c[1], "cell": c[2], **dict(zip(DIMS, key[2:], strict=True)), **zero}
        for c, key in keyed
    ]
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    conn.execute(insert(ROLLUP).on_conflict_do_nothing(index_elements=["project", "day", "cell"]), blank)


def _locked(conn: Connection, dialect: str, cells: list[tuple[str, int, str]]) -> dict[tuple[str, int, str], Any]:
    """The stored rows of ``cells`` (sorted), locked for update on PostgreSQL in that order.

    PostgreSQL reads them by a list written into the statement, whose days prune the day partitions; SQLite
    by the cells' unique index, one probe per cell (the same list was planned as a scan of every cell)."""
    stored: dict[tuple[str, int, str], Any] = {}
    for start in range(0, len(cells), CHUNK):
        chunk = cells[start : start + CHUNK]
        if dialect == "postgresql":
            query = _selected().where(tuple_(ROLLUP.c.project, ROLLUP.c.day, ROLLUP.c.cell).in_(chunk))
            found: Iterable[Any] = conn.execute(query.order_by(*_KEY).with_for_update())
        else:
            found = prepared.rows(conn, _by_keys(dialect), rows_value("keys", chunk, len(_KEY), dialect))
        for row in found:
            stored[(row.project, row.day, row.cell)] = row
    return stored


_KEY = (ROLLUP.c.project, ROLLUP.c.day, ROLLUP.c.cell)


def _selected() -> Any:
    return select(ROLLUP.c.id, *_KEY, *[ROLLUP.c[n] for n in COUNTS]).add_columns(ROLLUP.c.latency)


@functools.cache
def _by_keys(dialect: str) -> Any:
    """Built once: the cells bound as a list of keys (see ``value_lists.rows_of``)."""
    selected = _selected().selected_columns
    keys = [column.name for column in _KEY]
    return rows_of(ROLLUP, selected, keys, "keys", dialect, (False, True, False)).order_by(*_KEY)


def _dump(hist: dict[int, int]) -> str:
    """A histogram as a flat JSON array ``[bucket, count, bucket, count, ...]``, buckets ascending: the
    arrays of many cells concatenate into one (see ``analytics.health``) and parse in one call."""
    return json.dumps([x for item in sorted(hist.items()) for x in item], separators=(",", ":"))


def load_histogram(text: str) -> dict[int, int]:
    flat = json.loads(text)
    return dict(zip(flat[::2], flat[1::2], strict=True))


def add_rows(deltas: Deltas, rows: Iterable[Any], sign: int = 1) -> None:
    """Add span rows (mappings or rows with the span column names) to ``deltas``."""
    for row in rows:
        deltas.add(
            row.project,
            row.start_ns,
            [getattr(row, name) for name in DIMS],
            row.duration_ms,
            row.status_code,
            row.input_tokens,
            row.output_tokens,
            row.cost,
            sign,
        )


ROW_COLUMNS = ("project", "start_ns", *DIMS, "duration_ms", "status_code", "input_tokens", "output_tokens", "cost")
"""Span columns :func:`add_rows` reads."""


def rebuild(conn: Connection, dialect: str, project: str | None = None, *, dims: Sequence[str] = DIMS) -> int:
    """Recompute the cells (of one project, or all) from the spans table; returns the number of cells.
    A migration passes the ``dims`` its revision has (the slots came later)."""
    s = SPAN
    where = [s.c.project == project] if project is not None else []
    conn.execute(ROLLUP.delete().where(*([ROLLUP.c.project == project] if project is not None else [])))
    floor_of = func.greatest if dialect == "postgresql" else func.max
    bucket = func.floor(func.ln(floor_of(s.c.duration_ms, MIN_DURATION_MS)) * LATENCY_BUCKETS_PER_E).label("b")
    day = (s.c.start_ns // DAY_NS).label("day")
    keys = [s.c.project, day, *[s.c[n] for n in dims], bucket]
    query = select(
        *keys,
        func.count().label("spans"),
        func.count().filter(s.c.status_code == "ERROR").label("errors"),
        func.coalesce(func.sum(s.c.input_tokens), 0).label("in_sum"),
        func.count(s.c.input_tokens).label("in_n"),
        func.coalesce(func.sum(s.c.output_tokens), 0).label("out_sum"),
        func.count(s.c.output_tokens).label("out_n"),
        func.coalesce(func.sum(s.c.cost), 0.0).label("cost_sum"),
        func.count(s.c.cost).label("cost_n"),
    ).where(*where)
    cells: dict[Key, list[Any]] = {}
    for row in conn.execute(query.group_by(*keys)):
        key = (row.project, int(row.day), *[getattr(row, n) for n in dims])
        cell = cells.get(key)
        if cell is None:
            cell = cells[key] = _new_cell()
        for i, name in enumerate(COUNTS):
            cell[i] += getattr(row, name)
        cell[8][int(row.b)] = int(row.spans)
    rows = [
        {
            "project": key[0],
            "day": key[1],
            "cell": digest(key[2:]),
            **dict(zip(dims, key[2:], strict=True)),
            **dict(zip(COUNTS, cell[:8], strict=True)),
            "latency": _dump(cell[8]),
        }
        for key, cell in cells.items()
    ]
    for start in range(0, len(rows), 2000):
        conn.execute(ROLLUP.insert(), rows[start : start + 2000])
    return len(rows)
