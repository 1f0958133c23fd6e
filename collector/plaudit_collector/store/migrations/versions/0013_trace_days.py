"""trace_days: the UTC days each trace's spans start on, so a read by trace id names its day partitions

On PostgreSQL a lookup of spans by trace id names no time, so it planned and probed every day partition. The
new table holds one row per (project, trace, day) with spans; readers look the days up first and bound
``start_ns`` by them. The rows of the spans already stored are filled in here. SQLite gets the table and
leaves it empty: its spans are one table, read with one index probe.

Revision ID: 0013_trace_days
Revises: '0012_attr_dimensions'
Create Date: 2026-11-28 16:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from plaudit_collector.store import trace_days

revision: str = "0013_trace_days"
down_revision: str | Sequence[str] | None = "0012_attr_dimensions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "trace_days",
        sa.Column("project", sa.String(length=100), nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Integer(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("project", "trace_id", "day"),
    )
    op.create_index("ix_trace_days_day", "trace_days", ["day"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(trace_days.BACKFILL)
        op.execute("ANALYZE trace_days")


def downgrade() -> None:
    op.drop_index("ix_trace_days_day", table_name="trace_days")
    op.drop_table("trace_days")
