"""Administrative commands: API keys, projects and database migrations.

They talk to the database directly (not to a running collector), so they work before the first ``serve``
and on a collector that requires keys.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

console = Console()

DbOption = Annotated[
    str | None, typer.Option("--db", help="database URL or SQLite file (default: ./plaudit.db, or $PLAUDIT_DB)")
]

keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
projects_app = typer.Typer(help="List projects and change their settings.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema and retention.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the admin commands to the ``plaudit`` CLI."""
    app.add_typer(keys_app, name="keys")
    app.add_typer(projects_app, name="projects")
    app.add_typer(db_app, name="db")


def _database(db: str | None) -> object:
    """An up-to-date database: admin commands migrate first, as ``serve`` does."""
    import os

    from plaudit_collector.store.db import Database

    database = Database(db or os.environ.get("PLAUDIT_DB") or None)
    database.prepare()
    return database


def _check_project(project: str) -> None:
    from plaudit_collector.store.projects import valid_project_name

    if not valid_project_name(project):
        console.print(f"[red]Invalid project name {project!r}:[/] use letters, digits, '.', '_' or '-' (max 100).")
        raise typer.Exit(2)


@keys_app.command("create")
def keys_create(
    project: Annotated[str, typer.Option(help="project the key reads and writes")],
    name: Annotated[str | None, typer.Option(help="a label to recognise the key by")] = None,
    store_content: Annotated[
        bool | None,
        typer.Option("--store-content/--no-store-content", help="keep message content (inputs/outputs) at ingest"),
    ] = None,
    db: DbOption = None,
) -> None:
    """Create an API key and print it once: only its hash is stored."""
    from plaudit_collector.store import projects

    _check_project(project)
    database = _database(db)
    if store_content is not None:
        projects.ensure_project(database, project, store_content=store_content)  # type: ignore[arg-type]
    key, key_id = projects.create_key(database, project, name=name)  # type: ignore[arg-type]
    console.print(f"API key {key_id} for project [bold]{project}[/] (shown once; store it now):", highlight=False)
    typer.echo(key)


@keys_app.command("list")
def keys_list(
    project: Annotated[str | None, typer.Option(help="only this project's keys")] = None, db: DbOption = None
) -> None:
    """List keys (prefix only; the keys themselves are not stored)."""
    from plaudit_collector.store import projects

    table = Table("id", "project", "name", "prefix", "created", "revoked")
    for key in projects.list_keys(_database(db), project):  # type: ignore[arg-type]
        table.add_row(
            str(key["id"]),
            key["project"],
            key["name"] or "",
            key["prefix"] + "…",
            projects.describe_time(key["created_at"]),
            projects.describe_time(key["revoked_at"]),
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[int, typer.Argument(help="id shown by `plaudit keys list`")], db: DbOption = None
) -> None:
    """Revoke a key: requests carrying it get 401 from then on."""
    from plaudit_collector.store import projects

    if not projects.revoke_key(_database(db), key_id):  # type: ignore[arg-type]
        console.print(f"[red]No active key with id {key_id}.[/]")
        raise typer.Exit(1)
    console.print(f"Key {key_id} revoked.")


@projects_app.command("list")
def projects_list(db: DbOption = None) -> None:
    """List projects that have settings or keys."""
    from plaudit_collector.store import projects

    table = Table("project", "store content", "created")
    for project in projects.list_projects(_database(db)):  # type: ignore[arg-type]
        table.add_row(
            project["name"], "yes" if project["store_content"] else "no", projects.describe_time(project["created_at"])
        )
    console.print(table)


@projects_app.command("set")
def projects_set(
    project: Annotated[str, typer.Argument(help="project name")],
    store_content: Annotated[
        bool,
        typer.Option(
            "--store-content/--no-store-content",
            help="--no-store-content drops inputs, outputs and messages at ingest for this project",
        ),
    ],
    db: DbOption = None,
) -> None:
    """Change a project's settings (creating the project if needed)."""
    from plaudit_collector.store import projects

    _check_project(project)
    settings = projects.ensure_project(_database(db), project, store_content=store_content)  # type: ignore[arg-type]
    console.print(f"Project {settings.name}: store content = {'yes' if settings.store_content else 'no'}")


@db_app.command("upgrade")
def db_upgrade(db: DbOption = None, revision: Annotated[str, typer.Option(help="target revision")] = "head") -> None:
    """Apply the schema migrations (``plaudit serve`` does this at startup unless --no-migrate)."""
    import os

    from plaudit_collector.store.db import Database

    database = Database(db or os.environ.get("PLAUDIT_DB") or None)
    database.upgrade(revision)
    console.print(f"Database at revision {database.current_revision()}")
    database.dispose()


@db_app.command("revision")
def db_revision(
    message: Annotated[str, typer.Option("--message", "-m", help="what the migration changes")],
    rev_id: Annotated[str | None, typer.Option(help="revision id (default: generated)")] = None,
    db: DbOption = None,
) -> None:
    """Autogenerate a migration from the difference between the tables in code and the database at --db."""
    import os

    from alembic import command

    from plaudit_collector.store.db import Database, alembic_config

    database = Database(db or os.environ.get("PLAUDIT_DB") or None)
    database.upgrade()
    command.revision(alembic_config(database.url), message=message, autogenerate=True, rev_id=rev_id)
    database.dispose()


@db_app.command("prune")
def db_prune(
    retention_days: Annotated[float, typer.Option(help="delete spans older than this many days")],
    db: DbOption = None,
) -> None:
    """Delete old spans, their log events and the feedback left without a span, in bounded batches."""
    from plaudit_collector.store.retention import sweep

    result = sweep(_database(db), retention_days)  # type: ignore[arg-type]
    console.print(f"Deleted {result.spans} spans, {result.feedback} feedback rows, {result.events} log events.")


@db_app.command("rebuild")
def db_rebuild(db: DbOption = None) -> None:
    """Recompute the span rollup and the feedback's span copies from the stored spans.

    Ingest and retention keep both up to date; run this after collectors of a version before the rollup
    wrote to a migrated database (a rolling upgrade), or after loading spans straight into the tables."""
    from plaudit_collector.store import copies, rollup

    database = _database(db)
    with database.writing(), database.engine.begin() as conn:  # type: ignore[attr-defined]
        copies.forget_missing(conn, 2**63 - 1)
        resolved = copies.resolve_all(conn)
        cells = rollup.rebuild(conn, database.dialect)  # type: ignore[attr-defined]
    console.print(f"Rollup rebuilt: {cells} cells; {resolved} feedback rows credited to their spans.")
    database.dispose()  # type: ignore[attr-defined]
