"""feedback: drop ix_feedback_project_name, a prefix of ix_feedback_kinds

``ix_feedback_kinds`` (project, name, is_current, kind) serves every lookup by (project, name, is_current) that
``ix_feedback_project_name`` served; each rating stored paid for both.

Revision ID: 0014_feedback_index_prefix
Revises: 0013_trace_days
Create Date: 2026-11-30 08:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014_feedback_index_prefix"
down_revision: str | Sequence[str] | None = "0013_trace_days"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_feedback_project_name", table_name="feedback")


def downgrade() -> None:
    op.create_index("ix_feedback_project_name", "feedback", ["project", "name", "is_current"])
