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

from plaudit_collector.cli.query_options import vocabulary_options

console = Console()

Endpoint = Annotated[str | None, typer.Option(help="collector URL (default $PLAUDIT_ENDPOINT)")]
ApiKey = Annotated[str | None, typer.Option(help="API key (default $PLAUDIT_API_KEY)")]


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


@vocabulary_options("leaderboard")
def leaderboard(endpoint: Endpoint = None, api_key: ApiKey = None, *, asked: dict[str, Any]) -> None:
    """Print the leaderboard for a score, best first, with confidence intervals and span health."""
    board = _ask(endpoint, api_key, lambda c: c.leaderboard(**asked))
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


@vocabulary_options("compare")
def compare(endpoint: Endpoint = None, api_key: ApiKey = None, *, asked: dict[str, Any]) -> None:
    """Compare group A with group B: difference, interval, p-value and P(A better)."""
    result = _ask(endpoint, api_key, lambda c: c.compare(**asked)).model_dump()
    score = asked["score"]
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


@vocabulary_options("trend")
def trend(endpoint: Endpoint = None, api_key: ApiKey = None, *, asked: dict[str, Any]) -> None:
    """Print a score per time bucket (and group), flagging significant changes."""
    result = _ask(endpoint, api_key, lambda c: c.trend(**asked)).model_dump()
    score, bucket = asked["score"], result["bucket"]
    table = Table(title=f"Trend: {score} per {bucket}")
    table.add_column("bucket")
    if result["group_by"]:
        table.add_column("group")
    for name in ("mean", "95% CI", "ratings", "change"):
        table.add_column(name, justify="right")
    for p in result["points"]:
        colour = "green" if p.get("better") else "red"
        change = f"[{colour}]{'▲' if p['change'] == 'up' else '▼'}[/]" if p["change"] else ""
        cells = [p["bucket_start"]] + ([_group(p["group"])] if result["group_by"] else [])
        table.add_row(*cells, _num(p["mean"]), _ci(p["ci_low"], p["ci_high"]), str(p["count"]), change)
    console.print(table)
    console.print(f"[italic]{result['verdict']}[/]")


@vocabulary_options("agreement")
def agreement(endpoint: Endpoint = None, api_key: ApiKey = None, *, asked: dict[str, Any]) -> None:
    """How well two raters agree: kappa, Spearman and the confusion table per score."""
    result = _ask(endpoint, api_key, lambda c: c.agreement(**asked)).model_dump()
    rater_a, rater_b = result["rater_a"], result["rater_b"]
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


@vocabulary_options("segments")
def segments(endpoint: Endpoint = None, api_key: ApiKey = None, *, asked: dict[str, Any]) -> None:
    """Per-segment rankings, flagging segments where the overall leader loses."""
    result = _ask(endpoint, api_key, lambda c: c.segments(**asked)).model_dump()
    score, segment = asked["score"], asked["segment"]
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


@vocabulary_options("preferences")
def preferences(endpoint: Endpoint = None, api_key: ApiKey = None, *, asked: dict[str, Any]) -> None:
    """Pairwise preferences: win scores and a Bradley–Terry ranking with 95% intervals."""
    result = _ask(endpoint, api_key, lambda c: c.preferences(**asked)).model_dump()
    score = result["score"]
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
        console.print("[red]kind must be spans, finetune or preferences[/]")
        raise typer.Exit(2)
    options = asked

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


@vocabulary_options("traces")
def traces(endpoint: Endpoint = None, api_key: ApiKey = None, *, asked: dict[str, Any]) -> None:
    """Search traces: text, status, feedback, score and latency filters; newest first by default."""
    page = _ask(endpoint, api_key, lambda c: c.traces(**asked)).model_dump()
    print_traces(page, console)


def print_traces(page: dict[str, Any], out: Console) -> None:
    """Render a page of trace search results, then the cursor of the next page."""
    table = Table(title="Traces")
    for name in ("started", "name", "trace id", "model", "variant", "user", "duration", "status", "feedback"):
        table.add_column(name, justify="right" if name == "duration" else "left")
    for t in page["traces"]:
        feedback = ", ".join(f"{k} {_num(v.get('mean'), 2)} ×{v.get('count')}" for k, v in t["feedback"].items())
        table.add_row(
            t["start_time"] or "–",
            t["name"] or "(no root span)",
            t["trace_id"],
            t["model"] or "–",
            t["variant"] or "–",
            t["user_id"] or "–",
            _num(t["duration_ms"], 0) + " ms",
            t["status"] or "–",
            feedback or "–",
        )
    out.print(table)
    if page.get("next_cursor"):
        out.print(f"next page: --cursor {page['next_cursor']}")
