"""The spans table: one row per OpenTelemetry span, normalised dimensions as columns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from plaudit_collector.tables.types import JSONType, utcnow


class Span(SQLModel, table=True):
    """One OpenTelemetry span; dimensions the analytics group by are columns, the rest stays in JSON."""

    __tablename__ = "spans"
    __table_args__ = (
        UniqueConstraint("project", "trace_id", "span_id", name="uq_spans_project_trace_span"),
        Index("ix_spans_project_start", "project", "start_ns"),
        Index("ix_spans_project_variant", "project", "variant"),
        Index("ix_spans_project_model", "project", "model"),
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
    provider: str | None = Field(default=None, max_length=100)
    input_tokens: int | None = None
    output_tokens: int | None = None
    input: str | None = Field(default=None, sa_column=Column(Text))
    output: str | None = Field(default=None, sa_column=Column(Text))
    prompt_name: str | None = Field(default=None, max_length=200)
    prompt_version: str | None = Field(default=None, max_length=100)
    config_hash: str | None = Field(default=None, max_length=64)
    variant: str | None = Field(default=None, max_length=200)
    user_id: str | None = Field(default=None, max_length=200)
    session_id: str | None = Field(default=None, max_length=200)
    attributes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONType, nullable=False))
    resource: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONType, nullable=False))
    scope: str | None = Field(default=None, max_length=200)
    events: list[Any] = Field(default_factory=list, sa_column=Column(JSONType, nullable=False))
    links: list[Any] = Field(default_factory=list, sa_column=Column(JSONType, nullable=False))
    received_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
