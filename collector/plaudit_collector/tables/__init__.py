"""All tables; importing this package registers them on ``SQLModel.metadata``."""

from __future__ import annotations

from plaudit_collector.tables.feedback import Feedback
from plaudit_collector.tables.spans import Span
from plaudit_collector.tables.types import JSONType, utcnow

__all__ = ["Feedback", "JSONType", "Span", "utcnow"]
