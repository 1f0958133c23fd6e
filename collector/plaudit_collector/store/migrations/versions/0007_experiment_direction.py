"""experiments: higher_is_better may be unset (NULL: the score config's direction)

Existing experiments keep the direction they stored.

Revision ID: 0007_experiment_direction
Revises: '0006_review_queues'
Create Date: 2026-12-02 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_experiment_direction"
down_revision: str | Sequence[str] | None = "0006_review_queues"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("experiments", schema=None) as batch_op:
        batch_op.alter_column("higher_is_better", existing_type=sa.Boolean(), nullable=True)


def downgrade() -> None:
    op.execute(sa.text("UPDATE experiments SET higher_is_better = true WHERE higher_is_better IS NULL"))
    with op.batch_alter_table("experiments", schema=None) as batch_op:
        batch_op.alter_column("higher_is_better", existing_type=sa.Boolean(), nullable=False)
