"""The statements a feedback write runs, built once per database dialect: a request binds its values into
them instead of building (and keying, and re-rendering) new ones."""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, insert, select, text, update

from plaudit_collector.store import prepared
from plaudit_collector.store.tables import Feedback
from plaudit_collector.store.value_lists import one_of, recordset_insert

FEEDBACK_TABLE = Feedback.__table__  # type: ignore[attr-defined]
TARGET_COLUMNS = ("trace_id", "span_id", "session_id", "other_trace_id", "other_span_id")
ROW_COLUMNS = (
    "id",
    "target_type",
    *TARGET_COLUMNS,
    "name",
    "kind",
    "value",
    "score",
    "label",
    "comment",
    "correction",
    "source",
    "author",
    "metadata",
    "idempotency_key",
    "is_current",
    "created_at",
    "deleted_at",
    "span_pk",
)
"""The columns of a stored row that a write hands back: its JSON form (``feedback_reads.feedback_dict``) and the
span it credits. The table's other columns are the project and the credited span's copies, which no caller reads.
A retried key reads them back (``by_keys``); a new row is made from the values it was inserted with and its id
(see :func:`inserting`)."""

STORED_ROW = prepared.row_type(ROW_COLUMNS)
"""The row type of both: named tuples with ``_mapping``, like the rows :func:`prepared.rows` reads."""
_GIVEN_VALUES = operator.itemgetter(*ROW_COLUMNS[1:])
"""The values of the columns a new row takes from those it was inserted with: all but the id."""

PLANNED_ONCE = text("SET LOCAL plan_cache_mode = force_generic_plan")
"""PostgreSQL, first in a write's transaction: each statement the driver has prepared (once a connection has run
it a few times) keeps one plan instead of being planned again for each request's values. They are all lookups by
key, which a plan made without the values serves as well, where planning a batch's statements for their values
cost about a sixth of the server's time and read a young table whole instead of probing its keys' index. Ends
with the transaction."""


@dataclass(frozen=True)
class Statements:
    by_keys: Any
    """The :data:`ROW_COLUMNS` of rows with one of ``keys`` as idempotency key (``project``, ``keys``)."""
    current_by_span: Any
    """Current rows of ``names`` by ``authors`` on spans ``targets`` of ``traces``, oldest first."""
    current_by_spans_of_traces: Any
    """The same, for spans of several traces: each trace's index entries read once (PostgreSQL)."""
    current_by_trace: Any
    """The same for trace targets (``targets`` are trace ids)."""
    current_by_session: Any
    """The same for session targets (``targets`` are session ids)."""
    retire: Any
    """Mark rows ``ids`` as no longer current."""
    insert: Any
    """Insert one row, returning its id."""
    insert_plain: Any
    """Insert rows, returning nothing (SQLite batches: see :func:`inserting`)."""
    ids_by_keys: Any
    """The ids and idempotency keys of rows with one of ``keys`` (``project``, ``keys``)."""


@functools.cache
def statements(dialect: str) -> Statements:
    t = FEEDBACK_TABLE
    row = [t.c[name] for name in ROW_COLUMNS]
    columns = [t.c.id, t.c.target_type, *(t.c[key] for key in TARGET_COLUMNS), t.c.name]
    columns += [t.c.author, t.c.kind, t.c.value, t.c.comment, t.c.correction, t.c.span_pk]
    current = (t.c.project == bindparam("project"), t.c.is_current.is_(True), one_of(t.c.author, "authors", dialect))
    # ``name || ''`` keeps SQLite off the (project, name, is_current) index, which would read every current
    # row of the score, and on the target index, which reads the rows of these spans or traces only.
    name = one_of(t.c.name.concat(""), "names", dialect)
    by_span = (name, one_of(t.c.trace_id, "traces", dialect), one_of(t.c.span_id, "targets", dialect))
    # PostgreSQL, spans of several traces: ``span_id || ''`` keeps the span ids out of the index condition. With
    # both lists in it, the target index is probed for every trace and span combination: 1,000 probes for a
    # batch rating 100 spans of 10 traces (1.4 ms at 500,000 ratings), against 10 probes and a filter (0.17 ms).
    # A join on (trace, span) pairs was as quick with current statistics, but read every rating once per pair
    # while they were stale.
    span = t.c.span_id.concat("") if dialect == "postgresql" else t.c.span_id
    by_traces = (name, one_of(t.c.trace_id, "traces", dialect), one_of(span, "targets", dialect))
    by_trace = (name, one_of(t.c.trace_id, "targets", dialect), t.c.span_id.is_(None))
    by_session = (
        one_of(t.c.name, "names", dialect),
        t.c.trace_id.is_(None),
        one_of(t.c.session_id, "targets", dialect),
    )
    return Statements(
        by_keys=select(*row).where(t.c.project == bindparam("project"), one_of(t.c.idempotency_key, "keys", dialect)),
        current_by_span=select(*columns).where(*current, *by_span).order_by(t.c.id),
        current_by_spans_of_traces=select(*columns).where(*current, *by_traces).order_by(t.c.id),
        current_by_trace=select(*columns).where(*current, *by_trace).order_by(t.c.id),
        current_by_session=select(*columns).where(*current, *by_session).order_by(t.c.id),
        retire=update(t).where(one_of(t.c.id, "ids", dialect, integers=True)).values(is_current=False),
        insert=insert(t).returning(t.c.id),
        insert_plain=insert(t),
        ids_by_keys=select(t.c.id, t.c.idempotency_key).where(
            t.c.project == bindparam("project"), one_of(t.c.idempotency_key, "keys", dialect)
        ),
    )


def inserting(dialect: str, project: str, rows: list[dict[str, Any]]) -> list[tuple[Any, Any]]:
    """The statements that insert feedback rows (each with its own idempotency key), for the caller to run with
    its own (see :func:`prepared.rows_together`); :func:`stored_rows` reads their results.

    Only the ids are read back: every other column holds the value it was given, and reading 22 columns of a
    hundred rows back (the JSON ones parsed again) cost a PostgreSQL batch a tenth of its CPU. On PostgreSQL a
    batch is one ``INSERT ... SELECT FROM jsonb_array_elements`` (see :func:`value_lists.insert_many`): SQLAlchemy's
    multi-row ``INSERT ... RETURNING`` has a placeholder per value, and psycopg parses that long statement anew on
    every request, which took longer than storing the rows. On SQLite a batch is an executemany and one read of
    the ids by key (each row has its own key, and one writer runs at a time)."""
    sql = statements(dialect)
    if len(rows) == 1:
        return [(sql.insert, rows[0])]
    if dialect == "postgresql":
        return [recordset_insert(FEEDBACK_TABLE, rows, returning=("id", "idempotency_key"))]
    # returning in parameter order, SQLAlchemy runs a statement per row; sqlite3's executemany is one call
    keys = [row["idempotency_key"] for row in rows]
    return [(sql.insert_plain, rows), (sql.ids_by_keys, {"project": project, "keys": keys})]


def stored_rows(rows: list[dict[str, Any]], results: list[list[Any]]) -> list[Any]:
    """The rows :func:`inserting`'s statements stored (:data:`STORED_ROW`, in the order of ``rows``), from those
    statements' results."""
    if len(rows) == 1:
        ids = [results[0][0][0]]
    else:
        by_key = {key: row_id for row_id, key in results[-1]}
        ids = [by_key[row["idempotency_key"]] for row in rows]
    make, given = STORED_ROW._make, _GIVEN_VALUES
    return [make((row_id, *given(row))) for row_id, row in zip(ids, rows, strict=True)]
