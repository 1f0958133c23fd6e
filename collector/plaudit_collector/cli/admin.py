"""Administrative commands: API keys, projects and database migrations.

They talk to the database directly (not to a running collector), so they work before the first ``serve``
and on a collector that requires keys.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from plaudit_collector.cli.database import admin_database, database_errors
from plaudit_collector.cli.failures import CliFailure
from plaudit_collector.cli.output import Column, View, show
from plaudit_collector.cli.progress import reporting

console = Console(highlight=False, markup=False)

DbOption = Annotated[
    str | None,
    typer.Option("--db", metavar="URL", help="database URL or SQLite file (default: ./plaudit.db, or $PLAUDIT_DB)"),
]

keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
projects_app = typer.Typer(help="List projects and change their settings.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema and retention.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the admin commands to the ``plaudit`` CLI."""
    app.add_typer(keys_app, name="keys")
    app.add_typer(projects_app, name="projects")
    app.add_typer(db_app, name="db")


def _database(db: str | None, *, must_exist: bool = False) -> Any:
    """An up-to-date database: admin commands migrate first, as ``serve`` does."""
    return admin_database(db, must_exist=must_exist)


def _check_project(project: str) -> None:
    from plaudit_collector.store.projects import valid_project_name

    if not valid_project_name(project):
        raise CliFailure(f"invalid project name {project!r}: use letters, digits, '.', '_' or '-' (max 100)", code=2)


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
        projects.ensure_project(database, project, store_content=store_content)
    key, key_id = projects.create_key(database, project, name=name)
    console.print(Text.assemble(f"API key {key_id} for project ", (project, "bold"), " (shown once; store it now):"))
    typer.echo(key)


@keys_app.command("list")
def keys_list(
    project: Annotated[str | None, typer.Option(help="only this project's keys")] = None, db: DbOption = None
) -> None:
    """List keys (prefix only; the keys themselves are not stored)."""
    from plaudit_collector.store import projects

    columns = [Column("id", "int"), Column("project", "group"), Column("name", "text"), Column("prefix", "text")]
    columns += [Column("created", "text"), Column("revoked", "text")]
    rows = [
        [
            key["id"],
            key["project"],
            key["name"] or "",
            key["prefix"] + "…",
            projects.describe_time(key["created_at"]),
            projects.describe_time(key["revoked_at"]),
        ]
        for key in projects.list_keys(_database(db, must_exist=True), project)
    ]
    show([View("", columns, rows)], None, "table", console)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[int, typer.Argument(help="id shown by `plaudit keys list`")], db: DbOption = None
) -> None:
    """Revoke a key: requests carrying it get 401 from then on."""
    from plaudit_collector.store import projects

    if not projects.revoke_key(_database(db, must_exist=True), key_id):
        raise CliFailure(f"no active key with id {key_id} (`plaudit keys list` shows them)")
    console.print(f"Key {key_id} revoked.")


@projects_app.command("list")
def projects_list(db: DbOption = None) -> None:
    """List projects that have settings or keys."""
    from plaudit_collector.store import projects

    columns = [
        Column("project", "group"),
        Column("store content", "text"),
        Column("dimensions", "text"),
        Column("created", "text"),
    ]
    rows = [
        [
            p["name"],
            "yes" if p["store_content"] else "no",
            _dimensions_text(p["dimensions"], p["dimensions_ready"]),
            projects.describe_time(p["created_at"]),
        ]
        for p in projects.list_projects(_database(db, must_exist=True))
    ]
    show([View("", columns, rows)], None, "table", console)


def _dimensions_text(keys: list[str], ready: bool) -> str:
    if not keys:
        return "-"
    return ", ".join(f"attr.{key}" for key in keys) + ("" if ready else " (filling in)")


