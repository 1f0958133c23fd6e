"""``plaudit experiments ...``: define and change experiments, read their reports, make a choice, through the
same ``plaudit.Client`` an app or analyst uses (so they work against any collector)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from plaudit_collector.cli.analytics import _ask
from plaudit_collector.cli.output import number

console = Console()


def _num(value: Any, digits: int = 3) -> str:
    """A number with three significant digits (``–`` when missing), as every CLI table prints it."""
    return number(value)


def _ci(low: Any, high: Any) -> str:
    return "–" if low is None or high is None else f"[{number(low)}, {number(high)}]"


app = typer.Typer(help="Experiments: variants chosen per request, learning from feedback.", no_args_is_help=True)

Endpoint = Annotated[str | None, typer.Option(help="collector URL (default $PLAUDIT_ENDPOINT)")]
ApiKey = Annotated[str | None, typer.Option(help="API key (default $PLAUDIT_API_KEY)")]
Name = Annotated[str, typer.Argument(help="the experiment")]
Variant = Annotated[str, typer.Argument(help="the variant")]
AsJson = Annotated[bool, typer.Option("--json", help="print the reply as JSON")]


def register(parent: typer.Typer) -> None:
    """Add ``plaudit experiments`` to the CLI."""
    parent.add_typer(app, name="experiments")


def _json_arg(text: str, option: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        console.print(f"[red]{option}: not valid JSON ({exc})[/]")
        raise typer.Exit(2) from None
    if not isinstance(value, dict):
        console.print(f"[red]{option}: expected a JSON object[/]")
        raise typer.Exit(2)
    return value


def _print_definition(info: dict[str, Any], as_json: bool) -> None:
    if as_json:
        console.print_json(json.dumps(info))
        return
    segment = f", per {info['segment_by']}" if info.get("segment_by") else ""
    state = info["status"] + (f" (winner: {info['winner']})" if info.get("winner") else "")
    console.print(f"[bold]{info['name']}[/]: {info['policy']}{segment} on {info['score']}; {state}; v{info['version']}")
    table = Table()
    for column in ("variant", "status", "weight", "payload"):
        table.add_column(column)
    for name, variant in info["variants"].items():
        table.add_row(name, variant["status"], _num(variant["weight"], 2), json.dumps(variant["payload"])[:80])
    console.print(table)
    for note in info.get("notes") or ():
        console.print(f"[yellow]{note}[/]")


@app.command("list")
def list_experiments(endpoint: Endpoint = None, api_key: ApiKey = None) -> None:
    """List the project's experiments."""
    found = _ask(endpoint, api_key, lambda c: c.experiments())
    table = Table(title="Experiments")
    for column in ("name", "score", "policy", "segment by", "status", "variants served"):
        table.add_column(column)
    for info in found:
        served = [n for n, v in info.variants.items() if v["status"] == "active"]
        table.add_row(info.name, info.score, info.policy, info.segment_by or "–", info.status, ", ".join(served))
    console.print(table)


@app.command()
def show(name: Name, as_json: AsJson = False, endpoint: Endpoint = None, api_key: ApiKey = None) -> None:
    """Show an experiment's definition."""
    _print_definition(_ask(endpoint, api_key, lambda c: c.experiment(name)).model_dump(), as_json)


@app.command()
def create(
    name: Name,
    score: Annotated[str, typer.Option(help="the feedback name that rewards a choice")],
    variant: Annotated[list[str], typer.Option("--variant", help='name=JSON payload, e.g. concise=\'{"model": "m"}\'')],
    policy: Annotated[str | None, typer.Option(help="thompson, epsilon_greedy or fixed")] = None,
    segment_by: Annotated[str | None, typer.Option(help="learn per value of this key")] = None,
    lower_is_better: Annotated[bool, typer.Option(help="lower scores are better")] = False,
    sticky: Annotated[bool, typer.Option(help="a user keeps their first variant")] = False,
    as_json: AsJson = False,
    endpoint: Endpoint = None,
    api_key: ApiKey = None,
) -> None:
    """Register an experiment (or add variants to an existing one)."""
    variants = {}
    for item in variant:
        key, sep, text = item.partition("=")
        if not sep or not key:
            console.print(f"[red]--variant: expected name=JSON, got {item!r}[/]")
            raise typer.Exit(2)
        variants[key] = _json_arg(text, "--variant")
    settings = {
        "policy": policy,
        "segment_by": segment_by,
        "higher_is_better": False if lower_is_better else None,
        "sticky": True if sticky else None,
    }
    info = _ask(endpoint, api_key, lambda c: c.create_experiment(name, variants, score=score, **settings))
    _print_definition(info.model_dump(), as_json)


@app.command("set")
def set_settings(
    name: Name,
    policy: Annotated[str | None, typer.Option(help="thompson, epsilon_greedy or fixed")] = None,
    epsilon: Annotated[float | None, typer.Option(help="exploration share of epsilon-greedy")] = None,
    min_share: Annotated[float | None, typer.Option(help="least share of each variant (exploration floor)")] = None,
    max_share: Annotated[float | None, typer.Option(help="most share of any variant")] = None,
    score: Annotated[str | None, typer.Option(help="the feedback name that rewards a choice")] = None,
    segment_by: Annotated[str | None, typer.Option(help="learn per value of this key ('' for no segments)")] = None,
    as_json: AsJson = False,
    endpoint: Endpoint = None,
    api_key: ApiKey = None,
) -> None:
    """Change the policy, its bounds, the score or the segment key."""
    changes: dict[str, Any] = {
        k: v
        for k, v in (
            ("policy", policy),
            ("epsilon", epsilon),
            ("min_share", min_share),
            ("max_share", max_share),
            ("score", score),
        )
        if v is not None
    }
    if segment_by is not None:
        changes["segment_by"] = segment_by or None
    if not changes:
        console.print("[red]nothing to change: pass --policy, --epsilon, --min-share, --max-share, ...[/]")
        raise typer.Exit(2)
    _print_definition(_ask(endpoint, api_key, lambda c: c.update_experiment(name, **changes)).model_dump(), as_json)


