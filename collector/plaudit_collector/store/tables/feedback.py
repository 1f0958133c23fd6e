"""The feedback table: one row per rating, current or replaced (history is kept)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from plaudit_collector.store.tables.types import JSONType, utcnow


class Feedback(SQLModel, table=True):
    """One rating. ``is_current`` is false for a vote the same author later replaced (history kept)."""

    __tablename__ = "feedback"
    __table_args__ = (
        UniqueConstraint("project", "idempotency_key", name="uq_feedback_project_idempotency"),
        Index("ix_feedback_target", "project", "trace_id", "span_id"),
        Index("ix_feedback_span_user", "project", "span_user_id"),  # the users list's feedback summary
        Index("ix_feedback_span_pk", "span_pk"),  # a span's ratings, recomputed into its score aggregates
        # a score's current ratings, and its kinds without a scan
        Index("ix_feedback_kinds", "project", "name", "is_current", "kind"),
        Index(  # a trace's feedback includes preferences where it is the B side
            "ix_feedback_other_trace",
            "project",
            "other_trace_id",
            sqlite_where=text("other_trace_id IS NOT NULL"),
            postgresql_where=text("other_trace_id IS NOT NULL"),
        ),
        Index(  # session-level ratings, joined to their sessions' spans at query time
            "ix_feedback_sessions",
            "project",
            "name",
            "is_current",
            sqlite_where=text("target_type = 'session'"),
            postgresql_where=text("target_type = 'session'"),
        ),
        Index(
            "ix_feedback_unresolved",
            "project",
            "trace_id",
            sqlite_where=text("span_pk IS NULL"),
            postgresql_where=text("span_pk IS NULL"),
        ),
        Index(  # an experiment's rewards, read on every policy refresh
            "ix_feedback_experiment",
            "project",
            "span_experiment",
            "name",
            sqlite_where=text("span_experiment IS NOT NULL"),
            postgresql_where=text("span_experiment IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    project: str = Field(default="default", max_length=100)
    target_type: str = Field(default="span", max_length=8, description="span, trace or session")
    trace_id: str | None = Field(default=None, max_length=32)
    span_id: str | None = Field(default=None, max_length=16)
    session_id: str | None = Field(default=None, max_length=200, description="target of session-level feedback")
    other_trace_id: str | None = Field(default=None, max_length=32, description="pairwise: the B side's trace")
    other_span_id: str | None = Field(default=None, max_length=16, description="pairwise: the B side's span")
    name: str = Field(max_length=200)
    kind: str = Field(max_length=16, description="boolean, numeric, categorical, text or preference")
    score: float | None = None
    label: str | None = Field(default=None, max_length=200)
    value: Any = Field(default=None, sa_column=Column(JSONType))
    comment: str | None = Field(default=None, sa_column=Column(Text))
    correction: str | None = Field(default=None, sa_column=Column(Text))
    source: str = Field(default="human", max_length=16)
    author: str | None = Field(default=None, max_length=200)
    meta: dict[str, Any] | None = Field(default=None, sa_column=Column("metadata", JSONType))
    idempotency_key: str = Field(max_length=200)
    is_current: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
    deleted_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))

    # The credited span's row id and a copy of its dimensions (see ``crediting``): analytics read ratings
    # without joining 1M-row span tables. NULL until the span is stored, and for session-level feedback.
    span_pk: int | None = Field(default=None, description="row id of the credited span")
    span_start_ns: int | None = Field(default=None, sa_column=Column(BigInteger))
    span_name: str | None = Field(default=None, sa_column=Column(Text))
    span_kind: str | None = Field(default=None, max_length=32)
    span_service_name: str | None = Field(default=None, max_length=200)
    span_model: str | None = Field(default=None, max_length=200)
    span_provider: str | None = Field(default=None, max_length=100)
    span_prompt_name: str | None = Field(default=None, max_length=200)
    span_prompt_version: str | None = Field(default=None, max_length=100)
    span_config_hash: str | None = Field(default=None, max_length=64)
    span_variant: str | None = Field(default=None, max_length=200)
    span_dim_1: str | None = Field(default=None, max_length=200)
    span_dim_2: str | None = Field(default=None, max_length=200)
    span_dim_3: str | None = Field(default=None, max_length=200)
    span_user_id: str | None = Field(default=None, max_length=200)
    span_session_id: str | None = Field(default=None, max_length=200)
    span_experiment: str | None = Field(default=None, max_length=200)
    span_experiment_segment: str | None = Field(default=None, max_length=200)
    span_experiment_probability: float | None = None
