"""The ``plaudit`` command: serve the collector, run the demo, read the leaderboard."""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer

from plaudit_collector.cli.database import open_database
from plaudit_collector.cli.failures import CliFailure, explain, shown_url
from plaudit_collector.settings import CollectorSettings

if TYPE_CHECKING:
    from rich.console import Console

app = typer.Typer(
    help="Plaudit: LLM tracing built around human feedback.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


@cache
def _console(stderr: bool = False) -> Console:
    """Rich's console on stdout or stderr; values a user chose (URLs, names) print as they are."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, markup=False)


@contextmanager
def _loading() -> Iterator[None]:
    """Import the collector with the cyclic garbage collector off, then freeze what was loaded.

    The import makes a few hundred thousand objects (modules, tables, FastAPI's route models) that all live
    as long as the process: the garbage collector, run every few hundred allocations, would rescan them ever
    more often, about a fifth of the time to healthy. Frozen, later collections skip them too. The price:
    the thousand-odd objects the import leaves in cycles are never freed. Migrations run with it on."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.freeze()
            gc.enable()


def _plain(stream: TextIO) -> bool:
    """True when Rich would print to ``stream`` without any style (not a terminal, and no FORCE_COLOR or
    TTY_COMPATIBLE=1 saying it is one): ``plaudit serve`` in a container or a pipe then starts without Rich."""
    isatty = getattr(stream, "isatty", None)
    forced = os.environ.get("TTY_COMPATIBLE") == "1" or bool(os.environ.get("FORCE_COLOR"))
    return isatty is not None and not isatty() and not forced


def _print_version(value: bool) -> None:
    if value:
        from plaudit._version import __version__

        typer.echo(f"plaudit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", help="print the version and exit", is_eager=True, callback=_print_version)
    ] = False,
) -> None:
    """Plaudit: LLM tracing built around human feedback."""


