"""``plaudit leaderboard``, ``compare``, ``trend``, ``agreement``, ``segments``, ``preferences``, ``export``
and ``traces``: the read side as tables, through the same ``plaudit.Client`` an analyst uses.

Options come from the query vocabulary (:mod:`.query_options`); tables are laid out by :mod:`.views` and
printed by :mod:`.output` (fitted to the terminal, plain text in a pipe, or ``--format json|csv``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console

from plaudit_collector.cli import views
from plaudit_collector.cli.failures import CliFailure
from plaudit_collector.cli.output import show
from plaudit_collector.cli.progress import reporting
from plaudit_collector.cli.query_options import vocabulary_options
from plaudit_collector.store.progress import silent

console = Console(highlight=False, markup=False)  # every value printed is the user's own

Endpoint = Annotated[str | None, typer.Option(metavar="URL", help="collector URL (default $PLAUDIT_ENDPOINT)")]
ApiKey = Annotated[str | None, typer.Option(metavar="KEY", help="API key (default $PLAUDIT_API_KEY)")]
Format = Annotated[
    Literal["table", "json", "csv"],
    typer.Option("--format", help="table (plain text when piped), json (the whole reply) or csv"),
]


def register(app: typer.Typer) -> None:
    """Add the analytics commands to the ``plaudit`` CLI."""
    for command in (leaderboard, compare, trend, agreement, segments, preferences, export, traces):
        app.command()(command)


def _ask(endpoint: str | None, api_key: str | None, call: Callable[[Any], Any]) -> Any:
    import plaudit

    with plaudit.Client(endpoint, api_key) as client:
        try:
            return call(client)
        except (ValueError, TypeError) as exc:
            raise CliFailure(str(exc), code=2) from None


@vocabulary_options("leaderboard")
def leaderboard(
    endpoint: Endpoint = None, api_key: ApiKey = None, fmt: Format = "table", *, asked: dict[str, Any]
) -> None:
    """Print the leaderboard for a score, best first, with confidence intervals and span health."""
    data = _ask(endpoint, api_key, lambda c: c.leaderboard(**asked)).model_dump(mode="json")
    show(views.leaderboard(data), data, fmt, console)


@vocabulary_options("compare")
def compare(endpoint: Endpoint = None, api_key: ApiKey = None, fmt: Format = "table", *, asked: dict[str, Any]) -> None:
    """Compare group A with group B: difference, interval, p-value and P(A better)."""
    result = _ask(endpoint, api_key, lambda c: c.compare(**asked)).model_dump(mode="json")
    show(views.compare(result, asked["score"]), result, fmt, console)


@vocabulary_options("trend")
def trend(endpoint: Endpoint = None, api_key: ApiKey = None, fmt: Format = "table", *, asked: dict[str, Any]) -> None:
    """Print a score per time bucket (and group), flagging significant changes."""
    result = _ask(endpoint, api_key, lambda c: c.trend(**asked)).model_dump(mode="json")
    show(views.trend(result, asked["score"], result["bucket"]), result, fmt, console)


@vocabulary_options("agreement")
def agreement(
    endpoint: Endpoint = None, api_key: ApiKey = None, fmt: Format = "table", *, asked: dict[str, Any]
) -> None:
    """How well two raters agree: kappa, Spearman and the confusion table per score."""
    result = _ask(endpoint, api_key, lambda c: c.agreement(**asked)).model_dump(mode="json")
    show(views.agreement(result, result["rater_a"], result["rater_b"]), result, fmt, console)


@vocabulary_options("segments")
def segments(
    endpoint: Endpoint = None, api_key: ApiKey = None, fmt: Format = "table", *, asked: dict[str, Any]
) -> None:
    """Per-segment rankings, flagging segments where the overall leader loses."""
    result = _ask(endpoint, api_key, lambda c: c.segments(**asked)).model_dump(mode="json")
    show(views.segments(result, asked["score"], asked["segment"]), result, fmt, console)


@vocabulary_options("preferences")
def preferences(
    endpoint: Endpoint = None, api_key: ApiKey = None, fmt: Format = "table", *, asked: dict[str, Any]
) -> None:
    """Pairwise preferences: win scores and a Bradley–Terry ranking with 95% intervals."""
    result = _ask(endpoint, api_key, lambda c: c.preferences(**asked)).model_dump(mode="json")
    show(views.preferences(result, result["score"]), result, fmt, console)


@vocabulary_options("export_spans", "export_finetune", "export_preferences")
def export(
    kind: Annotated[str, typer.Argument(help="spans, finetune or preferences")] = "spans",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="write here instead of stdout")] = None,
    endpoint: Endpoint = None,
    api_key: ApiKey = None,
    *,
    asked: dict[str, Any],
) -> None:
    """Stream an export as JSON lines (spans with feedback, a fine-tuning set, or preference pairs)."""
    if kind not in ("spans", "finetune", "preferences"):
        raise CliFailure("kind must be spans, finetune or preferences", code=2)
    options = asked

    def lines(client: Any) -> Iterator[dict[str, Any]]:
        yield from client.export(kind, **options)

    def write(client: Any) -> int:
        count = 0
        handle = out.open("w", encoding="utf-8") if out else sys.stdout
        task = f"exporting {kind} to {out}"
        try:
            with reporting() if out else nullcontext(silent) as report:
                for row in lines(client):
                    handle.write(json.dumps(row, ensure_ascii=False) + "\n")
                    count += 1
                    report(task, count, None)
                report(task, count, count)
        finally:
            if out:
                handle.close()
        return count

    count = _ask(endpoint, api_key, write)
    if out:
        console.print(f"wrote {count} line(s) to {out}")


@vocabulary_options("traces")
def traces(endpoint: Endpoint = None, api_key: ApiKey = None, fmt: Format = "table", *, asked: dict[str, Any]) -> None:
    """Search traces: text, status, feedback, score and latency filters; newest first by default."""
    page = _ask(endpoint, api_key, lambda c: c.traces(**asked)).model_dump(mode="json")
    show(views.traces(page), page, fmt, console)
