"""Review queues: a fixed list of items (a span, a trace, or two spans side by side) that reviewers work
through, and each reviewer's claim on an item (reserved, done or skipped)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, DateTime, ForeignKey, Index, Integer, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from plaudit_collector.store.tables.types import JSONType, utcnow


class ReviewQueue(SQLModel, table=True):
    """What to review (the items, chosen once at creation), which scores to fill and by how many reviewers."""

    __tablename__ = "review_queues"
    __table_args__ = (Index("ix_review_queues_project", "project", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    project: str = Field(default="default", max_length=100)
    name: str = Field(max_length=200)
    kind: str = Field(default="single", max_length=16, description="single or pairwise")
    filter: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONType, nullable=False))
    scores: list[str] = Field(default_factory=list, sa_column=Column(JSONType, nullable=False))
    sample: int | None = Field(default=None, description="items asked for; NULL means every match")
    overlap: int = Field(default=1, description="distinct reviewers each item needs")
    item_order: str = Field(
        default="random", max_length=16, description="random, oldest, newest, disagreement or informative"
    )
    reserve_seconds: int = Field(default=300, description="how long a reviewer holds an item")
    item_count: int = 0
    description: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


class ReviewItem(SQLModel, table=True):
    """One thing to rate: a span (``span_id``), a trace (``span_id`` NULL) or, in a pairwise queue, the A
    side with the B side in ``other_*``. ``done`` counts the distinct reviewers who submitted it."""

    __tablename__ = "review_items"
    __table_args__ = (Index("ix_review_items_queue", "queue_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    queue_id: int = Field(sa_column=Column(Integer, ForeignKey("review_queues.id", ondelete="CASCADE"), nullable=False))
    position: int = Field(description="the queue's order: items are handed out lowest first")
    trace_id: str = Field(max_length=32)
    span_id: str | None = Field(default=None, max_length=16)
    other_trace_id: str | None = Field(default=None, max_length=32)
    other_span_id: str | None = Field(default=None, max_length=16)
    done: int = 0


class ReviewClaim(SQLModel, table=True):
    """A reviewer's hold on an item: ``reserved`` until ``reserved_until``, then ``done`` or ``skipped``.
    One row per (item, reviewer), so a reviewer never holds or rates an item twice."""

    __tablename__ = "review_claims"
    __table_args__ = (
        UniqueConstraint("item_id", "reviewer", name="uq_review_claims_item_reviewer"),
        Index("ix_review_claims_queue", "queue_id", "reviewer", "state"),
    )

    id: int | None = Field(default=None, primary_key=True)
    queue_id: int = Field(sa_column=Column(Integer, ForeignKey("review_queues.id", ondelete="CASCADE"), nullable=False))
    item_id: int = Field(sa_column=Column(Integer, ForeignKey("review_items.id", ondelete="CASCADE"), nullable=False))
    reviewer: str = Field(max_length=200)
    state: str = Field(default="reserved", max_length=8, description="reserved, done or skipped")
    swapped: bool = Field(default=False, description="pairwise: B was shown on the left")
    reserved_until: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
