"""Engines for SQLite (embedded default, WAL) and PostgreSQL, from one URL; schema via Alembic migrations."""

from __future__ import annotations

import ast
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event, inspect, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import SQLModel

from plaudit_collector.store import (
    partitions,
    tables,  # noqa: F401 - registers the tables on SQLModel.metadata
)
from plaudit_collector.store.progress import Report, silent
from plaudit_collector.store.tables.types import json_text

DEFAULT_DB_FILE = "plaudit.db"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
BASELINE_REVISION = "0001_baseline"
_ALEMBIC_LOCK = threading.Lock()
MIGRATION_LOCK_ID = 0x706C617564  # "plaud": the advisory lock key collectors agree on
MIGRATION_LOCK = text("SELECT pg_advisory_xact_lock(:key # hashtext(current_schema()))")
"""PostgreSQL, taken by each migration run: collectors migrating one schema take turns; collectors of other
schemas in the same database do not wait."""
_SQLITE_UNAVAILABLE = (
    "database is locked",
    "database table is locked",
    "unable to open database",
    "disk i/o error",
    "database or disk is full",
)


def is_unavailable(exc: BaseException) -> bool:
    """True when the database cannot serve right now (down, restarting, refusing connections, locked, out of
    pooled connections): the request itself was fine and may be retried. Other database errors are bugs.

    psycopg raises ``OperationalError``/``InterfaceError`` for exactly that class of failure; sqlite3 uses
    ``OperationalError`` for SQL errors too, so there only the lock, file and disk messages count.
    """
    if isinstance(exc, sa_exc.TimeoutError):  # no pooled connection came free in time
        return True
    if not isinstance(exc, sa_exc.DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    if not isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError)):
        return False
    if type(exc.orig).__module__.startswith("sqlite3"):
        message = str(exc.orig).lower()
        return any(text in message for text in _SQLITE_UNAVAILABLE)
    return True


PING_AFTER_IDLE = 2.0
"""Seconds a pooled PostgreSQL connection may rest before it is pinged on checkout."""


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection on checkout only when it has rested ``PING_AFTER_IDLE`` seconds.

    ``pool_pre_ping`` would cost every request a round trip. A connection in use moments ago is checked by
    its first statement instead: a database that went away then fails that request with a 503 (see
    :func:`is_unavailable`), and the pool replaces its connections. After a rest, the ping finds a dead
    connection before a request does and the pool quietly opens a new one.
    """

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def _rested_from(_dbapi_connection: Any, record: Any) -> None:
        record.info["checked_in"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_rested(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get("checked_in", 0.0) < PING_AFTER_IDLE:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
            dbapi_connection.commit()  # not a rollback, which would cost the connection its prepared statements
        except Exception as exc:  # any failure means the connection is unusable
            raise sa_exc.DisconnectionError(str(exc)) from exc
        if not alive:
            raise sa_exc.DisconnectionError("the pooled connection did not answer a ping")


def default_url() -> str:
    return f"sqlite:///{Path.cwd() / DEFAULT_DB_FILE}"


def normalise_url(url: str | None) -> str:
    """Accept a bare file path for SQLite and ``postgresql://`` for psycopg 3."""
    if not url:
        return default_url()
    if url == ":memory:":  # refused as SQLite's in-memory database, not taken for a file of that name
        return "sqlite:///:memory:"
    if "://" not in url:
        return f"sqlite:///{Path(url).resolve()}"
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers run beside the writer; synchronous=NORMAL is durable across process crashes in WAL
    mode (only an OS crash or power loss can drop the last commits)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=10000")
    _switch_to_wal(cursor)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.execute("PRAGMA cache_size=-65536")
    # Reads through a memory map skip a system call per page: about a third off a 1M-span aggregate. Set
    # once per connection: changing it remaps, and the pages fault in again.
    cursor.execute("PRAGMA mmap_size=1073741824")
    cursor.execute("PRAGMA wal_autocheckpoint=4000")
    cursor.close()


def _switch_to_wal(cursor: Any, wait_s: float = 10.0) -> None:
    """Put the file in WAL mode, waiting out other connections doing the same.

    A new file starts in rollback-journal mode. When two connections open it at once, both read the header
    and both ask for the exclusive lock the switch needs; SQLite answers one of them "database is locked" at
    once, without its busy handler (waiting could never end). Collectors and ``plaudit`` commands starting
    together open one new file at once, so the loser tries again until ``wait_s``, the busy timeout, has
    passed. On a file already in WAL mode the pragma changes nothing, so only a new file's first connections race.
    """
    deadline = time.monotonic() + wait_s
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def _sqlite_read_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Analytics connections: read-only, memory-mapped, and with SQLite's default temporary store and page
    cache. Sorting a few hundred thousand rows to group them is about 30% faster with those defaults than
    with the writer's settings (in-memory temporary store, 64 MiB cache), measured on a 1M-span database."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA query_only=ON")
    cursor.execute("PRAGMA mmap_size=1073741824")
    cursor.close()