@projects_app.command("set")
def projects_set(
    project: Annotated[str, typer.Argument(help="project name")],
    store_content: Annotated[
        bool | None,
        typer.Option(
            "--store-content/--no-store-content",
            help="--no-store-content drops inputs, outputs and messages at ingest for this project",
        ),
    ] = None,
    dimension: Annotated[
        list[str] | None,
        typer.Option(
            "--dimension",
            metavar="KEY",
            help="a span attribute key analysed often (up to 3; repeat the option): attr.KEY questions then "
            "read the rollups; replaces the keys declared before",
        ),
    ] = None,
    no_dimensions: Annotated[bool, typer.Option("--no-dimensions", help="declare no attribute keys")] = False,
    db: DbOption = None,
) -> None:
    """Change a project's settings (creating the project if needed).

    Declaring attribute keys fills them in for the spans already stored (a progress bar shows how far);
    until that has finished, questions about them read every span, as for any undeclared key."""
    from plaudit_collector.store import dimensions, projects

    _check_project(project)
    if store_content is None and dimension is None and not no_dimensions:
        raise CliFailure("nothing to change: give --store-content/--no-store-content or --dimension KEY", code=2)
    if dimension and no_dimensions:
        raise CliFailure("give either --dimension or --no-dimensions, not both", code=2)
    keys = [] if no_dimensions else dimension
    if keys is not None:
        try:
            dimensions.check_keys(keys)
        except ValueError as error:
            raise CliFailure(str(error), code=2) from None
    database = _database(db)
    settings = projects.ensure_project(database, project, store_content=store_content)
    console.print(f"Project {settings.name}: store content = {'yes' if settings.store_content else 'no'}")
    if keys is not None:
        with reporting() as report, database_errors(database.url):
            state = dimensions.declare(database, project, keys, progress=report)
        console.print(f"Project {settings.name}: dimensions = {_dimensions_text(state.named, state.ready)}")
    database.dispose()


@db_app.command("upgrade")
def db_upgrade(db: DbOption = None, revision: Annotated[str, typer.Option(help="target revision")] = "head") -> None:
    """Apply the schema migrations (``plaudit serve`` does this at startup unless --no-migrate)."""
    database = admin_database(db, migrate=False)
    with database_errors(database.url), reporting() as report:
        database.upgrade(revision, progress=report)
    with database_errors(database.url):
        console.print(f"Database at revision {database.current_revision()}")
    database.dispose()


@db_app.command("revision")
def db_revision(
    message: Annotated[str, typer.Option("--message", "-m", help="what the migration changes")],
    rev_id: Annotated[str | None, typer.Option(help="revision id (default: generated)")] = None,
    db: DbOption = None,
) -> None:
    """Autogenerate a migration from the difference between the tables in code and the database at --db."""
    from alembic import command

    from plaudit_collector.store.db import alembic_config

    database = _database(db)
    command.revision(alembic_config(database.url), message=message, autogenerate=True, rev_id=rev_id)
    database.dispose()


@db_app.command("prune")
def db_prune(
    retention_days: Annotated[float, typer.Option(help="delete spans older than this many days")],
    db: DbOption = None,
) -> None:
    """Delete old spans, their log events and the feedback left without a span: on PostgreSQL whole days at
    once (their partitions are dropped), the rest in bounded batches."""
    from plaudit_collector.store.retention import sweep

    with reporting() as report:
        database = admin_database(db, must_exist=True, progress=report)
        with database_errors(database.url):
            result = sweep(database, retention_days, progress=report)
    days = f" ({result.partitions} whole days)" if result.partitions else ""
    console.print(f"Deleted {result.spans} spans{days}, {result.feedback} feedback rows, {result.events} log events.")
    database.dispose()


@db_app.command("rebuild")
def db_rebuild(db: DbOption = None) -> None:
    """Recompute the span rollup, the feedback's span copies, the score rollup and (PostgreSQL) the days of each
    trace from the stored rows.

    Ingest, feedback writes and retention keep them up to date; run this after collectors of an earlier
    version wrote to a migrated database (a rolling upgrade), or after loading rows straight into the tables."""
    from plaudit_collector.store import maintenance

    with reporting() as report:
        database = admin_database(db, must_exist=True, progress=report)
        with database_errors(database.url):
            cells, resolved, score_cells = maintenance.rebuild(database, progress=report)
    console.print(
        f"Rollup rebuilt: {cells} cells; {resolved} feedback rows credited to their spans; "
        f"score rollup: {score_cells} cells."
    )
    database.dispose()
