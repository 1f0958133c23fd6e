"""Plaudit collector: stores OpenTelemetry spans and human feedback, and says which variant scores best.

A request follows the packages in order — :mod:`.api` (HTTP) → :mod:`.pipeline` (telemetry) →
:mod:`.ingest` (decode, normalise, split carried feedback; plain data) → :mod:`.store` (one transaction);
questions go :mod:`.api` → :mod:`.analytics` → :mod:`.store`'s tables. :mod:`.cli` is the ``plaudit``
command and :mod:`.web` the review workspace. ``create_app`` (from :mod:`.app`) builds the service.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from plaudit_collector.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # Loaded on first use: the CLI imports this package and must not pay for FastAPI on every command.
    if name == "create_app":
        from plaudit_collector.app import create_app

        return create_app
    raise AttributeError(f"module 'plaudit_collector' has no attribute {name!r}")
