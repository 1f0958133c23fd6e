"""The plain data one OTLP request becomes: span rows, span events, feedback items, and what was refused.

Ingest fills an :class:`IngestBatch` without touching the database; the store writes it in one transaction.
A span row is a tuple in :data:`SPAN_COLUMNS` order (the spans table's columns), built straight from the
protobuf message: tuples are what the inserts (and COPY) take, and building them is the hot path of ingest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SPAN_COLUMNS = (
    "project",
    "trace_id",
    "span_id",
    "parent_span_id",
    "name",
    "otel_kind",
    "span_kind",
    "start_ns",
    "end_ns",
    "duration_ms",
    "status_code",
    "status_message",
    "service_name",
    "model",
    "response_model",
    "provider",
    "input_tokens",
    "output_tokens",
    "cost",
    "cost_estimated",
    "input",
    "output",
    "prompt_name",
    "prompt_version",
    "config_hash",
    "variant",
    "user_id",
    "session_id",
    "experiment",
    "experiment_segment",
    "experiment_probability",
    "experiment_choice",
    "attributes",
    "resource",
    "scope",
    "events",
    "links",
    "received_at",
    "dim_1",
    "dim_2",
    "dim_3",
)
"""The order of the values in a span row."""

JSON_COLUMNS = frozenset(("attributes", "resource", "events", "links"))
"""Span columns whose value is JSON text."""

COLUMN_AT = {name: index for index, name in enumerate(SPAN_COLUMNS)}
"""A column's position in a span row."""

MAX_PROBLEMS = 5
"""Problems named in a reply's ``partial_success`` message; more are only counted."""


@dataclass
class IngestBatch:
    """What one OTLP request (traces or logs) turns into, ready to be written in one transaction."""

    project: str
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    """Span rows, in :data:`SPAN_COLUMNS` order."""
    events: list[dict[str, Any]] = field(default_factory=list)
    """Span events that came as OTLP log records (GenAI content events), keyed to their span."""
    feedback: list[dict[str, Any]] = field(default_factory=list)
    """Feedback carried in the telemetry, as POST /v1/feedback wire items."""
    rejected: int = 0
    """Spans or log records refused (OTLP partial success)."""
    ignored: int = 0
    """Log records that are neither GenAI events nor evaluations: acknowledged, not stored."""
    problems: list[str] = field(default_factory=list)
    first_field: str | None = None

    def reject(self, problem: str, field_name: str | None = None) -> None:
        self.rejected += 1
        self.first_field = self.first_field or field_name
        self.note(problem)

    def note(self, problem: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)

    @property
    def empty(self) -> bool:
        """Nothing to store."""
        return not self.rows and not self.events and not self.feedback

    @property
    def message(self) -> str:
        notes = list(self.problems[:MAX_PROBLEMS])
        if self.ignored:
            notes.append(f"{self.ignored} log record(s) without a span context or a gen_ai event name were not stored")
        return "; ".join(notes)
