"""``plaudit leaderboard``, ``compare``, ``trend``, ``agreement``, ``segments``, ``preferences`` and
``export``: the read side as tables, through the same ``plaudit.Client`` an analyst uses."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

console = Console()

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


def register(app: typer.Typer) -> None:
    """Add the analytics commands to the ``plaudit`` CLI."""
    for command in (leaderboard, compare, trend, agreement, segments, preferences, export):
        app.command()(command)


def _pairs(values: list[str] | None, option: str) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for item in values or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            console.print(f"[red]{option}: expected key=value, got {item!r}[/]")
            raise typer.Exit(2)
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
            console.print(f"[red]{exc}[/]")
            raise typer.Exit(2) from None


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _ci(low: Any, high: Any) -> str:
    return "–" if low is None or high is None else f"[{low:.3f}, {high:.3f}]"


def _group(group: dict[str, Any]) -> str:
    return ", ".join(f"{k}={'(none)' if v is None else v}" for k, v in group.items()) or "(all)"


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
    print_leaderboard(board.model_dump(), console)


def print_leaderboard(board: dict[str, Any], out: Console) -> None:
    """Render a leaderboard reply as a table, best first, then the verdict."""
    title = f"Leaderboard: {board['score']} by {', '.join(board['group_by'])}"
    if board.get("filters"):
        title += f" ({board['filters']})"
    table = Table(title=title)
    table.add_column("#", justify="right")
    for dim in board["group_by"]:
        table.add_column(dim)
    for name in ("mean", "95% CI", "ratings", "items", "spans", "coverage", "errors", "p50 ms", "p95 ms", "p vs top"):
        table.add_column(name, justify="right")
    leader = board.get("leader")
    for rank, row in enumerate(board["rows"], start=1):
        mark = " ★" if leader is not None and row["group"] == leader else ""
        coverage = row.get("coverage")
        errors = row.get("error_rate")
        table.add_row(
            str(rank),
            *[str(row["group"].get(dim)) + (mark if i == 0 else "") for i, dim in enumerate(board["group_by"])],
            _num(row["mean"]),
            _ci(row["ci_low"], row["ci_high"]),
            str(row["count"]),
            _num(row.get("rated")),
            str(row["spans"]),
            "–" if coverage is None else f"{coverage:.0%}",
            "–" if errors is None else f"{errors:.1%}",
            _num(row.get("latency_p50_ms"), 0),
            _num(row.get("latency_p95_ms"), 0),
            "–" if row.get("p_vs_leader") is None else f"{row['p_vs_leader']:.3g}",
        )
    out.print(table)
    if board.get("verdict"):
        out.print(f"[italic]{board['verdict']}[/]")


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
) -> None:
    """Compare group A with group B: difference, 95% interval, p-value and P(A better)."""
    filters = _filters(start, end, None, None, tag, None, where, source)
    result = _ask(
        endpoint,
        api_key,
        lambda c: c.compare(score, _pairs(a, "--a"), _pairs(b, "--b"), test=test, **filters),
    ).model_dump()
    table = Table(title=f"Compare: {score} ({result['kind']})")
    for name in ("group", "ratings / wins", "mean / win score", "95% CI"):
        table.add_column(name, justify="right" if name != "group" else "left")
    for side in (result["a"], result["b"]):
        table.add_row(
            _group(side["group"]),
            str(side.get("count", side.get("wins"))),
            _num(side.get("mean", side.get("win_score"))),
            _ci(side.get("ci_low"), side.get("ci_high")),
        )
    console.print(table)
    if result.get("difference") is not None:
        console.print(
            f"difference A − B: {result['difference']:+.3f} {_ci(result['diff_ci_low'], result['diff_ci_high'])}"
            f"   test: {result['test']}  p = {result['p_value']:.3g}   P(A better) = {_num(result['prob_a_better'])}"
        )
    console.print(f"[italic]{result['verdict']}[/]")


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
) -> None:
    """Print a score per time bucket (and group), flagging significant changes."""
    filters = _filters(start, end, None, None, tag, None, where, source)
    result = _ask(endpoint, api_key, lambda c: c.trend(score, bucket=bucket, group_by=by or [], **filters)).model_dump()
    table = Table(title=f"Trend: {score} per {bucket}")
    table.add_column("bucket")
    if result["group_by"]:
        table.add_column("group")
    for name in ("mean", "95% CI", "ratings", "change"):
        table.add_column(name, justify="right")
    for p in result["points"]:
        change = {"up": "[green]▲[/]", "down": "[red]▼[/]"}.get(p["change"] or "", "")
        cells = [p["bucket_start"]] + ([_group(p["group"])] if result["group_by"] else [])
        table.add_row(*cells, _num(p["mean"]), _ci(p["ci_low"], p["ci_high"]), str(p["count"]), change)
    console.print(table)
    console.print(f"[italic]{result['verdict']}[/]")


def agreement(
    score: Annotated[list[str] | None, typer.Option(help="feedback name; repeatable (default: all)")] = None,
    by: Annotated[str, typer.Option(help="source or author")] = "source",
    rater_a: Annotated[str, typer.Option(help="first rater (source or author)")] = "human",
    rater_b: Annotated[str, typer.Option(help="second rater (source or author)")] = "llm_judge",
    endpoint: Endpoint = None,
    api_key: ApiKey = None,
) -> None:
    """How well two raters agree: kappa, Spearman and the confusion table per score."""
    result = _ask(endpoint, api_key, lambda c: c.agreement(score, by=by, rater_a=rater_a, rater_b=rater_b)).model_dump()
    for s in result["scores"]:
        console.print(
            f"[bold]{s['name']}[/] ({s['kind']}, n={s['n']}): kappa {_num(s['kappa'])} "
            f"{_ci(s['kappa_ci_low'], s['kappa_ci_high'])}, weighted kappa {_num(s['weighted_kappa'])}, "
            f"Spearman {_num(s['spearman'])}"
        )
        if s["table"]:
            table = Table(title=f"{rater_a} (rows) × {rater_b} (columns)")
            table.add_column("")
            for cat in s["categories"]:
                table.add_column(str(cat), justify="right")
            for cat, counts in zip(s["categories"], s["table"], strict=True):
                table.add_row(str(cat), *[str(n) for n in counts])
            console.print(table)
    console.print(f"[italic]{result['verdict']}[/]")


def segments(
    score: Annotated[str, typer.Option(help="feedback name")],
    segment: Annotated[str, typer.Option(help="dimension to split by, e.g. user.id or attr.plan")],
    by: By = None,
    limit: Annotated[int, typer.Option(help="largest segments shown")] = 20,
    source: Source = None,
    endpoint: Endpoint = None,
    api_key: ApiKey = None,
) -> None:
    """Per-segment rankings, flagging segments where the overall leader loses."""
    filters = _filters(None, None, None, None, None, None, None, source)
    result = _ask(
        endpoint, api_key, lambda c: c.segments(score, segment, group_by=by or ["variant"], limit=limit, **filters)
    ).model_dump()
    table = Table(title=f"Segments: {score} by {', '.join(result['group_by'])} within {segment}")
    for name in (segment, "best", "mean", "items", "overall leader loses?", "p (Holm)"):
        table.add_column(name)
    for e in result["segments"]:
        best = e["rows"][0] if e["rows"] else None
        flag = "[red]yes[/]" if e["significant"] else ("not significant" if e["reverses"] else "no")
        table.add_row(
            str(e["segment"]),
            _group(best["group"]) if best else "–",
            _num(best["mean"]) if best else "–",
            str(e["rated"]),
            flag,
            "–" if e["p_adjusted"] is None else f"{e['p_adjusted']:.3g}",
        )
    console.print(table)
    console.print(f"[italic]{result['verdict']}[/]")


def preferences(
    score: Annotated[str, typer.Option(help="preference name")] = "preference",
    by: By = None,
    endpoint: Endpoint = None,
    api_key: ApiKey = None,
) -> None:
    """Pairwise preferences: win scores and a Bradley–Terry ranking with 95% intervals."""
    result = _ask(endpoint, api_key, lambda c: c.preferences(score, group_by=by or ["variant"])).model_dump()
    table = Table(title=f"Preferences: {score}")
    for name in ("#", "group", "win score", "95% CI", "comparisons", "BT strength", "95% CI "):
        table.add_column(name, justify="left" if name == "group" else "right")
    for r in result["rows"]:
        table.add_row(
            str(r["rank"]),
            _group(r["group"]),
            _num(r["win_score"]),
            _ci(r["ci_low"], r["ci_high"]),
            str(r["comparisons"]),
            _num(r["strength"]),
            _ci(r["strength_ci_low"], r["strength_ci_high"]),
        )
    console.print(table)
    console.print(f"[italic]{result['verdict']}[/]")


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
        console.print("[red]kind must be spans, finetune or preferences[/]")
        raise typer.Exit(2)
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
