"""Experiments: a named set of variants the collector allocates traffic between, learning from feedback."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, DateTime, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from plaudit_collector.store.tables.types import JSONType, utcnow


class Experiment(SQLModel, table=True):
    """One experiment per (project, name): the score it learns from, its policy and its bounds.

    ``version`` grows with every change to the definition, so a cached state knows when it is stale.
    """

    __tablename__ = "experiments"
    __table_args__ = (UniqueConstraint("project", "name", name="uq_experiments_project_name"),)

    id: int | None = Field(default=None, primary_key=True)
    project: str = Field(default="default", max_length=100)
    name: str = Field(max_length=200)
    score: str = Field(max_length=200, description="the feedback name that is the reward")
    higher_is_better: bool | None = Field(
        default=None, description="the score's direction; None follows the score config's (higher without one)"
    )
    policy: str = Field(default="thompson", max_length=16, description="thompson, epsilon_greedy or fixed")
    segment_by: str | None = Field(default=None, max_length=200, description="the key segments are values of")
    sticky: bool = Field(default=False, description="a unit (user) keeps its first variant")
    epsilon: float = 0.1
    min_share: float = Field(default=0.02, description="the exploration floor: least share of each variant")
    max_share: float = Field(default=1.0, description="the most traffic any variant may get")
    status: str = Field(default="running", max_length=16, description="running or stopped")
    winner: str | None = Field(default=None, max_length=200, description="the promoted variant, once stopped")
    description: str | None = Field(default=None, sa_column=Column(Text))
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


class ExperimentVariant(SQLModel, table=True):
    """One variant: its payload (prompt, model, config...) and whether it is served (active, paused, removed)."""

    __tablename__ = "experiment_variants"
    __table_args__ = (UniqueConstraint("experiment_id", "name", name="uq_experiment_variants_name"),)

    id: int | None = Field(default=None, primary_key=True)
    experiment_id: int
    name: str = Field(max_length=200)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONType, nullable=False))
    status: str = Field(default="active", max_length=16, description="active, paused or removed")
    weight: float = Field(default=1.0, description="its relative share under the fixed policy")
    position: int = Field(default=0, description="order of creation: the first active one is the control")
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


class ExperimentUnit(SQLModel, table=True):
    """A sticky assignment: the variant a unit (a user) got first, kept while that variant is served."""

    __tablename__ = "experiment_units"
    __table_args__ = (
        UniqueConstraint("experiment_id", "unit", name="uq_experiment_units_unit"),
        Index("ix_experiment_units_created", "experiment_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    experiment_id: int
    unit: str = Field(max_length=200)
    variant: str = Field(max_length=200)
    probability: float
    segment: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
