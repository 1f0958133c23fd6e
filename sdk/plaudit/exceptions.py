"""Errors Plaudit raises into user code: only for wrong arguments at setup or call time."""

from __future__ import annotations

__all__ = ["PlauditConfigError"]


class PlauditConfigError(ValueError):
    """A setting passed to :func:`plaudit.configure` (or read from the environment) is invalid."""
