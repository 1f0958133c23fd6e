"""Judges: stored LLM-judge definitions, the per-(definition, span) ledger that makes each span scored once,
and the per-hour call counts that enforce a judge's budget."""

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, Float, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from plaudit_collector.store.tables.types import JSONType, utcnow


class Judge(SQLModel, table=True):
    """One judge per (project, name). ``hash`` digests what decides a rating (score, scale, prompt, model):
    ratings are authored ``<name>@<hash>``, so an edited rubric is a new rater, never mixed with the old."""

    __tablename__ = "judges"
    __table_args__ = (UniqueConstraint("project", "name", name="uq_judges_project_name"),)

    id: int | None = Field(default=None, primary_key=True)
    project: str = Field(max_length=100)
    name: str = Field(max_length=100)
    score: str = Field(max_length=200, description="the feedback name the judge writes")
    score_config: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONType, nullable=False))
    prompt: str = Field(sa_column=Column(Text, nullable=False))
    provider: str = Field(max_length=16, description="openai (any OpenAI-compatible chat API) or anthropic")
    model: str = Field(max_length=200)
    base_url: str | None = Field(default=None, max_length=500)
    api_key_env: str | None = Field(default=None, max_length=100, description="name of the variable holding the key")
    temperature: float | None = None
    max_tokens: int = 512
    filter: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONType, nullable=False))
    sample_rate: float = 1.0
    enabled: bool = True
    budget_per_hour: int | None = None
    rate_per_minute: int | None = None
    input_cost_per_mtok: float | None = None
    output_cost_per_mtok: float | None = None
    hash: str = Field(max_length=16)
    watermark: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    """The newest span id scanned for new spans."""
    floor: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    """The newest span id when the judge was defined: older spans are only rated when backfilled."""
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


class JudgeRun(SQLModel, table=True):
    """One span to be scored by one judge definition (name and hash): the durable claim that survives restarts.

    ``status``: pending (due at ``due_at``), running (claimed until ``lease_until``), done, or dead (retries
    exhausted or a permanent error: the dead-letter list)."""

    __tablename__ = "judge_runs"
    __table_args__ = (
        UniqueConstraint("project", "judge_name", "judge_hash", "trace_id", "span_id", name="uq_judge_runs_target"),
        Index("ix_judge_runs_due", "status", "due_at"),
        Index("ix_judge_runs_judge", "project", "judge_name", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project: str = Field(max_length=100)
    judge_name: str = Field(max_length=100)
    judge_hash: str = Field(max_length=16)
    trace_id: str = Field(max_length=32)
    span_id: str = Field(max_length=16)
    status: str = Field(default="pending", max_length=8)
    attempts: int = 0
    due_at: float = Field(default=0.0, sa_column=Column(Float, nullable=False), description="unix seconds")
    lease_until: float | None = Field(default=None, sa_column=Column(Float))
    worker: str | None = Field(default=None, max_length=100)
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    feedback_id: int | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


class JudgeUsage(SQLModel, table=True):
    """Calls one judge made in one clock hour (UTC), counted when a call is claimed."""

    __tablename__ = "judge_usage"
    __table_args__ = (UniqueConstraint("project", "judge_name", "hour", name="uq_judge_usage_hour"),)

    id: int | None = Field(default=None, primary_key=True)
    project: str = Field(max_length=100)
    judge_name: str = Field(max_length=100)
    hour: int = Field(description="hours since 1970-01-01 UTC")
    calls: int = 0
