"""``plaudit queues …``: create review queues, see their progress, and review from the terminal, through the
same ``plaudit.Client`` (so it works against any collector)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from plaudit_collector.cli.analytics import _ask  # one way to ask the collector and report its refusal

console = Console()
app = typer.Typer(help="Review queues: spans to rate one at a time, by one or more reviewers.", no_args_is_help=True)

Endpoint = Annotated[str | None, typer.Option(help="collector URL (default $PLAUDIT_ENDPOINT)")]
ApiKey = Annotated[str | None, typer.Option(help="API key (default $PLAUDIT_API_KEY)")]
Reviewer = Annotated[str, typer.Option(help="your name, stored as the feedback's author")]


def register(parent: typer.Typer) -> None:
    """Add ``plaudit queues`` to the CLI."""
    parent.add_typer(app, name="queues")


def _pairs(values: list[str] | None, option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            console.print(f"[red]{option}: expected name=value, got {item!r}[/]")
            raise typer.Exit(2)
        out[key] = value
    return out


def _value(text: str) -> Any:
    """A rating typed on the command line: true/false, a number, else a label."""
    lowered = text.strip().lower()
    if lowered in ("true", "yes", "y"):
        return True
    if lowered in ("false", "no", "n"):
        return False
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() and "." not in text else number


@app.command("list")
def list_queues(endpoint: Endpoint = None, api_key: ApiKey = None) -> None:
    """The queues with their progress."""
    queues = _ask(endpoint, api_key, lambda c: c.queues())
    table = Table(show_edge=False)
    for column in ("id", "name", "kind", "scores", "items", "overlap", "progress", "reviewers"):
        table.add_column(column, justify="right" if column in ("id", "items", "overlap", "progress") else "left")
    for q in queues:
        reviewers = ", ".join(r["reviewer"] for r in q.progress.get("reviewers", []))
        percent = f"{q.progress.get('percent', 0):.0f}%"
        table.add_row(str(q.id), q.name, q.kind, ", ".join(q.scores), str(q.items), str(q.overlap), percent, reviewers)
    console.print(table if queues else "No review queue yet: `plaudit queues create NAME --score thumbs`.")


@app.command()
def create(
    name: Annotated[str, typer.Argument(help="what the queue is for")],
    score: Annotated[list[str] | None, typer.Option("--score", help="score to fill; repeatable")] = None,
    filter_: Annotated[
        list[str] | None,
        typer.Option("--filter", help="trace-search term as name=value, e.g. --filter span_kind=llm; repeatable"),
    ] = None,
    sample: Annotated[int | None, typer.Option(help="how many items (default: every match)")] = None,
    overlap: Annotated[int, typer.Option(help="different reviewers per item")] = 1,
    order: Annotated[
        str,
        typer.Option(
            help="random, oldest, newest, disagreement (judge-human disagreement on the first score first) or "
            "informative (the spans whose human rating would narrow the answer most first)"
        ),
    ] = "random",
    pairwise: Annotated[bool, typer.Option(help="pairs of spans with the same input from two variants")] = False,
    endpoint: Endpoint = None,
    api_key: ApiKey = None,
) -> None:
    """Create a queue from the spans matching the filters."""
    terms: dict[str, Any] = {}
    for key, value in _pairs(filter_, "--filter").items():
        if key in ("where", "metadata", "span_name", "span_kind", "tag", "source"):
            terms.setdefault(key, []).append(value)
        elif key in ("min_score", "max_score"):
            terms[key] = _value(value)
        else:
            terms[key] = value
    queue = _ask(
        endpoint,
        api_key,
        lambda c: c.create_queue(
            name,
            score or [],
            filter=terms,
            sample=sample,
            overlap=overlap,
            order=order,
            kind="pairwise" if pairwise else "single",
        ),
    )
    console.print(f"Queue {queue.id} “{queue.name}”: {queue.items} items, {queue.overlap} reviewer(s) each.")


@app.command()
def show(
    queue_id: Annotated[int, typer.Argument(help="the queue's id")], endpoint: Endpoint = None, api_key: ApiKey = None
) -> None:
    """One queue's progress, overall and per reviewer."""
    q = _ask(endpoint, api_key, lambda c: c.queue(queue_id))
    p = q.progress
    console.print(
        f"[bold]{q.name}[/] ({q.kind}, scores: {', '.join(q.scores)}): {p['ratings']} of {p['needed']} ratings, "
        f"{p['completed_items']} of {p['items']} items complete ({p['percent']:.0f}%)"
    )
    for r in p.get("reviewers", []):
        console.print(f"  {r['reviewer']}: {r['done']} done, {r['skipped']} skipped, {r['reserved']} held")


@app.command("next")
def next_item(
    queue_id: Annotated[int, typer.Argument(help="the queue's id")],
    reviewer: Reviewer,
    endpoint: Endpoint = None,
    api_key: ApiKey = None,
) -> None:
    """Reserve the next item for you and print it as JSON (nothing left: exit code 3)."""
    item = _ask(endpoint, api_key, lambda c: c.next_item(queue_id, reviewer))
    if item is None:
        console.print("Nothing left for you in this queue.")
        raise typer.Exit(3)
    console.print_json(json.dumps(item.model_dump(), default=str))


@app.command()
def submit(
    queue_id: Annotated[int, typer.Argument(help="the queue's id")],
    item_id: Annotated[int, typer.Argument(help="the item's id (from `plaudit queues next`)")],
    reviewer: Reviewer,
    rating: Annotated[list[str] | None, typer.Option("--rating", help="score=value; repeatable")] = None,
    comment: Annotated[str | None, typer.Option(help="a comment")] = None,
    correction: Annotated[str | None, typer.Option(help="the output as it should have been")] = None,
    winner: Annotated[str | None, typer.Option(help="pairwise: a, b or tie")] = None,
    skip: Annotated[bool, typer.Option(help="skip the item")] = False,
    endpoint: Endpoint = None,
    api_key: ApiKey = None,
) -> None:
    """Rate, judge or skip an item."""
    ratings = {key: _value(value) for key, value in _pairs(rating, "--rating").items()}
    result = _ask(
        endpoint,
        api_key,
        lambda c: c.submit_item(
            queue_id, item_id, reviewer, ratings, comment=comment, correction=correction, winner=winner, skip=skip
        ),
    )
    console.print(f"Item {result['item_id']}: {result['state']} ({len(result['feedback_ids'])} feedback stored).")