@app.command("add-variant")
def add_variant(
    name: Name,
    variant: Variant,
    payload: Annotated[str, typer.Option(help="the payload as JSON")] = "{}",
    endpoint: Endpoint = None,
    api_key: ApiKey = None,
) -> None:
    """Add a variant (served from the apps' next refresh on)."""
    body = _json_arg(payload, "--payload")
    _print_definition(_ask(endpoint, api_key, lambda c: c.add_variant(name, variant, body)).model_dump(), False)


def _variant_command(method: str, doc: str) -> Callable[..., None]:
    def command(name: Name, variant: Variant, endpoint: Endpoint = None, api_key: ApiKey = None) -> None:
        info = _ask(endpoint, api_key, lambda c: getattr(c, method)(name, variant))
        _print_definition(info.model_dump(), False)

    command.__doc__ = doc
    return command


app.command("pause")(_variant_command("pause_variant", "Stop serving a variant for now."))
app.command("resume")(_variant_command("resume_variant", "Serve a paused or removed variant again."))
app.command("remove")(_variant_command("remove_variant", "Stop serving a variant for good (its data stays)."))
app.command("promote")(_variant_command("promote", "Stop the experiment and serve this variant to everyone."))


@app.command()
def stop(name: Name, endpoint: Endpoint = None, api_key: ApiKey = None) -> None:
    """Stop learning: serve the promoted winner, or the first active variant without one."""
    _print_definition(_ask(endpoint, api_key, lambda c: c.stop_experiment(name)).model_dump(), False)


@app.command()
def start(name: Name, endpoint: Endpoint = None, api_key: ApiKey = None) -> None:
    """Resume a stopped experiment (learning again; a promoted winner is forgotten)."""
    _print_definition(
        _ask(endpoint, api_key, lambda c: c.update_experiment(name, status="running")).model_dump(), False
    )


@app.command()
def assign(
    name: Name,
    segment: Annotated[str | None, typer.Option(help="the segment value")] = None,
    unit: Annotated[str | None, typer.Option(help="the unit (user)")] = None,
    endpoint: Endpoint = None,
    api_key: ApiKey = None,
) -> None:
    """Make one choice on the collector and print it (with the span attributes to set)."""
    choice = _ask(endpoint, api_key, lambda c: c.assign(name, segment=segment, unit=unit))
    console.print_json(json.dumps(choice.model_dump()))


def _report_table(title: str, entry: dict[str, Any]) -> Table:
    table = Table(title=title)
    columns = ("variant", "status", "share", "now", "rated", "mean", "95% CI", "IPS", "SNIPS", "95% CI (SNIPS)")
    for column in (*columns, "P(best)", "exp. loss"):
        table.add_column(column, justify="left" if column in ("variant", "status") else "right")
    for row in entry["variants"]:
        table.add_row(
            row["variant"],
            row["status"],
            "–" if row["share"] is None else f"{row['share']:.0%}",
            f"{row['probability']:.0%}",
            str(row["count"]),
            _num(row["mean"]),
            _ci(row["ci_low"], row["ci_high"]),
            _num(row["ips"]),
            _num(row["snips"]),
            _ci(row["snips_ci_low"], row["snips_ci_high"]),
            _num(row["prob_best"], 2),
            _num(row["expected_loss"]),
        )
    return table


@app.command()
def report(
    name: Name,
    start_: Annotated[str | None, typer.Option("--from", help="choices made at or after (ISO 8601 or unix s)")] = None,
    end: Annotated[str | None, typer.Option("--to", help="choices made before (ISO 8601 or unix s)")] = None,
    bucket: Annotated[str, typer.Option(help="traffic share per hour or day")] = "day",
    segments: Annotated[int, typer.Option(help="segments shown, the busiest first")] = 10,
    as_json: AsJson = False,
    endpoint: Endpoint = None,
    api_key: ApiKey = None,
) -> None:
    """Per segment: traffic share, scores with 95% intervals, IPS/SNIPS, P(best), regret, recommendation."""
    result = _ask(
        endpoint,
        api_key,
        lambda c: c.experiment_report(name, start=start_, end=end, bucket=bucket, segments=segments),
    ).model_dump()
    if as_json:
        console.print_json(json.dumps(result))
        return
    direction = "higher" if result["higher_is_better"] else "lower"
    console.print(
        f"[bold]{name}[/]: {result['policy']} on {result['score']} ({direction} is better, {result['reward']}); "
        f"{result['status']}"
    )
    scopes = [("overall", result["overall"])] + [
        (f"{result['segment_by']}={e['segment']}", e) for e in result["segments"]
    ]
    for title, entry in scopes:
        console.print(_report_table(f"{title}: {entry['choices']} choices, {entry['rated']} rated", entry))
        regret = entry["expected_regret"]
        console.print(f"expected regret per choice now: {_num(regret)}; so far: {_num(entry['regret_so_far'], 1)}")
        advice = entry["recommendation"]
        console.print(
            f"[italic]{advice['action']}{' ' + advice['variant'] if advice['variant'] else ''}: {advice['reason']}[/]"
        )
