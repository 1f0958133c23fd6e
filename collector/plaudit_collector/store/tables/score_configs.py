"""Score configs: what a named score may hold (type, range, categories) and whether that is enforced."""

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Column, DateTime, Text, UniqueConstraint, true
from sqlmodel import Field, SQLModel

from plaudit_collector.store.tables.types import JSONType, utcnow


class ScoreConfig(SQLModel, table=True):
    """One declared score per (project, name); ``strict`` configs reject feedback that breaks them."""

    __tablename__ = "score_configs"
    __table_args__ = (UniqueConstraint("project", "name", name="uq_score_configs_project_name"),)

    id: int | None = Field(default=None, primary_key=True)
    project: str = Field(default="default", max_length=100)
    name: str = Field(max_length=200)
    type: str = Field(max_length=16, description="numeric, boolean, categorical or text")
    min: float | None = None
    max: float | None = None
    categories: list[Any] | None = Field(default=None, sa_column=Column(JSONType))
    strict: bool = True
    higher_is_better: bool = Field(
        default=True, sa_column=Column(Boolean, nullable=False, server_default=true()), description="score direction"
    )
    description: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
