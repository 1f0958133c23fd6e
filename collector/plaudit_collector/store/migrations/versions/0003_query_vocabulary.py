"""score direction, estimated cost, trace search

Score configs get ``higher_is_better`` (true for existing ones); spans get ``cost_estimated`` (false: every
stored cost came from its producer), partial indexes on root spans and error spans for trace search, and the full-text
index over input and output (SQLite FTS5 kept by triggers, PostgreSQL GIN on a tsvector), filled from
the spans already stored.

Revision ID: 0003_query_vocabulary
Revises: '0002_span_copies_rollup'
Create Date: 2026-11-30 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from plaudit_collector.store import search_index

revision: str = "0003_query_vocabulary"
down_revision: str | Sequence[str] | None = "0002_span_copies_rollup"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ROOT = sa.text("parent_span_id IS NULL")
_ERROR = sa.text("status_code = 'ERROR'")


def upgrade() -> None:
    with op.batch_alter_table("score_configs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("higher_is_better", sa.Boolean(), server_default=sa.true(), nullable=False))
    with op.batch_alter_table("spans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cost_estimated", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_index(
        "ix_spans_project_roots",
        "spans",
        ["project", "start_ns", "id"],
        unique=False,
        sqlite_where=_ROOT,
        postgresql_where=_ROOT,
    )
    op.create_index(
        "ix_spans_project_errors",
        "spans",
        ["project", "trace_id"],
        unique=False,
        sqlite_where=_ERROR,
        postgresql_where=_ERROR,
    )
    bind = op.get_bind()
    search_index.create(bind, bind.dialect.name, backfill=True)


def downgrade() -> None:
    bind = op.get_bind()
    search_index.drop(bind, bind.dialect.name)
    op.drop_index("ix_spans_project_errors", table_name="spans")
    op.drop_index("ix_spans_project_roots", table_name="spans")
    with op.batch_alter_table("spans", schema=None) as batch_op:
        batch_op.drop_column("cost_estimated")
    with op.batch_alter_table("score_configs", schema=None) as batch_op:
        batch_op.drop_column("higher_is_better")
