"""Score aggregates kept at write time: per rated span and score (``span_scores``), and per project, score,
UTC day and combination of the span rollup's dimensions (``score_rollup``), so the leaderboard, compare and
trend read a few thousand cells instead of every rating."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


class SpanScore(SQLModel, table=True):
    """One rated span on one score: its current raters' count and sum (the item mean is ``total / raters``)."""

    __tablename__ = "span_scores"
    __table_args__ = (
        UniqueConstraint("project", "name", "span_pk", name="uq_span_scores_item"),
        Index("ix_span_scores_span", "span_pk"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project: str = Field(max_length=100)
    name: str = Field(max_length=200)
    span_pk: int = Field(description="row id of the credited span")
    cell_id: int = Field(description="the score_rollup cell this item adds to")
    raters: int
    total: float = Field(description="sum of the current raters' scores")
    nb: int = Field(description="1 when a rater gave a non-boolean score")


class ScoreRollup(SQLModel, table=True):
    """One cell: the rated spans of one project, score and day that share every rolled-up dimension."""

    __tablename__ = "score_rollup"
    __table_args__ = (
        UniqueConstraint("project", "name", "day", "cell", name="uq_score_rollup_cell"),
        Index("ix_score_rollup_project_name_day", "project", "name", "day"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project: str = Field(max_length=100)
    name: str = Field(max_length=200)
    day: int = Field(description="days since 1970-01-01 (UTC) of the spans' start")
    cell: str = Field(max_length=40, description="digest of the dimension values (they may be NULL)")
    span_name: str | None = Field(default=None, sa_column=Column(Text))
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
    items: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    total: float = Field(default=0.0, sa_column=Column(Float, nullable=False))
    total_sq: float = Field(default=0.0, sa_column=Column(Float, nullable=False))
    ratings: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    nb_items: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    top_raters: int = Field(default=0, description="the most raters any item of the cell has")
    raters: str = Field(
        default="[]", sa_column=Column(Text, nullable=False), description="JSON [raters, items, raters, items, ...]"
    )
