"""The secret that signs feedback tokens, shared through the database so every collector on it accepts
the tokens any of them minted."""

from __future__ import annotations

import secrets

from sqlalchemy import select

from plaudit_collector.store.db import Database
from plaudit_collector.store.tables import SigningKey, utcnow

KEY_NAME = "feedback-token"


def load_secret(db: Database, configured: str | None) -> bytes:
    """The signing secret: ``configured`` (PLAUDIT_SECRET) if set, else the database's, created on first use."""
    if configured:
        return configured.encode()
    table = SigningKey.__table__  # type: ignore[attr-defined]
    with db.engine.connect() as conn:
        found = conn.execute(select(table.c.secret).where(table.c.name == KEY_NAME)).scalar_one_or_none()
    if found is None:
        with db.writing(), db.engine.begin() as conn:
            # Several processes may race here; the first insert wins and everyone reads it back.
            conn.execute(
                db.insert(table).on_conflict_do_nothing(index_elements=["name"]),
                {"name": KEY_NAME, "secret": secrets.token_urlsafe(48), "created_at": utcnow()},
            )
        with db.engine.connect() as conn:
            found = conn.execute(select(table.c.secret).where(table.c.name == KEY_NAME)).scalar_one()
    return str(found).encode()
