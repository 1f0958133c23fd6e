"""Secrets the collector signs with, kept in the database so every collector process on it agrees."""

from datetime import datetime

from sqlalchemy import Column, DateTime
from sqlmodel import Field, SQLModel

from plaudit_collector.store.tables.types import utcnow


class SigningKey(SQLModel, table=True):
    """A named secret (``feedback-token``), created once by whichever process needs it first."""

    __tablename__ = "signing_keys"

    name: str = Field(primary_key=True, max_length=64)
    secret: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
