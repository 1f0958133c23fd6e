"""The ``plaudit`` command: serve the collector, run the demo, read the leaderboard."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from plaudit_collector.settings import CollectorSettings

app = typer.Typer(help="Plaudit: LLM tracing built around human feedback.", no_args_is_help=True, add_completion=False)
console = Console()


@app.command()
def serve(
    db: Annotated[
        str | None,
        typer.Option(envvar="PLAUDIT_DB", help="database URL or SQLite file (default: ./plaudit.db, or $PLAUDIT_DB)"),
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
) -> None:
    """Run the collector: OTLP/HTTP on /v1/traces and /v1/logs, feedback on /v1/feedback, the workspace on /."""
    from plaudit_collector.server import is_loopback
    from plaudit_collector.server import serve as run
    from plaudit_collector.store.db import normalise_url

    url = normalise_url(db)
    if auth is None:
        if not is_loopback(host):
            console.print(
                f"[red]Refusing to serve on {host} without API keys.[/] Create one with "
                "`plaudit keys create --project NAME` and start with --auth, or pass --no-auth to accept "
                "unauthenticated traffic from the network deliberately."
            )
            raise typer.Exit(2)
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
    )
    mode = "API keys required" if auth else "no auth"
    console.print(f"[bold]Plaudit collector[/] on http://{host}:{port}  (database: {_redact(url)}; {mode})")
    run(settings, host, port, log_level)


@app.command()
def demo(
    db: Annotated[str, typer.Option(help="SQLite file for the demo (recreated)")] = "plaudit-demo.db",
    keep_serving: Annotated[bool, typer.Option(help="keep the collector running after the demo")] = False,
) -> None:
    """Start a collector, run examples/quickstart.py against it, print the leaderboard."""
    from plaudit_collector.cli.demo import run_demo

    raise typer.Exit(run_demo(db, keep_serving=keep_serving, console=console))


def _redact(url: str) -> str:
    """Hide a password in a database URL before printing it."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}" if ":" in creds else url
    return url


def main() -> None:
    from plaudit_collector.cli import admin, analytics, queues

    admin.register(app)
    analytics.register(app)
    queues.register(app)
    app()
