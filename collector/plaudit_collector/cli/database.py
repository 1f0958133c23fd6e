"""Opening the database for a command: the URL resolved the way ``serve`` resolves it, failures in one line."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from plaudit_collector.cli.failures import CliFailure, check_scheme, database_failure, shown_url, sqlite_path


def open_database(url: str | None, *, migrate: bool = True, must_exist: bool = False, progress: Any = None) -> Any:
    """The database at ``url``, migrated; a one-line :class:`CliFailure` when it cannot be used.

    ``must_exist``: refuse a SQLite file that is not there (a command that only reads would otherwise create
    an empty database and report that it holds nothing). ``progress`` hears how far the migrations are."""
    from plaudit_collector.store.db import Database, normalise_url
    from plaudit_collector.store.progress import silent

    url = normalise_url(url)
    check_scheme(url)
    path = sqlite_path(url)
    if must_exist and path is not None and not path.exists():
        raise CliFailure(
            f"no database at {path}: pass --db (or set PLAUDIT_DB) to the one `plaudit serve` uses, "
            "or start `plaudit serve` there first"
        )
    with database_errors(url):
        database = Database(url)
        database.prepare(migrate=migrate, progress=progress or silent)
    return database


@contextmanager
def database_errors(url: str) -> Iterator[None]:
    """Database errors inside the block become one :class:`CliFailure` line naming ``url``."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except (SQLAlchemyError, OSError, *_alembic_errors()) as exc:
        raise database_failure(url, exc) from exc


def _alembic_errors() -> tuple[type[Exception], ...]:
    """Alembic's ``CommandError`` once Alembic is loaded (nothing raised it before): a database at head is
    opened without importing Alembic."""
    util = sys.modules.get("alembic.util")
    return (util.CommandError,) if util is not None else ()


def admin_database(db: str | None, *, migrate: bool = True, must_exist: bool = False, progress: Any = None) -> Any:
    """The database an admin command works on (``--db``, else ``$PLAUDIT_DB``, else ./plaudit.db), named on
    stderr so that it is never a surprise which one was changed."""
    url = db or os.environ.get("PLAUDIT_DB") or None
    database = open_database(url, migrate=migrate, must_exist=must_exist, progress=progress)
    from rich.console import Console

    Console(stderr=True, highlight=False, markup=False).print(
        f"Database: {shown_url(database.url)}", soft_wrap=True, markup=False
    )
    return database
