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
    db: Annotated[str | None, typer.Option(help="database URL or SQLite file (default: ./plaudit.db)")] = None,
    host: Annotated[str, typer.Option(help="address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on (OTLP/HTTP default)")] = 4318,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
) -> None:
    """Run the collector: OTLP/HTTP on /v1/traces, feedback on /v1/feedback, dashboard on /."""
    from plaudit_collector.db import normalise_url
    from plaudit_collector.server import serve as run

    url = normalise_url(db)
    console.print(f"[bold]Plaudit collector[/] on http://{host}:{port}  (database: {_redact(url)})")
    run(CollectorSettings(db_url=url), host, port, log_level)


@app.command()
def demo(
    db: Annotated[str, typer.Option(help="SQLite file for the demo (recreated)")] = "plaudit-demo.db",
    keep_serving: Annotated[bool, typer.Option(help="keep the collector running after the demo")] = False,
) -> None:
    """Start a collector, run examples/quickstart.py against it, print the leaderboard."""
    from plaudit_collector.demo import run_demo

    raise typer.Exit(run_demo(db, keep_serving=keep_serving, console=console))


def _redact(url: str) -> str:
    """Hide a password in a database URL before printing it."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}" if ":" in creds else url
    return url


def main() -> None:
    from plaudit_collector import cli_admin, cli_analytics

    cli_admin.register(app)
    cli_analytics.register(app)
    app()


if __name__ == "__main__":
    main()