@app.command()
def serve(
    db: Annotated[
        str | None,
        typer.Option(
            envvar="PLAUDIT_DB",
            metavar="URL",
            help="database URL or SQLite file (default: ./plaudit.db, or $PLAUDIT_DB)",
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on (OTLP/HTTP default)")] = 4318,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
    auth: Annotated[
        bool | None,
        typer.Option(
            "--auth/--no-auth",
            help="require API keys (default: off on 127.0.0.1/localhost/::1, required on any other address)",
        ),
    ] = None,
    migrate: Annotated[bool, typer.Option(help="apply database migrations at startup")] = True,
    retention_days: Annotated[
        float | None, typer.Option(help="delete spans older than this many days (default: keep everything)")
    ] = None,
    max_body_mb: Annotated[float, typer.Option(help="largest OTLP request body, in MiB (413 past it)")] = 16.0,
    max_feedback_kb: Annotated[float, typer.Option(help="largest feedback request body, in KiB")] = 1024.0,
    max_concurrent_ingests: Annotated[
        int, typer.Option(help="OTLP requests processed at once; more wait, then get 503 + Retry-After")
    ] = 4,
    ingest_wait: Annotated[float, typer.Option(help="seconds a request waits for an ingest slot before 503")] = 5.0,
    judges: Annotated[bool, typer.Option(help="run enabled LLM judges on new spans in this process")] = False,
    judge_concurrency: Annotated[int, typer.Option(min=1, help="with --judges: judge calls in flight at once")] = 4,
) -> None:
    """Run the collector: OTLP/HTTP on /v1/traces and /v1/logs, feedback on /v1/feedback, the workspace on /."""
    with _loading():
        from plaudit_collector.server import is_loopback
        from plaudit_collector.server import serve as run
        from plaudit_collector.store.db import normalise_url

    url = normalise_url(db)
    if auth is None:
        if not is_loopback(host):
            raise CliFailure(
                f"refusing to serve on {host} without API keys: create one with "
                "`plaudit keys create --project NAME` and start with --auth, or pass --no-auth to accept "
                "unauthenticated traffic from the network deliberately",
                code=2,
            )
        auth = False
    settings = CollectorSettings(
        db_url=url,
        auth=auth,
        migrate=migrate,
        retention_days=retention_days,
        max_otlp_bytes=int(max_body_mb * 1024 * 1024),
        max_feedback_bytes=int(max_feedback_kb * 1024),
        max_concurrent_ingests=max_concurrent_ingests,
        ingest_wait_seconds=ingest_wait,
        judges=judges,
        judge_concurrency=judge_concurrency,
    )
    from plaudit_collector.cli.progress import reporting

    with reporting() as report:  # a migration that moves rows says how far it is before the collector answers
        database = open_database(url, migrate=migrate, progress=report)
    if auth:
        from plaudit_collector.store.projects import has_active_keys

        if not has_active_keys(database):
            _console(stderr=True).print(
                f"Warning: --auth is on and {shown_url(url)} holds no API key, so every request will get 401. "
                f"Create one with `plaudit keys create --project NAME --db {shown_url(url)}`.",
                soft_wrap=True,
                markup=False,
            )
    mode = "API keys required" if auth else "no auth"
    where = f" on http://{host}:{port}  (database: {shown_url(url)}; {mode})"
    if _plain(sys.stdout):
        sys.stdout.write(f"Plaudit collector{where}\n")
        sys.stdout.flush()
    else:
        from rich.text import Text

        _console().print(Text.assemble(("Plaudit collector", "bold"), where), soft_wrap=True)
    run(settings, host, port, log_level, db=database)


@app.command()
def demo(
    db: Annotated[str, typer.Option(metavar="FILE", help="SQLite file for the demo (recreated)")] = "plaudit-demo.db",
    port: Annotated[
        int | None, typer.Option(metavar="PORT", help="port for the demo's collector (default: 4318 if free)")
    ] = None,
    keep_serving: Annotated[
        bool | None,
        typer.Option(
            "--keep-serving/--no-keep-serving",
            help="keep the collector and its workspace up until Ctrl-C (default: when run in a terminal)",
        ),
    ] = None,
) -> None:
    """Start a collector, run the quickstart app against it, print the leaderboard."""
    from plaudit_collector.cli.demo import run_demo

    if keep_serving is None:
        keep_serving = sys.stdin is not None and sys.stdin.isatty()
    raise typer.Exit(run_demo(db, port=port, keep_serving=keep_serving, console=_console()))


def command(*, serving: bool = False) -> Any:
    """The whole ``plaudit`` command (every group registered, help values named), as Click runs it.

    ``serving``: only the commands defined here, for a command line that runs ``plaudit serve``: the other
    groups' modules (tables, the SDK's client) are not imported by a collector that must answer quickly."""
    if not serving and not app.registered_groups:
        from plaudit_collector.cli import admin, analytics, experiments, judges, queues

        admin.register(app)
        analytics.register(app)
        experiments.register(app)
        judges.register(app)
        queues.register(app)
    built = typer.main.get_command(app)
    _name_values(built)
    return built


def main() -> None:
    """Run the CLI; a failure the user can fix is one line on stderr and a non-zero exit, not a traceback."""
    run = command(serving=sys.argv[1:2] == ["serve"])
    try:
        run(prog_name="plaudit")
    except Exception as exc:
        message = explain(exc)
        if message is None:
            raise
        _console(stderr=True).print(f"plaudit: {message}", soft_wrap=True, markup=False)
        sys.exit(exc.code if isinstance(exc, CliFailure) else 1)


def _name_values(command: Any) -> None:
    """Help names each value the way Click does (``--port INTEGER``, ``--format [table|json|csv]``, an argument
    by its name, ``KIND``) rather than by Typer's type labels (``<int range>``, ``TEXT <str>``)."""
    for param in getattr(command, "params", ()):
        kind = getattr(param, "param_type_name", "")
        if kind == "argument":
            if param.metavar is None:
                param.metavar = (param.name or "value").upper()
            param.display_type_rich = lambda ctx: None  # the argument's name says what it is
        elif kind == "option" and param.metavar is None and not getattr(param, "is_flag", False):
            label = _value_name(param.display_type(None)) if hasattr(param, "display_type") else None
            if label is not None:
                param.metavar = label
    for sub in getattr(command, "commands", {}).values():
        if sub.help:
            sub.help = sub.help.replace("``", "`")  # docstrings quote code for Sphinx; help quotes it once
            sub.short_help = sub.short_help or _first_clause(sub.help)
        _name_values(sub)


def _first_clause(text: str) -> str:
    """A command's line in its group's list: its help's first sentence, whole and wrapped (Click would cut it
    with ``...`` to fit 80 columns)."""
    first = " ".join(text.split("\n\n", 1)[0].split()).split(". ", 1)[0]
    return first.rstrip(".") + "."


_VALUE_NAMES = {"str": "TEXT", "int": "INTEGER", "int range": "INTEGER", "float": "NUMBER", "float range": "NUMBER"}
_VALUE_NAMES |= {"path": "PATH", "datetime": "TEXT"}


def _value_name(label: str) -> str | None:
    """``<int range>`` → ``INTEGER``, ``<table|json|csv>`` → ``[table|json|csv]``, ``<list[str]>`` → ``TEXT``."""
    inner = label.strip("<>")
    if inner.startswith("list[") and inner.endswith("]"):
        inner = inner[5:-1]
    if "|" in inner:
        return f"[{inner}]"
    return _VALUE_NAMES.get(inner)
