"""Failures a user can fix, said in one line (what was tried, what to do) instead of a traceback.

:func:`explain` turns the exceptions that reach the top of the CLI (an unreachable collector, a database that
cannot be opened) into that line; :class:`CliFailure` is raised where the command knows better what to say.
"""

from __future__ import annotations

from pathlib import Path

DB_HELP = "pass --db (or set PLAUDIT_DB) to a SQLite file or a postgresql://user@host/dbname URL"


class CliFailure(Exception):
    """A failure the user can fix: printed as one line on stderr, the command exits with ``code``."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def shown_url(url: str) -> str:
    """A database URL as printed: its password hidden."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL is printed as given (it holds no parsed password)
        return url


def sqlite_path(url: str) -> Path | None:
    """The file behind a ``sqlite:///`` URL; None for other databases and in-memory SQLite."""
    if not url.startswith("sqlite:///") or url.endswith(":memory:"):
        return None
    return Path(url.removeprefix("sqlite:///"))


SCHEMES = ("sqlite", "postgresql+psycopg")
"""The database URL schemes Plaudit opens (``postgresql://`` and ``postgres://`` are read as psycopg 3's)."""


def check_scheme(url: str) -> None:
    """Refuse a URL whose scheme names a database or driver Plaudit does not ship (``mysql://``,
    ``postgresql+psycopg2://``, a typo) before anything tries to import a driver for it."""
    from plaudit_collector.store.db import IN_MEMORY, is_in_memory

    if is_in_memory(url):
        raise CliFailure(IN_MEMORY.removeprefix("db: "))
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme and scheme not in SCHEMES:
        raise CliFailure(
            f"{shown_url(url)!r} is not a database URL Plaudit can use: its scheme {scheme + '://'!r} is not "
            "supported; use a SQLite file (a path or sqlite:///PATH) or PostgreSQL (postgresql://user@host/dbname; "
            "postgres:// and postgresql+psycopg:// work too)"
        )


def database_failure(url: str, exc: BaseException) -> CliFailure:
    """The line for a database that could not be opened, connected to or migrated."""
    from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

    shown = shown_url(url)
    if isinstance(exc, (NoSuchModuleError, ArgumentError)):
        return CliFailure(f"{shown!r} is not a database URL Plaudit can use: {DB_HELP}")
    detail = str(getattr(exc, "orig", None) or exc).strip()
    reason = detail.splitlines()[0] if detail else type(exc).__name__
    path = sqlite_path(url)
    if path is not None:
        return CliFailure(
            f"cannot open the SQLite database {path} ({reason}): check that its folder exists and is writable"
        )
    if isinstance(exc, DBAPIError):
        return CliFailure(
            f"cannot use the database {shown} ({reason}): check that the server is running, the database exists "
            "(createdb NAME) and the URL is right"
        )
    return CliFailure(f"cannot use the database {shown} ({reason}): {DB_HELP}")


def explain(exc: BaseException) -> str | None:
    """One line for an exception the user can fix; None for a bug (the traceback is then the right output)."""
    if isinstance(exc, CliFailure):
        return exc.message
    try:
        import httpx
    except ImportError:  # pragma: no cover - a dependency of the SDK
        return None
    if isinstance(exc, httpx.TransportError):
        url = exc.request.url if _has_request(exc) else "the collector"
        target = f"{url.scheme}://{url.netloc.decode()}" if isinstance(url, httpx.URL) else url
        reason = str(exc).strip() or type(exc).__name__
        return (
            f"cannot reach the collector at {target} ({reason}): start one with `plaudit serve`, or point "
            "--endpoint (or PLAUDIT_ENDPOINT) at yours"
        )
    return None


def _has_request(exc: BaseException) -> bool:
    try:
        return exc.request is not None  # type: ignore[attr-defined]
    except RuntimeError:  # httpx raises when the error was not tied to a request
        return False
