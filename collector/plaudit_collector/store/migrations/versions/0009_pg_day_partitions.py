"""PostgreSQL: spans and span_rollup partitioned by UTC day (SQLite: nothing changes)

Each table is rebuilt as a partitioned table (``PARTITION BY RANGE`` on ``start_ns`` and ``day``) with one
partition per day its rows fall on; the rows are copied over in chunks (reported as they go), the old table
dropped, then the indexes rebuilt on the new one. A partitioned table's primary key and unique constraints
must contain the partition key, so the primary keys become ``(id, start_ns)`` and ``(id, day)`` and the
span's uniqueness ``(project, trace_id, span_id, start_ns)``: a re-sent span (same ids, same start) is
still stored once. The id sequences carry on where they were.

Revision ID: 0009_pg_day_partitions
Revises: '0008_score_rollups'
Create Date: 2026-11-28 12:00:00.000000
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import context, op

from plaudit_collector.store import partitions
from plaudit_collector.store.progress import silent

revision: str = "0009_pg_day_partitions"
down_revision: str | Sequence[str] | None = "0008_score_rollups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHUNK = 20_000
_DAY_OF = {
    "spans": f"floor(start_ns::numeric / {partitions.DAY_NS})::bigint",
    "span_rollup": "day",
}


def _report() -> Any:
    return context.config.attributes.get("progress", silent)


def _shape(conn: Any, table: str) -> tuple[list[str], list[tuple[str, str, list[str]]]]:
    """The table's plain indexes (their CREATE statements) and its primary key and unique constraints."""
    constraints = []
    for name, kind, columns in conn.execute(
        sa.text(
            "SELECT c.conname, c.contype, array_agg(a.attname ORDER BY k.n) FROM pg_constraint c "
            "CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, n) "
            "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum "
            "WHERE c.conrelid = to_regclass(:t) AND c.contype IN ('p', 'u') GROUP BY c.conname, c.contype"
        ),
        {"t": table},
    ):
        constraints.append((name, kind, list(columns)))
    indexes = [
        row[0]
        for row in conn.execute(
            sa.text(
                "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i WHERE i.indrelid = to_regclass(:t) "
                "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)"
            ),
            {"t": table},
        )
    ]
    return indexes, constraints


def _rebuild(conn: Any, *, partitioned: bool) -> None:
    """Move both tables' rows into new tables, partitioned by day or (downgrade) not."""
    report = _report()
    shapes = {table: _shape(conn, table) for table in partitions.PARTITIONED}
    for table, key in partitions.PARTITIONED.items():
        sequence = conn.execute(sa.text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table}).scalar()
        conn.execute(sa.text(f"ALTER TABLE {table} RENAME TO {table}_old"))
        tail = f" PARTITION BY RANGE ({key})" if partitioned else ""
        conn.execute(sa.text(f"CREATE TABLE {table} (LIKE {table}_old INCLUDING DEFAULTS INCLUDING GENERATED){tail}"))
        if sequence:
            conn.execute(sa.text(f"ALTER SEQUENCE {sequence} OWNED BY {table}.id"))
    if partitioned:
        day_rows = conn.execute(
            sa.text(" UNION ".join(f"SELECT DISTINCT {_DAY_OF[t]} FROM {t}_old" for t in partitions.PARTITIONED))
        )
        partitions.create(conn, [int(row[0]) for row in day_rows])
    for table in partitions.PARTITIONED:
        _copy(conn, table, report)
        conn.execute(sa.text(f"DROP TABLE {table}_old"))
        indexes, constraints = shapes[table]
        key = partitions.PARTITIONED[table]
        for name, kind, columns in constraints:
            if partitioned and key not in columns:
                columns = [*columns, key]
            elif not partitioned and kind == "p":
                columns = [c for c in columns if c != key] or columns
            elif not partitioned and kind == "u" and table == "spans":
                columns = [c for c in columns if c != key]
            constraint = "PRIMARY KEY" if kind == "p" else "UNIQUE"
            conn.execute(sa.text(f"ALTER TABLE {table} ADD CONSTRAINT {name} {constraint} ({', '.join(columns)})"))
        for i, statement in enumerate(indexes):
            report(f"indexing {table}", i, len(indexes))
            conn.execute(sa.text(statement))
        report(f"indexing {table}", len(indexes), len(indexes))
        conn.execute(sa.text(f"ANALYZE {table}"))


def _copy(conn: Any, table: str, report: Any) -> None:
    """Copy the rows in chunks of ids (the old primary key), saying how far it is after each."""
    total = conn.execute(sa.text(f"SELECT count(*) FROM {table}_old")).scalar() or 0
    task = f"copying {table}"
    report(task, 0, total)
    done, after = 0, None
    while done < total:
        where = "" if after is None else "WHERE id > :after"
        high = conn.execute(
            sa.text(f"SELECT max(id) FROM (SELECT id FROM {table}_old {where} ORDER BY id LIMIT {CHUNK}) AS chunk"),
            {"after": after},
        ).scalar()
        if high is None:
            break
        low = "" if after is None else "id > :after AND "
        moved = conn.execute(
            sa.text(f"INSERT INTO {table} SELECT * FROM {table}_old WHERE {low}id <= :high"),
            {"after": after, "high": high},
        ).rowcount
        done, after = done + (moved or 0), high
        report(task, min(done, total), total)
    report(task, total, total)


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql" or partitions.is_partitioned(conn):
        return
    _rebuild(conn, partitioned=True)


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql" or not partitions.is_partitioned(conn):
        return
    _rebuild(conn, partitioned=False)
