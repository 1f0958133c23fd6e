"""Alembic environment for the collector's schema (``plaudit db upgrade``; autogenerate-ready).

The target metadata is every table registered by ``plaudit_collector.store.tables``. A caller may hand over an open
connection in ``config.attributes["connection"]`` (the collector does, at startup); otherwise the URL in the
config is used. On PostgreSQL a transaction-scoped advisory lock makes collectors that start together apply
the migrations one after the other instead of racing.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine, pool
from sqlmodel import SQLModel

from plaudit_collector.store import (
    partitions,
    tables,  # noqa: F401 - registers the tables on SQLModel.metadata
)
from plaudit_collector.store.db import MIGRATION_LOCK, MIGRATION_LOCK_ID

target_metadata = SQLModel.metadata
config = context.config


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        **partitions.compare_options(connection.dialect.name),
        render_as_batch=connection.dialect.name == "sqlite",
        on_version_apply=_applied,
    )


def _applied(**_step: object) -> None:
    """Count each applied migration towards the progress the caller shows."""
    on_applied = config.attributes.get("on_applied")
    if on_applied is not None:
        on_applied()


def _run(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(MIGRATION_LOCK, {"key": MIGRATION_LOCK_ID})
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "", poolclass=pool.NullPool)
    with engine.connect() as conn:
        _run(conn)
        conn.commit()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
