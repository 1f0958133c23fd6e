"""``plaudit experiments ...``: define and change experiments, read their reports, make a choice, through the
same ``plaudit.Client`` an app or analyst uses (so they work against any collector).

Every command prints through :mod:`.output` (tables from :mod:`.experiment_views`): fitted to the terminal,
plain text in a pipe, or ``--format json|csv``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

import typer

from plaudit_collector.cli import experiment_views as views
from plaudit_collector.cli import output
from plaudit_collector.cli.analytics import ApiKey, Endpoint, Format, _ask, console
from plaudit_collector.cli.failures import CliFailure

app = typer.Typer(help="Experiments: variants chosen per request, learning from feedback.", no_args_is_help=True)

Name = Annotated[str, typer.Argument(help="the experiment")]
Variant = Annotated[str, typer.Argument(help="the variant")]


def register(parent: typer.Typer) -> None:
    """Add ``plaudit experiments`` to the CLI."""
    parent.add_typer(app, name="experiments")


def _json_arg(text: str, option: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise CliFailure(f"{option}: not valid JSON ({exc})", code=2) from None
    if not isinstance(value, dict):
        raise CliFailure(f"{option}: expected a JSON object", code=2)
    return value


def _show_definition(info: Any, fmt: str) -> None:
    data = info.model_dump(mode="json")
    output.show(views.definition(data), data, fmt, console)


@app.command("list")
def list_experiments(endpoint: Endpoint = None, api_key: ApiKey = None, fmt: Format = "table") -> None:
    """List the project's experiments."""
    found = [e.model_dump(mode="json") for e in _ask(endpoint, api_key, lambda c: c.experiments())]
    output.show(views.experiments(found), found, fmt, console)


@app.command()
def show(name: Name, endpoint: Endpoint = None, api_key: ApiKey = None, fmt: Format = "table") -> None:
    """Show an experiment's definition."""
    _show_definition(_ask(endpoint, api_key, lambda c: c.experiment(name)), fmt)


@app.command()
def create(
    name: Name,
    score: Annotated[str, typer.Option(help="the feedback name that rewards a choice")],
    variant: Annotated[list[str], typer.Option("--variant", help='name=JSON payload, e.g. concise=\'{"model": "m"}\'')],
    policy: Annotated[str | None, typer.Option(help="thompson, epsilon_greedy or fixed")] = None,
    segment_by: Annotated[str | None, typer.Option(help="learn per value of this key")] = None,
    higher_is_better: Annotated[
        bool | None,
        typer.Option(
            "--higher-is-better/--lower-is-better", help="the score's direction (default: the score config's)"
        ),
    ] = None,
    sticky: Annotated[bool, typer.Option(help="a user keeps their first variant")] = False,
    endpoint: Endpoint = None,
    api_key: ApiKey = None,
    fmt: Format = "table",
) -> None:
    """Register an experiment (or add variants to an existing one)."""
    variants = {}
    for item in variant:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise CliFailure(f"--variant: expected name=JSON, got {item!r}", code=2)
        variants[key] = _json_arg(text, "--variant")
    settings = {
        "policy": policy,
        "segment_by": segment_by,
        "higher_is_better": higher_is_better,
        "sticky": True if sticky else None,
    }
    info = _ask(endpoint, api_key, lambda c: c.create_experiment(name, variants, score=score, **settings))
    _show_definition(info, fmt)


