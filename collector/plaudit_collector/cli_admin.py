"""Administrative commands: API keys and database migrations."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the admin commands to the ``plaudit`` CLI."""
    return None