IN_MEMORY = (
    "db: an in-memory SQLite database cannot be used: each of the collector's connections would open its own, "
    "empty one; give a file path (it is created if missing)"
)


def is_in_memory(url: str) -> bool:
    """True for a SQLite URL that names no file (``sqlite://``, ``:memory:``, ``mode=memory``)."""
    if not url.startswith("sqlite"):
        return False
    path, _, query = url.split("://", 1)[-1].partition("?")
    return path in ("", "/", "/:memory:") or "mode=memory" in query


class Database:
    """An engine plus the write discipline its backend needs (SQLite allows one writer at a time)."""

    def __init__(self, url: str | None = None) -> None:
        """Raises ValueError for an in-memory SQLite URL, which no pool of connections can share."""
        self.url = normalise_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        if is_in_memory(self.url):
            raise ValueError(IN_MEMORY)
        if self.is_sqlite:
            connect_args = {"check_same_thread": False, "timeout": 30}
            self.engine: Engine = create_engine(
                self.url, connect_args=connect_args, pool_size=8, max_overflow=8, json_serializer=json_text
            )
            event.listen(self.engine, "connect", _sqlite_pragmas)
            self.read_engine: Engine = create_engine(
                self.url, connect_args=connect_args, pool_size=4, max_overflow=4, json_serializer=json_text
            )
            event.listen(self.read_engine, "connect", _sqlite_read_pragmas)
        else:
            self.engine = create_engine(self.url, pool_size=10, max_overflow=10)
            _ping_when_idle(self.engine)
            # Analytics read through a pool of their own: a read ends its transaction with a ROLLBACK, after
            # which psycopg deallocates the statements the connection had prepared, and the writes' connections
            # keep theirs (see :meth:`reading`); nor can a busy dashboard hold the connections writes wait for.
            self.read_engine = create_engine(self.url, pool_size=5, max_overflow=5)
            _ping_when_idle(self.read_engine)
        self._write_lock = threading.Lock()
        self._ingest_lock = threading.Lock()

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection for a few reads on a request's way (a key, a setting, a health check), whose transaction
        ends with a COMMIT. Closing it would end it with a ROLLBACK, after which psycopg forgets every statement
        it has prepared on that connection (it cannot tell what a rolled-back transaction changed), and the
        writes that use the connection next are parsed and planned again until they are prepared anew (with API
        keys on, every request looks its key up, on whichever pooled connection is free)."""
        with self.engine.connect() as conn:
            yield conn
            conn.commit()

    def writing(self) -> AbstractContextManager[Any]:
        """Serialise writers on SQLite (avoids 'database is locked'); PostgreSQL needs no lock."""
        return self._write_lock if self.is_sqlite else nullcontext()

    def ingesting(self) -> AbstractContextManager[Any]:
        """On SQLite, one OTLP batch at a time is turned into rows and written.

        sqlite3 releases the GIL around each row's step and must win it back before the next; with another
        thread building rows in Python meanwhile, every row waits out a GIL switch interval (a convoy that
        costs 3x in throughput). Building inside this lock keeps the writer fed instead.
        """
        return self._ingest_lock if self.is_sqlite else nullcontext()

    def insert(self, table: Table) -> Any:
        """The dialect's INSERT, which offers ``on_conflict_do_nothing`` on both backends."""
        return sqlite_insert(table) if self.is_sqlite else pg_insert(table)

    def create_schema(self) -> None:
        """Create missing tables straight from the models (tests and tables not yet in a migration)."""
        SQLModel.metadata.create_all(self.engine)

    def upgrade(self, revision: str = "head", progress: Report = silent) -> None:
        """Apply the Alembic migrations up to ``revision``, telling ``progress`` how many are done and how far a
        migration that moves rows has got.

        Collectors that start together migrate one after the other: within a process on a lock (Alembic's
        context is process-global), across processes on PostgreSQL's advisory lock (see migrations/env.py)
        or SQLite's write lock, taken up front with BEGIN IMMEDIATE (pysqlite would run DDL outside any
        transaction). A database made before migrations existed (tables, no version) is stamped at the
        baseline first.
        """
        with _ALEMBIC_LOCK, self.writing(), self.engine.connect() as conn:
            if not self.is_sqlite:
                with conn.begin():
                    self._run_alembic(conn, revision, progress)
                partitions.forget(self)
                return
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                self._run_alembic(conn, revision, progress)
            except BaseException:
                if conn.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
                    conn.exec_driver_sql("ROLLBACK")
                raise
            if conn.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
                conn.exec_driver_sql("COMMIT")

    def _run_alembic(self, conn: Connection, revision: str, progress: Report) -> None:
        from alembic import command
        from alembic.script import ScriptDirectory
        from alembic.util import CommandError

        config = alembic_config(self.url)
        config.attributes["connection"] = conn
        if self.current_revision(conn) is None and inspect(conn).has_table("spans"):
            # Tables made without migrations: by ``create_all`` from these very models (then they are
            # current), or by a collector older than the migrations (then they are the baseline).
            command.stamp(config, "head" if _matches_models(conn) else BASELINE_REVISION)
        script = ScriptDirectory.from_config(config)
        try:
            total: int | None = len(list(script.iterate_revisions(revision, self.current_revision(conn) or "base")))
        except CommandError:  # a revision this version does not know: Alembic says so just below
            total = None
        applied = [0]

        def one_applied() -> None:
            applied[0] += 1
            progress("applying migrations", applied[0], total)

        if total:
            progress("applying migrations", 0, total)
        config.attributes["progress"] = progress
        config.attributes["on_applied"] = one_applied
        command.upgrade(config, revision)

    def prepare(self, *, migrate: bool = True, progress: Report = silent) -> None:
        """At startup: migrate, then create tables that no migration covers yet (``create_all`` skips the rest),
        and on PostgreSQL the day partitions of today and the next days."""
        if migrate:
            if not self.at_head():
                self.upgrade(progress=progress)
            self.create_schema()
        partitions.ensure_ahead(self, time.time_ns())

    def at_head(self) -> bool:
        """True when the version table names exactly the shipped heads: one query instead of Alembic's
        machinery (its import, the scripts' loading, env.py), which a collector at head needs only to learn
        there is nothing to do. Anything else (no version table, an older or unknown revision) is Alembic's."""
        with self.engine.connect() as conn:  # a database that cannot be reached fails here, once
            try:
                found = {row[0] for row in conn.exec_driver_sql("SELECT version_num FROM alembic_version")}
            except sa_exc.DBAPIError:  # no version table yet
                return False
        return found == head_revisions()

    def current_revision(self, conn: Connection | None = None) -> str | None:
        from alembic.runtime.migration import MigrationContext

        if conn is not None:
            return MigrationContext.configure(conn).get_current_revision()
        with self.engine.connect() as own:
            return MigrationContext.configure(own).get_current_revision()

    def check(self) -> None:
        """Raise the driver's error unless the database answers a trivial query."""
        with self.reading() as conn:
            conn.execute(text("SELECT 1"))

    def has_table(self, name: str) -> bool:
        return inspect(self.engine).has_table(name)

    def dispose(self) -> None:
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name


def _matches_models(conn: Connection) -> bool:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    opts = {"compare_type": True, **partitions.compare_options(conn.dialect.name)}
    context = MigrationContext.configure(conn, opts=opts)
    return not compare_metadata(context, SQLModel.metadata)


_REVISION_LINE = re.compile(r"^(revision|down_revision)(?::[^=]*)?\s*=\s*(.+)$", re.MULTILINE)


def head_revisions(versions: Path | None = None) -> set[str]:
    """The revisions no migration builds on, read from the scripts' ``revision``/``down_revision`` lines
    without importing them or Alembic (a test holds this equal to Alembic's own heads)."""
    revisions: set[str] = set()
    below: set[str] = set()
    for script in (versions or MIGRATIONS_DIR / "versions").glob("*.py"):
        fields = dict(_REVISION_LINE.findall(script.read_text(encoding="utf-8")))
        if "revision" not in fields:
            continue
        revisions.add(ast.literal_eval(fields["revision"]))
        down = ast.literal_eval(fields.get("down_revision", "None"))
        below.update([down] if isinstance(down, str) else down or ())
    return revisions - below


def alembic_config(url: str) -> Any:
    """An Alembic config that needs no alembic.ini: the scripts ship inside the package (works from a wheel)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config
