"""The spans table: one row per OpenTelemetry span, normalised dimensions as columns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Column, DateTime, Index, Integer, Text, UniqueConstraint, false, text
from sqlmodel import Field, SQLModel

from plaudit_collector.store import search_index
from plaudit_collector.store.tables.types import JSONType, utcnow

_ROOT = text("parent_span_id IS NULL")
_ERROR = text("status_code = 'ERROR'")


USER_ACTIVITY_COLUMNS = [
    "trace_id",
    "session_id",
    "end_ns",
    "status_code",
    "input_tokens",
    "output_tokens",
    "cost",
]
"""What the users list sums per user, carried in its index on PostgreSQL (index-only scans)."""


class Span(SQLModel, table=True):
    """One OpenTelemetry span; dimensions the analytics group by are columns, the rest stays in JSON."""

    __tablename__ = "spans"
    __table_args__ = (
        UniqueConstraint("project", "trace_id", "span_id", name="uq_spans_project_trace_span"),
        Index("ix_spans_project_start", "project", "start_ns"),
        Index("ix_spans_project_variant", "project", "variant"),
        Index("ix_spans_project_model", "project", "model"),
        Index("ix_spans_project_prompt", "project", "prompt_name", "prompt_version"),
        Index("ix_spans_project_session", "project", "session_id"),
        # trace search lists traces by their root span: newest first without reading the other spans
        Index("ix_spans_project_roots", "project", "start_ns", "id", sqlite_where=_ROOT, postgresql_where=_ROOT),
        Index("ix_spans_project_errors", "project", "trace_id", sqlite_where=_ERROR, postgresql_where=_ERROR),
        Index(  # experiment traffic; most spans belong to no experiment and stay out of the index
            "ix_spans_project_experiment",
            "project",
            "experiment",
            "start_ns",
            sqlite_where=text("experiment IS NOT NULL"),
            postgresql_where=text("experiment IS NOT NULL"),
        ),
        Index(  # the users list: on PostgreSQL a page's aggregates come from the index alone
            "ix_spans_project_user",
            "project",
            "user_id",
            "start_ns",
            postgresql_include=USER_ACTIVITY_COLUMNS,
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    project: str = Field(default="default", max_length=100)
    trace_id: str = Field(max_length=32)
    span_id: str = Field(max_length=16)
    parent_span_id: str | None = Field(default=None, max_length=16)
    name: str = Field(sa_column=Column(Text, nullable=False))
    otel_kind: str = Field(default="INTERNAL", max_length=16)
    span_kind: str | None = Field(default=None, max_length=32)
    start_ns: int = Field(sa_column=Column(BigInteger, nullable=False))
    end_ns: int = Field(sa_column=Column(BigInteger, nullable=False))
    duration_ms: float = 0.0
    status_code: str = Field(default="UNSET", max_length=8)
    status_message: str | None = Field(default=None, sa_column=Column(Text))
    service_name: str | None = Field(default=None, max_length=200)
    model: str | None = Field(default=None, max_length=200)
    response_model: str | None = Field(default=None, max_length=200, description="model the provider reported")
    provider: str | None = Field(default=None, max_length=100)
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost: float | None = Field(default=None, description="cost in USD: the producer's, else estimated at ingest")
    cost_estimated: bool = Field(
        default=False,
        sa_column=Column(Boolean, nullable=False, server_default=false()),
        description="true when ``cost`` was estimated from the price table, not sent by the producer",
    )
    input: str | None = Field(default=None, sa_column=Column(Text))
    output: str | None = Field(default=None, sa_column=Column(Text))
    prompt_name: str | None = Field(default=None, max_length=200)
    prompt_version: str | None = Field(default=None, max_length=100)
    config_hash: str | None = Field(default=None, max_length=64)
    variant: str | None = Field(default=None, max_length=200)
    user_id: str | None = Field(default=None, max_length=200)
    session_id: str | None = Field(default=None, max_length=200)
    experiment: str | None = Field(default=None, max_length=200, description="the experiment that chose the variant")
    experiment_segment: str | None = Field(default=None, max_length=200)
    experiment_probability: float | None = Field(default=None, description="the variant's chance when chosen")
    experiment_choice: str | None = Field(default=None, max_length=64, description="one id per choice")
    dim_1: str | None = Field(default=None, max_length=200, description="the project's first declared attribute")
    dim_2: str | None = Field(default=None, max_length=200, description="its second declared attribute")
    dim_3: str | None = Field(default=None, max_length=200, description="its third declared attribute")
    attributes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONType, nullable=False))
    resource: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONType, nullable=False))
    scope: str | None = Field(default=None, max_length=200)
    events: list[Any] = Field(default_factory=list, sa_column=Column(JSONType, nullable=False))
    links: list[Any] = Field(default_factory=list, sa_column=Column(JSONType, nullable=False))
    received_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


search_index.attach(Span.__table__)  # type: ignore[attr-defined]


class SpanEvent(SQLModel, table=True):
    """An OTLP log record (a GenAI content or evaluation event) that belongs to a span.

    Logs and spans travel separately and in any order, so events are kept in their own table and joined
    to the span when it is read; ``dedupe_key`` makes a re-sent log batch a no-op.
    """

    __tablename__ = "span_events"
    __table_args__ = (
        UniqueConstraint("project", "dedupe_key", name="uq_span_events_project_dedupe"),
        Index("ix_span_events_target", "project", "trace_id", "span_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project: str = Field(default="default", max_length=100)
    trace_id: str = Field(max_length=32)
    span_id: str | None = Field(default=None, max_length=16)
    name: str = Field(max_length=200)
    time_ns: int = Field(sa_column=Column(BigInteger, nullable=False))
    attributes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONType, nullable=False))
    body: Any = Field(default=None, sa_column=Column(JSONType))
    dedupe_key: str = Field(max_length=64)
    received_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


class TraceDay(SQLModel, table=True):
    """PostgreSQL: a UTC day one of a trace's spans starts on (SQLite keeps it empty).

    A read by trace id names no time, so on the day-partitioned spans table PostgreSQL plans and probes every
    day; this row lets the read name the trace's days, and the planner keep only their partitions. Written
    with the spans, dropped with their day (see :mod:`plaudit_collector.store.trace_days`).
    """

    __tablename__ = "trace_days"
    __table_args__ = (Index("ix_trace_days_day", "day"),)  # retention drops a day's rows

    project: str = Field(primary_key=True, max_length=100)
    trace_id: str = Field(primary_key=True, max_length=32)
    day: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
