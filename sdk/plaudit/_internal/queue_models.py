"""What ``plaudit.Client``'s review-queue methods return (pydantic models; unknown fields are kept)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class _Answer(BaseModel):
    model_config = ConfigDict(extra="allow")


class ReviewQueue(_Answer):
    """A review queue: what it holds, how many reviewers per item, and its progress (``progress["percent"]``,
    per reviewer in ``progress["reviewers"]``)."""

    id: int
    name: str
    kind: str
    scores: list[str]
    overlap: int
    items: int
    progress: dict[str, Any]


class QueueItem(_Answer):
    """One item reserved for a reviewer: ``span`` (single queues) or ``a`` and ``b`` (pairwise, in the order
    shown), the scores to fill with their configs, and ``reserved_until``."""

    id: int
    queue_id: int
    kind: str
    scores: list[dict[str, Any]]
    reserved_until: str | None = None
