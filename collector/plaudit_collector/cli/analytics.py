"""``plaudit leaderboard``, ``compare``, ``trend``, ``agreement``, ``segments``, ``preferences`` and
``export``: the read side as tables, through the same ``plaudit.Client`` an analyst uses."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console

from plaudit_collector.cli import views
from plaudit_collector.cli.failures import CliFailure
from plaudit_collector.cli.output import show

console = Console(highlight=False)

Endpoint = Annotated[str | None, typer.Option(help="collector URL (default $PLAUDIT_ENDPOINT)")]
ApiKey = Annotated[str | None, typer.Option(help="API key (default $PLAUDIT_API_KEY)")]
By = Annotated[list[str] | None, typer.Option("--by", help="dimension to group by; repeatable")]
Start = Annotated[str | None, typer.Option("--from", help="spans started at or after (ISO 8601 or unix s)")]
End = Annotated[str | None, typer.Option("--to", help="spans started before (ISO 8601 or unix s)")]
SpanName = Annotated[list[str] | None, typer.Option("--span-name", help="only spans with this name; repeatable")]
SpanKind = Annotated[list[str] | None, typer.Option("--span-kind", help="only spans of this kind; repeatable")]
Tag = Annotated[list[str] | None, typer.Option("--tag", help="only spans with this tag; repeatable")]
Meta = Annotated[list[str] | None, typer.Option("--metadata", help="key=value span metadata; repeatable")]
Where = Annotated[list[str] | None, typer.Option("--where", help="dim=value, e.g. model=gpt-4o; repeatable")]
Source = Annotated[list[str] | None, typer.Option("--source", help="only feedback from this source; repeatable")]
Format = Annotated[
    Literal["table", "json", "csv"],
    typer.Option("--format", help="table (plain text when piped), json (the whole reply) or csv"),
]


def register(app: typer.Typer) -> None:
    """Add the analytics commands to the ``plaudit`` CLI."""
    for command in (leaderboard, compare, trend, agreement, segments, preferences, export):
        app.command()(command)


def _pairs(values: list[str] | None, option: str) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for item in values or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliFailure(f"{option}: expected key=value, got {item!r}", code=2)
        out[key] = value or None
    return out


def _filters(
    start: str | None,
    end: str | None,
    span_name: list[str] | None,
    span_kind: list[str] | None,
    tag: list[str] | None,
    metadata: list[str] | None,
    where: list[str] | None,
    source: list[str] | None,
) -> dict[str, Any]:
    return {
        "start": start,
        "end": end,
        "span_name": span_name,
        "span_kind": span_kind,
        "tags": tag,
        "metadata": _pairs(metadata, "--metadata"),
        "where": _pairs(where, "--where"),
        "source": source,
    }


def _ask(endpoint: str | None, api_key: str | None, call: Callable[[Any], Any]) -> Any:
    import plaudit

    with plaudit.Client(endpoint, api_key) as client:
        try:
            return call(client)
        except ValueError as exc:
            raise CliFailure(str(exc), code=2) from None


def leaderboard(
    score: Annotated[str, typer.Option(help="feedback name to rank by")],
    by: By = None,
    sort: Annotated[str, typer.Option(help="lower (CI bound) or mean")] = "lower",
    min_count: Annotated[int, typer.Option(help="rated items a group needs to be ranked")] = 5,
    correction: Annotated[str, typer.Option(help="holm or bh")] = "holm",
    start: Start = None,
    end: End = None,
    span_name: SpanName = None,
    span_kind: SpanKind = None,
    tag: Tag = None,
    metadata: Meta = None,
    where: Where = None,
    source: Source = None,
    endpoint: Endpoint = None,
    api_key: ApiKey = None,
    fmt: Format = "table",
) -> None:
    """Print the leaderboard for a score, best first, with 95% intervals and span health."""
    filters = _filters(start, end, span_name, span_kind, tag, metadata, where, source)
    board = _ask(
        endpoint,
        api_key,
        lambda c: c.leaderboard(
            score, group_by=by or ["variant"], sort=sort, min_count=min_count, correction=correction, **filters
        ),
    )
    data = board.model_dump(mode="json")
    show(views.leaderboard(data), data, fmt, console)


def compare(
    score: Annotated[str, typer.Option(help="feedback name")],
    a: Annotated[list[str], typer.Option("--a", help="group A as dim=value; repeatable")],
    b: Annotated[list[str], typer.Option("--b", help="group B as dim=value; repeatable")],
    test: Annotated[str, typer.Option(help="auto, welch, two-proportion or mann-whitney")] = "auto",
    start: Start = None,
    end: End = None,
    tag: Tag = None,
    where: Where = None,
    source: Source = None,
    endpoint: Endpoint = None,
    api_key: ApiKey = None,
    fmt: Format = "table",
) -> None:
    """Compare group A with group B: difference, 95% interval, p-value and P(A better)."""
    filters = _filters(start, end, None, None, tag, None, where, source)
    result = _ask(
        endpoint,
        api_key,
        lambda c: c.compare(score, _pairs(a, "--a"), _pairs(b, "--b"), test=test, **filters),
    ).model_dump(mode="json")
    show(views.compare(result, score), result, fmt, console)


def trend(
    score: Annotated[str, typer.Option(help="feedback name")],
    bucket: Annotated[str, typer.Option(help="hour, day or week")] = "day",
    by: By = None,
    start: Start = None,
    end: End = None,
    tag: Tag = None,
    where: Where = None,
    source: Source = None,
    endpoint: Endpoint = None,
    api_key: ApiKey = None,
    fmt: Format = "table",
) -> None:
    """Print a score per time bucket (and group), flagging significant changes."""
    filters = _filters(start, end, None, None, tag, None, where, source)
    result = _ask(endpoint, api_key, lambda c: c.trend(score, bucket=bucket, group_by=by or [], **filters)).model_dump(
        mode="json"
    )
    show(views.trend(result, score, bucket), result, fmt, console)


def agreement(
    score: Annotated[list[str] | None, typer.Option(help="feedback name; repeatable (default: all)")] = None,
    by: Annotated[str, typer.Option(help="source or author")] = "source",
    rater_a: Annotated[str, typer.Option(help="first rater (source or author)")] = "human",
    rater_b: Annotated[str, typer.Option(help="second rater (source or author)")] = "llm_judge",
    endpoint: Endpoint = None,
    api_key: ApiKey = None,
    fmt: Format = "table",
) -> None:
    """How well two raters agree: kappa, Spearman and the confusion table per score."""
    result = _ask(endpoint, api_key, lambda c: c.agreement(score, by=by, rater_a=rater_a, rater_b=rater_b)).model_dump(
        mode="json"
    )
    show(views.agreement(result, rater_a, rater_b), result, fmt, console)


def segments(
    score: Annotated[str, typer.Option(help="feedback name")],
    segment: Annotated[str, typer.Option(help="dimension to split by, e.g. user.id or attr.plan")],
    by: By = None,
    limit: Annotated[int, typer.Option(help="largest segments shown")] = 20,
    source: Source = None,
    endpoint: Endpoint = None,
    api_key: ApiKey = None,
    fmt: Format = "table",
) -> None:
    """Per-segment rankings, flagging segments where the overall leader loses."""
    filters = _filters(None, None, None, None, None, None, None, source)
    result = _ask(
        endpoint, api_key, lambda c: c.segments(score, segment, group_by=by or ["variant"], limit=limit, **filters)
    ).model_dump(mode="json")
    show(views.segments(result, score, segment), result, fmt, console)


def preferences(
    score: Annotated[str, typer.Option(help="preference name")] = "preference",
    by: By = None,
    endpoint: Endpoint = None,
    api_key: ApiKey = None,
    fmt: Format = "table",
) -> None:
    """Pairwise preferences: win scores and a Bradley–Terry ranking with 95% intervals."""
    result = _ask(endpoint, api_key, lambda c: c.preferences(score, group_by=by or ["variant"])).model_dump(mode="json")
    show(views.preferences(result, score), result, fmt, console)


def export(
    kind: Annotated[str, typer.Argument(help="spans, finetune or preferences")] = "spans",
    score: Annotated[str | None, typer.Option(help="score name (spans: filter; finetune/preferences: rating)")] = None,
    min_score: Annotated[float | None, typer.Option(help="finetune: least mean score")] = None,
    preference: Annotated[str | None, typer.Option(help="preferences: pairwise feedback name")] = None,
    min_margin: Annotated[float | None, typer.Option(help="preferences: least score gap for rating pairs")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="write here instead of stdout")] = None,
    start: Start = None,
    end: End = None,
    source: Source = None,
    endpoint: Endpoint = None,
    api_key: ApiKey = None,
) -> None:
    """Stream an export as JSON lines (spans with feedback, a fine-tuning set, or preference pairs)."""
    if kind not in ("spans", "finetune", "preferences"):
        raise CliFailure("kind must be spans, finetune or preferences", code=2)
    options = {"score": score, "min_score": min_score, "preference": preference, "min_margin": min_margin}
    options.update(start=start, end=end, source=source)

    def lines(client: Any) -> Iterator[dict[str, Any]]:
        yield from client.export(kind, **options)

    def write(client: Any) -> int:
        count = 0
        handle = out.open("w", encoding="utf-8") if out else sys.stdout
        try:
            for row in lines(client):
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
                count += 1
        finally:
            if out:
                handle.close()
        return count

    count = _ask(endpoint, api_key, write)
    if out:
        console.print(f"wrote {count} line(s) to {out}")
