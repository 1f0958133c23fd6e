"""Engines for SQLite (embedded default, WAL) and PostgreSQL, from one URL."""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlmodel import SQLModel

from plaudit_collector import tables  # noqa: F401 - registers the tables on SQLModel.metadata

DEFAULT_DB_FILE = "plaudit.db"


def default_url() -> str:
    return f"sqlite:///{Path.cwd() / DEFAULT_DB_FILE}"


def normalise_url(url: str | None) -> str:
    """Accept a bare file path for SQLite and ``postgresql://`` for psycopg 3."""
    if not url:
        return default_url()
    if "://" not in url:
        return f"sqlite:///{Path(url).resolve()}"
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


class Database:
    """An engine plus the write discipline its backend needs (SQLite allows one writer at a time)."""

    def __init__(self, url: str | None = None) -> None:
        self.url = normalise_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        if self.is_sqlite:
            self.engine: Engine = create_engine(
                self.url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=8, max_overflow=8
            )
            event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            self.engine = create_engine(self.url, pool_size=10, max_overflow=10, pool_pre_ping=True)
        self._write_lock = threading.Lock()

    def writing(self) -> AbstractContextManager[Any]:
        """Serialise writers on SQLite (avoids 'database is locked'); PostgreSQL needs no lock."""
        return self._write_lock if self.is_sqlite else nullcontext()

    def create_schema(self) -> None:
        SQLModel.metadata.create_all(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name
