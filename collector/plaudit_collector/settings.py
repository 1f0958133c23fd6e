"""Collector settings, fixed at startup."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CollectorSettings:
    """Limits and storage for one collector process."""

    db_url: str | None = None
    max_otlp_bytes: int = 16 * 1024 * 1024
    max_feedback_bytes: int = 1024 * 1024
    default_project: str = "default"
