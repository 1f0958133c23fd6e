"""workspace indexes: preferences by their B side's trace; the users list's aggregates in its index

A trace's feedback (the trace page) includes the preferences whose B side is in that trace: an index on
``feedback.other_trace_id`` (only the rows that have one) finds them without reading every rating. On
PostgreSQL the users list's index also carries the columns a page sums per user, so those sums are read
from the index alone.

Revision ID: 0011_workspace_indexes
Revises: '0010_lean_span_attributes'
Create Date: 2026-11-28 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_workspace_indexes"
down_revision: str | Sequence[str] | None = "0010_lean_span_attributes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

USER_ACTIVITY_COLUMNS = ["trace_id", "session_id", "end_ns", "status_code", "input_tokens", "output_tokens", "cost"]
OTHER_TRACE = sa.text("other_trace_id IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        "ix_feedback_other_trace",
        "feedback",
        ["project", "other_trace_id"],
        sqlite_where=OTHER_TRACE,
        postgresql_where=OTHER_TRACE,
    )
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_spans_project_user", table_name="spans")
        op.create_index(
            "ix_spans_project_user",
            "spans",
            ["project", "user_id", "start_ns"],
            postgresql_include=USER_ACTIVITY_COLUMNS,
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_spans_project_user", table_name="spans")
        op.create_index("ix_spans_project_user", "spans", ["project", "user_id", "start_ns"])
    op.drop_index("ix_feedback_other_trace", table_name="feedback")
