"""All tables; importing this package registers them on ``SQLModel.metadata``."""

from __future__ import annotations

from plaudit_collector.store.tables.experiments import Experiment, ExperimentUnit, ExperimentVariant
from plaudit_collector.store.tables.feedback import Feedback
from plaudit_collector.store.tables.judges import Judge, JudgeRun, JudgeUsage
from plaudit_collector.store.tables.projects import ApiKey, Project
from plaudit_collector.store.tables.queues import ReviewClaim, ReviewItem, ReviewQueue
from plaudit_collector.store.tables.rollup import SpanRollup
from plaudit_collector.store.tables.score_configs import ScoreConfig
from plaudit_collector.store.tables.score_rollup import ScoreRollup, SpanScore
from plaudit_collector.store.tables.signing_keys import SigningKey
from plaudit_collector.store.tables.spans import Span, SpanEvent, TraceDay
from plaudit_collector.store.tables.types import JSONType, utcnow

__all__ = [
    "ApiKey",
    "Experiment",
    "ExperimentUnit",
    "ExperimentVariant",
    "Feedback",
    "JSONType",
    "Judge",
    "JudgeRun",
    "JudgeUsage",
    "Project",
    "ReviewClaim",
    "ReviewItem",
    "ReviewQueue",
    "ScoreConfig",
    "ScoreRollup",
    "SigningKey",
    "Span",
    "SpanEvent",
    "SpanRollup",
    "SpanScore",
    "TraceDay",
    "utcnow",
]
