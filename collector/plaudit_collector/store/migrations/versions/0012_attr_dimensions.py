"""declared attribute dimensions: three value slots on spans, their feedback copies and both rollups

A project may declare up to three span attribute keys it analyses (``plaudit projects set NAME
--dimension plan``). Each declared key has a slot: ingest writes the attribute's value as text into
``spans.dim_N``, feedback copies it (``span_dim_N``), and the span and score rollup cells are keyed by it,
so grouping or filtering by ``attr.plan`` reads cells instead of every span's attributes. Existing rows
need nothing: no project has declared a key yet, and a cell whose slots are all empty keeps its digest.

Revision ID: 0012_attr_dimensions
Revises: '0011_workspace_indexes'
Create Date: 2026-11-28 16:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_attr_dimensions"
down_revision: str | Sequence[str] | None = "0011_workspace_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SLOTS = ("dim_1", "dim_2", "dim_3")
TABLES = {"spans": "", "span_rollup": "", "score_rollup": "", "feedback": "span_"}


def upgrade() -> None:
    for table, prefix in TABLES.items():
        for slot in SLOTS:
            op.add_column(table, sa.Column(prefix + slot, sa.String(length=200), nullable=True))
    op.add_column("projects", sa.Column("dimensions", sa.Text(), nullable=False, server_default="[]"))
    op.add_column("projects", sa.Column("dimensions_ready", sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    op.drop_column("projects", "dimensions_ready")
    op.drop_column("projects", "dimensions")
    for table, prefix in TABLES.items():
        for slot in SLOTS:
            op.drop_column(table, prefix + slot)
