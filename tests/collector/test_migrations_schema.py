"""Alembic migrations build exactly the schema the tables declare, on SQLite and PostgreSQL.

When this fails after a table change, regenerate or add a revision:
``plaudit db revision -m "what changed" --db sqlite:///tmp/scratch.db`` (see docs/deploy.md).
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlmodel import SQLModel

from plaudit_collector.store import partitions
from plaudit_collector.store.db import Database, alembic_config, head_revisions


def schema_diff(db: Database) -> list[object]:
    with db.engine.connect() as conn:
        opts = {"compare_type": True, **partitions.compare_options(conn.dialect.name)}
        context = MigrationContext.configure(conn, opts=opts)
        return list(compare_metadata(context, SQLModel.metadata))


def test_upgrade_head_matches_the_tables(db_url: str) -> None:
    db = Database(db_url)
    try:
        db.upgrade()
        assert db.current_revision() is not None
        assert schema_diff(db) == []
        tables = set(inspect(db.engine).get_table_names())
        assert set(SQLModel.metadata.tables) <= tables
        db.upgrade()  # a second run is a no-op
        assert schema_diff(db) == []
    finally:
        db.dispose()


def test_the_feedback_index_a_longer_one_covers_is_dropped(db_url: str) -> None:
    """0014: ``ix_feedback_kinds`` starts with the columns of ``ix_feedback_project_name``, which goes."""
    db = Database(db_url)

    def indexes() -> set[str]:
        return {index["name"] for index in inspect(db.engine).get_indexes("feedback")}

    try:
        db.upgrade("0013_trace_days")
        assert {"ix_feedback_project_name", "ix_feedback_kinds"} <= indexes()
        db.upgrade()
        assert "ix_feedback_project_name" not in indexes() and "ix_feedback_kinds" in indexes()
        assert schema_diff(db) == []
    finally:
        db.dispose()


def all_at_once(work: Callable[[Database], object], databases: list[Database]) -> list[BaseException]:
    """Run ``work`` on each database in its own thread, released together; the exceptions they raised."""
    together = threading.Barrier(len(databases))
    errors: list[BaseException] = []

    def run(db: Database) -> None:
        together.wait()
        try:
            work(db)
        except BaseException as exc:  # collected and re-raised by the test thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(db,)) for db in databases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_collectors_starting_together_migrate_once(db_url: str) -> None:
    databases = [Database(db_url) for _ in range(3)]
    try:
        assert all_at_once(Database.prepare, databases) == []
        assert schema_diff(databases[0]) == []
    finally:
        for db in databases:
            db.dispose()


def test_connections_opening_a_new_file_together_all_get_in(tmp_path: Path) -> None:
    """Each connection switches a new SQLite file to WAL; two doing so at once used to fail one of them."""
    failures: list[BaseException] = []
    for round_ in range(200):
        databases = [Database(str(tmp_path / f"new-{round_}.db")) for _ in range(6)]
        failures += all_at_once(Database.check, databases)
        with databases[0].engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        for db in databases:
            db.dispose()
    assert failures == []


def test_database_from_before_migrations_is_adopted(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    try:
        db.create_schema()  # how the collector made its schema before migrations existed
        db.upgrade()
        assert db.current_revision() is not None
        assert schema_diff(db) == []
    finally:
        db.dispose()


def test_plaudit_db_upgrade_command(tmp_path: Path, plaudit_cli: list[str]) -> None:
    result = subprocess.run(
        [*plaudit_cli, "db", "upgrade", "--db", str(tmp_path / "cli.db")], capture_output=True, text=True, check=True
    )
    assert "revision" in result.stdout
    db = Database(str(tmp_path / "cli.db"))
    try:
        assert schema_diff(db) == []
    finally:
        db.dispose()


def test_head_revisions_are_alembics() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert head_revisions() == set(script.get_heads())


def test_head_revisions_after_a_branch_and_a_merge(tmp_path: Path) -> None:
    scripts = {
        "a": ('"""revision notes that mention revision and down_revision"""', "None"),
        "b": ("", '"a"'),
        "c": ("", '"a"'),
        "d": ("", '("b", "c")'),
        "e": ("", '"d"'),
        "f": ("", '"d"'),
    }
    for name, (doc, down) in scripts.items():
        (tmp_path / f"{name}.py").write_text(
            f'{doc}\nrevision: str = "{name}"\ndown_revision: str | tuple[str, ...] | None = {down}\n'
        )
    assert head_revisions(tmp_path) == {"e", "f"}


def test_start_reads_the_version_and_migrates_only_an_older_database(db_url: str) -> None:
    db = Database(db_url)
    try:
        assert not db.at_head()  # no version table yet
        older = ScriptDirectory.from_config(alembic_config(db_url)).get_revision("head").down_revision
        assert isinstance(older, str)
        db.upgrade(older)
        assert not db.at_head()
        db.prepare()
        assert db.at_head() and db.current_revision() in head_revisions()
        assert schema_diff(db) == []
        db.prepare()  # at head: a no-op
        assert schema_diff(db) == []
    finally:
        db.dispose()


def test_migrations_of_two_schemas_in_one_database_do_not_wait_for_each_other(
    pg_url: str, plaudit_cli: list[str]
) -> None:
    """The migration and partition locks are per schema: held for one schema, they stop that schema's upgrade
    only; the other schema's upgrade runs every migration, day partitions included."""
    from sqlalchemy import create_engine
    from tests.conftest import _pg_schema

    from plaudit_collector.store.db import MIGRATION_LOCK, MIGRATION_LOCK_ID

    holder = create_engine(pg_url)
    try:
        with _pg_schema() as other_url, holder.connect() as conn:
            conn.execute(MIGRATION_LOCK, {"key": MIGRATION_LOCK_ID})  # a collector migrating pg_url's schema,
            partitions.lock(conn)  # inside a migration that creates day partitions (0009 does)
            same = subprocess.Popen([*plaudit_cli, "db", "upgrade", "--db", pg_url], stdout=subprocess.DEVNULL)
            try:
                other = subprocess.run(
                    [*plaudit_cli, "db", "upgrade", "--db", other_url], capture_output=True, text=True, timeout=120
                )
                assert other.returncode == 0, other.stderr[-2000:]
                assert same.poll() is None, "the same schema's upgrade waits for the lock"
                conn.rollback()  # the lock goes with the transaction
                assert same.wait(120) == 0
            finally:
                same.kill()
    finally:
        holder.dispose()