@app.command("set")
def set_settings(
    name: Name,
    policy: Annotated[str | None, typer.Option(help="thompson, epsilon_greedy or fixed")] = None,
    epsilon: Annotated[float | None, typer.Option(help="exploration share of epsilon-greedy")] = None,
    min_share: Annotated[float | None, typer.Option(help="least share of each variant (exploration floor)")] = None,
    max_share: Annotated[float | None, typer.Option(help="most share of any variant")] = None,
    score: Annotated[str | None, typer.Option(help="the feedback name that rewards a choice")] = None,
    segment_by: Annotated[str | None, typer.Option(help="learn per value of this key ('' for no segments)")] = None,
    endpoint: Endpoint = None,
    api_key: ApiKey = None,
    fmt: Format = "table",
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
        raise CliFailure("nothing to change: pass --policy, --epsilon, --min-share, --max-share, ...", code=2)
    _show_definition(_ask(endpoint, api_key, lambda c: c.update_experiment(name, **changes)), fmt)


@app.command("add-variant")
def add_variant(
    name: Name,
    variant: Variant,
    payload: Annotated[str, typer.Option(help="the payload as JSON")] = "{}",
    endpoint: Endpoint = None,
    api_key: ApiKey = None,
    fmt: Format = "table",
) -> None:
    """Add a variant (served from the apps' next refresh on)."""
    body = _json_arg(payload, "--payload")
    _show_definition(_ask(endpoint, api_key, lambda c: c.add_variant(name, variant, body)), fmt)


def _variant_command(method: str, doc: str) -> Callable[..., None]:
    def command(
        name: Name, variant: Variant, endpoint: Endpoint = None, api_key: ApiKey = None, fmt: Format = "table"
    ) -> None:
        _show_definition(_ask(endpoint, api_key, lambda c: getattr(c, method)(name, variant)), fmt)

    command.__doc__ = doc
    return command


app.command("pause")(_variant_command("pause_variant", "Stop serving a variant for now."))
app.command("resume")(_variant_command("resume_variant", "Serve a paused or removed variant again."))
app.command("remove")(_variant_command("remove_variant", "Stop serving a variant for good (its data stays)."))
app.command("promote")(_variant_command("promote", "Stop the experiment and serve this variant to everyone."))


@app.command()
def stop(name: Name, endpoint: Endpoint = None, api_key: ApiKey = None, fmt: Format = "table") -> None:
    """Stop learning: serve the promoted winner, or the first active variant without one."""
    _show_definition(_ask(endpoint, api_key, lambda c: c.stop_experiment(name)), fmt)


@app.command()
def start(name: Name, endpoint: Endpoint = None, api_key: ApiKey = None, fmt: Format = "table") -> None:
    """Resume a stopped experiment (learning again; a promoted winner is forgotten)."""
    _show_definition(_ask(endpoint, api_key, lambda c: c.update_experiment(name, status="running")), fmt)


@app.command()
def assign(
    name: Name,
    segment: Annotated[str | None, typer.Option(help="the segment value")] = None,
    unit: Annotated[str | None, typer.Option(help="the unit (user)")] = None,
    endpoint: Endpoint = None,
    api_key: ApiKey = None,
    fmt: Format = "table",
) -> None:
    """Make one choice on the collector and print it (with the span attributes to set)."""
    made = _ask(endpoint, api_key, lambda c: c.assign(name, segment=segment, unit=unit)).model_dump(mode="json")
    output.show(views.choice(made), made, fmt, console)


@app.command()
def report(
    name: Name,
    start_: Annotated[str | None, typer.Option("--from", help="choices made at or after (ISO 8601 or unix s)")] = None,
    end: Annotated[str | None, typer.Option("--to", help="choices made before (ISO 8601 or unix s)")] = None,
    bucket: Annotated[str, typer.Option(help="traffic share per hour or day")] = "day",
    segments: Annotated[int, typer.Option(help="segments shown, the busiest first")] = 10,
    endpoint: Endpoint = None,
    api_key: ApiKey = None,
    fmt: Format = "table",
) -> None:
    """Per segment: traffic share, scores with 95% intervals, IPS/SNIPS, P(best), regret, recommendation."""
    result = _ask(
        endpoint,
        api_key,
        lambda c: c.experiment_report(name, start=start_, end=end, bucket=bucket, segments=segments),
    ).model_dump(mode="json")
    output.show(views.report(result), result, fmt, console)
