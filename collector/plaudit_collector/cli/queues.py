"""``plaudit queues …``: create review queues, see their progress, and review from the terminal, through the
same ``plaudit.Client`` (so it works against any collector)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from plaudit_collector.cli import queue_views as views
from plaudit_collector.cli.analytics import ApiKey, Endpoint, Format, _ask, console  # one way to ask and print
from plaudit_collector.cli.failures import CliFailure
from plaudit_collector.cli.output import show

app = typer.Typer(help="Review queues: spans to rate one at a time, by one or more reviewers.", no_args_is_help=True)

Reviewer = Annotated[str, typer.Option(metavar="NAME", help="your name, stored as the feedback's author")]


def register(parent: typer.Typer) -> None:
    """Add ``plaudit queues`` to the CLI."""
    parent.add_typer(app, name="queues")


def _pairs(values: list[str] | None, option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliFailure(f"{option}: expected name=value, got {item!r}", code=2)
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
def list_queues(endpoint: Endpoint = None, api_key: ApiKey = None, fmt: Format = "table") -> None:
    """The queues with their progress."""
    queues = [q.model_dump(mode="json") for q in _ask(endpoint, api_key, lambda c: c.queues())]
    show(views.queue_list(queues), queues, fmt, console)


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
    fmt: Format = "table",
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
    created = queue.model_dump(mode="json")
    show(views.created(created), created, fmt, console)


@app.command("show")
def show_queue(
    queue_id: Annotated[int, typer.Argument(help="the queue's id")],
    endpoint: Endpoint = None,
    api_key: ApiKey = None,
    fmt: Format = "table",
) -> None:
    """One queue's progress, overall and per reviewer."""
    queue = _ask(endpoint, api_key, lambda c: c.queue(queue_id)).model_dump(mode="json")
    show(views.queue(queue), queue, fmt, console)


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
        console.file.write("Nothing left for you in this queue.\n")
        raise typer.Exit(3)
    show([], item.model_dump(mode="json"), "json", console)


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
    fmt: Format = "table",
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
    show(views.submitted(result), result, fmt, console)
