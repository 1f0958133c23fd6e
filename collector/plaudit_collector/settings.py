"""Collector settings, fixed at startup."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


@dataclass(frozen=True)
class CollectorSettings:
    """Limits and storage for one collector process."""

    db_url: str | None = None
    max_otlp_bytes: int = 16 * 1024 * 1024
    max_feedback_bytes: int = 1024 * 1024
    default_project: str = "default"
    auth: bool = False
    """Require an API key (``Authorization: Bearer``) on every request; ``plaudit serve`` turns it on off loopback."""
    migrate: bool = True
    """Apply the Alembic migrations at startup (``plaudit serve --no-migrate`` leaves the schema alone)."""
    max_concurrent_ingests: int = 4
    """OTLP requests decoded and written at once; more wait up to ``ingest_wait_seconds``, then get 503."""
    ingest_wait_seconds: float = 5.0
    retry_after_seconds: int = 2
    """``Retry-After`` sent with a 503 when ingest is saturated or the database is unreachable (OTLP
    exporters honour it)."""
    max_buffered_bytes: int = 128 * 1024 * 1024
    """OTLP request bodies held in memory at once, counted as they arrive; past it a request gets 503."""
    body_timeout_seconds: float = 30.0
    """A request body must arrive whole within this many seconds, else 408: bodies are read before an
    ingest slot is taken, so a slow client holds only its own connection."""
    retention_days: float | None = None
    """Delete spans (and feedback left without a span) older than this many days; None keeps everything."""
    secret: str | None = field(default_factory=lambda: os.environ.get("PLAUDIT_SECRET") or None, repr=False)
    """Signs feedback tokens (``PLAUDIT_SECRET``); when unset, one is generated and kept in the database."""
    feedback_cors_origins: tuple[str, ...] = field(
        default_factory=lambda: tuple(
            o.strip() for o in os.environ.get("PLAUDIT_FEEDBACK_CORS_ORIGINS", "").split(",") if o.strip()
        )
    )
    """Browser origins allowed to post token feedback (``PLAUDIT_FEEDBACK_CORS_ORIGINS``, comma-separated, or ``*``)."""
    judges: bool = False
    """Run enabled LLM judges on new spans in a background thread of this process (``plaudit serve --judges``)."""
    judge_concurrency: int = 4
    """Judge calls in flight at once in this process."""
    judge_poll_seconds: float = 2.0
    """How often an idle judge worker looks for new spans and due retries."""
