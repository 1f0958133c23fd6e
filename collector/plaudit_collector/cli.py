"""The ``plaudit`` command: serve the collector, run the demo, read the leaderboard."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

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


@app.command()
def leaderboard(
    score: Annotated[str, typer.Option(help="feedback name to rank by")],
    by: Annotated[list[str] | None, typer.Option(help="dimension to group by; repeatable")] = None,
    endpoint: Annotated[str | None, typer.Option(help="collector URL (default $PLAUDIT_ENDPOINT)")] = None,
    api_key: Annotated[str | None, typer.Option(help="API key (default $PLAUDIT_API_KEY)")] = None,
) -> None:
    """Print the leaderboard for a score, best first, with 95% intervals."""
    import plaudit

    with plaudit.Client(endpoint, api_key) as client:
        try:
            board = client.leaderboard(score, group_by=by or ["variant"])
        except ValueError as exc:
            console.print(f"[red]{exc}[/]")
            raise typer.Exit(2) from None
    print_leaderboard(board.model_dump(), console)


def print_leaderboard(board: dict, out: Console) -> None:  # type: ignore[type-arg]
    """Render a leaderboard reply as a table, best first, then the verdict."""
    table = Table(title=f"Leaderboard: {board['score']} by {', '.join(board['group_by'])}")
    table.add_column("#", justify="right")
    for dim in board["group_by"]:
        table.add_column(dim)
    table.add_column("mean", justify="right")
    table.add_column("95% CI", justify="right")
    table.add_column("ratings", justify="right")
    table.add_column("spans", justify="right")
    leader = board.get("leader")
    for rank, row in enumerate(board["rows"], start=1):
        ci = "–" if row["ci_low"] is None else f"[{row['ci_low']:.3f}, {row['ci_high']:.3f}]"
        mark = " ★" if leader is not None and row["group"] == leader else ""
        table.add_row(
            str(rank),
            *[str(row["group"].get(dim)) + (mark if i == 0 else "") for i, dim in enumerate(board["group_by"])],
            "–" if row["mean"] is None else f"{row['mean']:.3f}",
            ci,
            str(row["count"]),
            str(row["spans"]),
        )
    out.print(table)
    if board.get("verdict"):
        out.print(f"[italic]{board['verdict']}[/]")


def _redact(url: str) -> str:
    """Hide a password in a database URL before printing it."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}" if ":" in creds else url
    return url


def main() -> None:
    app()


if __name__ == "__main__":
    main()
