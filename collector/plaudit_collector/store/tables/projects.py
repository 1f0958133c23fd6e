"""Projects, their settings and their API keys (stored as hashes, never in clear)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Column, DateTime, Index, Text, true
from sqlmodel import Field, SQLModel

from plaudit_collector.store.tables.types import utcnow


class Project(SQLModel, table=True):
    """A tenant: every span and every rating belongs to exactly one project.

    A project needs no row to exist (``default`` works out of the box); a row carries its settings.
    """

    __tablename__ = "projects"

    name: str = Field(primary_key=True, max_length=100)
    store_content: bool = Field(default=True, description="false: inputs, outputs and messages are dropped at ingest")
    dimensions: str = Field(
        default="[]",
        sa_column=Column(Text, nullable=False, server_default="[]"),
        description="JSON list: the attribute key kept in each dimension slot (dim_1, ...), or null",
    )
    dimensions_ready: bool = Field(
        default=True,
        sa_column=Column(Boolean, nullable=False, server_default=true()),
        description="false while the declared dimensions are being backfilled into stored spans",
    )
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


class ApiKey(SQLModel, table=True):
    """One API key: the SHA-256 of a high-entropy secret, which is shown once at creation."""

    __tablename__ = "api_keys"
    __table_args__ = (Index("ix_api_keys_project", "project"),)

    id: int | None = Field(default=None, primary_key=True)
    project: str = Field(max_length=100)
    name: str | None = Field(default=None, max_length=200)
    prefix: str = Field(max_length=16, description="the first characters, to recognise a key in listings")
    key_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
