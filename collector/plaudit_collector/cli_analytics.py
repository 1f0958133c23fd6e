"""``plaudit leaderboard`` and the other read-side commands, printed as tables."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def register(app: typer.Typer) -> None:
    """Add the analytics commands to the ``plaudit`` CLI."""
    app.command()(leaderboard)


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


def print_leaderboard(board: dict[str, Any], out: Console) -> None:
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
