"""The span rollup: per project, UTC day and combination of the low-cardinality dimensions, the span-side
health figures (count, errors, token and cost sums, a latency histogram), kept up to date at ingest."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


class SpanRollup(SQLModel, table=True):
    """One cell: the spans of one project and day that share every rolled-up dimension."""

    __tablename__ = "span_rollup"
    __table_args__ = (
        UniqueConstraint("project", "day", "cell", name="uq_span_rollup_cell"),
        Index("ix_span_rollup_project_day", "project", "day"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project: str = Field(max_length=100)
    day: int = Field(description="days since 1970-01-01 (UTC) of the spans' start")
    cell: str = Field(max_length=40, description="digest of the dimension values (they may be NULL)")
    name: str | None = Field(default=None, sa_column=Column(Text))
    span_kind: str | None = Field(default=None, max_length=32)
    service_name: str | None = Field(default=None, max_length=200)
    model: str | None = Field(default=None, max_length=200)
    provider: str | None = Field(default=None, max_length=100)
    prompt_name: str | None = Field(default=None, max_length=200)
    prompt_version: str | None = Field(default=None, max_length=100)
    config_hash: str | None = Field(default=None, max_length=64)
    variant: str | None = Field(default=None, max_length=200)
    dim_1: str | None = Field(default=None, max_length=200, description="declared attribute dimensions")
    dim_2: str | None = Field(default=None, max_length=200)
    dim_3: str | None = Field(default=None, max_length=200)
    spans: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    errors: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    in_sum: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    in_n: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    out_sum: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    out_n: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    cost_sum: float = Field(default=0.0, sa_column=Column(Float, nullable=False))
    cost_n: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    latency: str = Field(
        default="[]", sa_column=Column(Text, nullable=False), description="JSON [bucket, count, bucket, count, ...]"
    )
