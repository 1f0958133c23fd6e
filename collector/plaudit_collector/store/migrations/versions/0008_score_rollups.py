"""score aggregates: span_scores (per rated span and score) and score_rollup (per day and dimensions)

Backfilled from the feedback rows; writes keep them up to date from here on.

Revision ID: 0008_score_rollups
Revises: '0007_experiment_direction'
Create Date: 2026-11-28 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008_score_rollups"
down_revision: str | Sequence[str] | None = "0007_experiment_direction"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TEXT = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "score_rollup",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project", _TEXT(length=100), nullable=False),
        sa.Column("name", _TEXT(length=200), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("cell", _TEXT(length=40), nullable=False),
        sa.Column("span_name", sa.Text(), nullable=True),
        sa.Column("span_kind", _TEXT(length=32), nullable=True),
        sa.Column("service_name", _TEXT(length=200), nullable=True),
        sa.Column("model", _TEXT(length=200), nullable=True),
        sa.Column("provider", _TEXT(length=100), nullable=True),
        sa.Column("prompt_name", _TEXT(length=200), nullable=True),
        sa.Column("prompt_version", _TEXT(length=100), nullable=True),
        sa.Column("config_hash", _TEXT(length=64), nullable=True),
        sa.Column("variant", _TEXT(length=200), nullable=True),
        sa.Column("items", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("total_sq", sa.Float(), nullable=False),
        sa.Column("ratings", sa.BigInteger(), nullable=False),
        sa.Column("nb_items", sa.BigInteger(), nullable=False),
        sa.Column("top_raters", sa.Integer(), nullable=False),
        sa.Column("raters", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project", "name", "day", "cell", name="uq_score_rollup_cell"),
    )
    with op.batch_alter_table("score_rollup", schema=None) as batch_op:
        batch_op.create_index("ix_score_rollup_project_name_day", ["project", "name", "day"], unique=False)
    op.create_table(
        "span_scores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project", _TEXT(length=100), nullable=False),
        sa.Column("name", _TEXT(length=200), nullable=False),
        sa.Column("span_pk", sa.Integer(), nullable=False),
        sa.Column("cell_id", sa.Integer(), nullable=False),
        sa.Column("raters", sa.Integer(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("nb", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project", "name", "span_pk", name="uq_span_scores_item"),
    )
    with op.batch_alter_table("span_scores", schema=None) as batch_op:
        batch_op.create_index("ix_span_scores_span", ["span_pk"], unique=False)
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.create_index("ix_feedback_span_pk", ["span_pk"], unique=False)
        batch_op.create_index("ix_feedback_kinds", ["project", "name", "is_current", "kind"], unique=False)

    bind = op.get_bind()
    # Backfill with the collector's own code (the tables as this revision leaves them).
    from plaudit_collector.store import score_rollup

    score_rollup.rebuild(bind, bind.dialect.name, slots=False)


def downgrade() -> None:
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_index("ix_feedback_kinds")
        batch_op.drop_index("ix_feedback_span_pk")
    with op.batch_alter_table("span_scores", schema=None) as batch_op:
        batch_op.drop_index("ix_span_scores_span")
    op.drop_table("span_scores")
    with op.batch_alter_table("score_rollup", schema=None) as batch_op:
        batch_op.drop_index("ix_score_rollup_project_name_day")
    op.drop_table("score_rollup")
