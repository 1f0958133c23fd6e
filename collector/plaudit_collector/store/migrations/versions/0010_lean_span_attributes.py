"""spans: input and output stored once (in their columns), not again in the attributes

Each stored span's attribute whose text is exactly its ``input`` (or ``output``) column is dropped and its key
noted under ``plaudit.content_keys``, as ingest now does; readers put it back, so clients see the same
attributes. Rows are rewritten in batches by id. The downgrade puts the attributes back in the rows.

Revision ID: 0010_lean_span_attributes
Revises: '0009_pg_day_partitions'
Create Date: 2026-12-03 10:00:00.000000
"""

import json
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from plaudit_collector.ingest import content

revision: str = "0010_lean_span_attributes"
down_revision: str | Sequence[str] | None = "0009_pg_day_partitions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000

# The content keys ingest took the columns from when this revision was written, in priority order (frozen here
# so the migration does the same thing whatever later versions of the conventions add).
_INPUT_KEYS = (
    "plaudit.input",
    "input.value",
    "gen_ai.input.messages",
    "traceloop.entity.input",
    "langfuse.observation.input",
    "ai.prompt.messages",
    "ai.prompt",
    "gen_ai.prompt",
    "langfuse.trace.input",
)
_OUTPUT_KEYS = (
    "plaudit.output",
    "output.value",
    "gen_ai.output.messages",
    "traceloop.entity.output",
    "langfuse.observation.output",
    "ai.response.text",
    "ai.response.object",
    "gen_ai.completion",
    "langfuse.trace.output",
)


def _rewrite(change: Callable[[dict[str, Any], str | None, str | None], dict[str, Any]]) -> None:
    """Apply ``change`` to every span with input or output, ``BATCH`` rows at a time (keyset on id)."""
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    select = sa.text(
        "SELECT id, input, output, attributes FROM spans WHERE id > :after "
        "AND (input IS NOT NULL OR output IS NOT NULL) ORDER BY id LIMIT :batch"
    )
    value = "CAST(:attributes AS JSONB)" if postgres else ":attributes"
    update = sa.text(f"UPDATE spans SET attributes = {value} WHERE id = :id")
    after = 0
    while True:
        rows = bind.execute(select, {"after": after, "batch": BATCH}).all()
        if not rows:
            return
        changed = []
        for row_id, input_text, output_text, raw in rows:
            attrs = json.loads(raw) if isinstance(raw, str) else raw
            if isinstance(attrs, dict):
                new = change(attrs, input_text, output_text)
                if new is not attrs:
                    changed.append(
                        {"id": row_id, "attributes": json.dumps(new, ensure_ascii=False, separators=(",", ":"))}
                    )
        if changed:
            bind.execute(update, changed)
        after = rows[-1][0]


def _lean(attrs: dict[str, Any], input_text: str | None, output_text: str | None) -> dict[str, Any]:
    if content.CONTENT_KEYS in attrs:  # already lean
        return attrs
    keys = (content.source_key(attrs, _INPUT_KEYS), content.source_key(attrs, _OUTPUT_KEYS))
    return content.lean(attrs, input_text, output_text, keys)


def _full(attrs: dict[str, Any], input_text: str | None, output_text: str | None) -> dict[str, Any]:
    return content.full(attrs, input_text, output_text) if content.CONTENT_KEYS in attrs else attrs


def upgrade() -> None:
    _rewrite(_lean)


def downgrade() -> None:
    _rewrite(_full)
