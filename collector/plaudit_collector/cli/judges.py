"""``plaudit judges add/list/run/backfill/dead-letters`` and the questions about judges (``report``,
``alpha``, ``disagreements``, ``informative``) through ``plaudit.Client`` (any collector), and
``plaudit judges worker``, which runs the judges against the database itself.

The questions take their options from the query vocabulary (:mod:`.query_options`), like the analytics
commands; every table is laid out by :mod:`.judge_views` and printed by :mod:`.output`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from plaudit_collector.cli import judge_views
from plaudit_collector.cli.analytics import ApiKey, Endpoint, Format, _ask, console
from plaudit_collector.cli.output import show
from plaudit_collector.cli.query_options import vocabulary_options

JudgeName = Annotated[str, typer.Argument(help="the judge's name")]

judges_app = typer.Typer(help="LLM judges: define them, run them, and see how far to trust them.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add ``plaudit judges ...`` to the CLI."""
    app.add_typer(judges_app, name="judges")


@judges_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="judge name (letters, digits, '.', '_', '-')")],
    score: Annotated[str, typer.Option(help="feedback name the judge writes")],
    model: Annotated[str, typer.Option(help="model name at the provider")],
    prompt_file: Annotated[Path, typer.Option(help="rubric template ({{input}}, {{output}}, {{reference}}, ...)")],
    provider: Annotated[str, typer.Option(help="openai (any OpenAI-compatible API) or anthropic")] = "openai",
    scale: Annotated[str, typer.Option(help="numeric MIN..MAX, boolean, or a comma-separated category list")] = "1..5",
    base_url: Annotated[str | None, typer.Option(help="API base URL (default: the provider's)")] = None,
    api_key_env: Annotated[str | None, typer.Option(help="variable holding the key where the judge runs")] = None,
    span_kind: Annotated[list[str] | None, typer.Option(help="only spans of this kind; repeatable")] = None,
    where: Annotated[list[str] | None, typer.Option(help="dim=value filter; repeatable")] = None,
    sample: Annotated[float, typer.Option(help="share of matching spans rated (0-1]")] = 1.0,
    budget: Annotated[int | None, typer.Option(help="most calls per hour")] = None,
    replace: Annotated[bool, typer.Option(help="overwrite a judge of that name")] = False,
    endpoint: Endpoint = None,
    api_key: ApiKey = None,
) -> None:
    """Define a judge; it rates matching spans stored from now on (``backfill`` for older ones)."""
    definition: dict[str, Any] = {
        "score": score,
        "score_config": _scale(scale),
        "prompt": prompt_file.read_text(encoding="utf-8"),
        "provider": provider,
        "model": model,
        "base_url": base_url,
        "api_key_env": api_key_env,
        "filter": {
            "span_kind": span_kind or [],
            "where": dict(item.partition("=")[::2] for item in where or ()),
        },
        "sample_rate": sample,
        "budget_per_hour": budget,
    }
    stored = _ask(endpoint, api_key, lambda c: c.add_judge(name, replace=replace, **definition))
    console.print(
        Text.assemble("judge ", (stored["name"], "bold"), f" writes {stored['score']!r} as {stored['author']}")
    )


def _scale(text: str) -> dict[str, Any]:
    if text == "boolean":
        return {"type": "boolean"}
    low, sep, high = text.partition("..")
    if sep:
        return {"type": "numeric", "min": float(low), "max": float(high)}
    return {"type": "categorical", "categories": [c.strip() for c in text.split(",") if c.strip()]}


@judges_app.command("list")
def list_(endpoint: Endpoint = None, api_key: ApiKey = None, fmt: Format = "table") -> None:
    """The project's judges."""
    found = _ask(endpoint, api_key, lambda c: c.judges())
    show(judge_views.judges(found), found, fmt, console)


@judges_app.command("run")
def run(
    name: JudgeName,
    limit: Annotated[int, typer.Option(help="most spans scored now")] = 100,
    endpoint: Endpoint = None,
    api_key: ApiKey = None,
    fmt: Format = "table",
) -> None:
    """Queue new matching spans and score up to --limit now (the collector calls the model)."""
    stats = _ask(endpoint, api_key, lambda c: c.run_judge(name, limit=limit))
    show(judge_views.run(name, stats), stats, fmt, console)


@judges_app.command("backfill")
def backfill(
    name: JudgeName,
    start: Annotated[str | None, typer.Option("--from", help="spans started at or after")] = None,
    end: Annotated[str | None, typer.Option("--to", help="spans started before")] = None,
    limit: Annotated[int, typer.Option(help="most spans queued")] = 10_000,
    endpoint: Endpoint = None,
    api_key: ApiKey = None,
) -> None:
    """Queue stored spans for a judge (newest first)."""
    queued = _ask(endpoint, api_key, lambda c: c.backfill_judge(name, start=start, end=end, limit=limit))
    console.print(f"queued {queued['queued']} span(s)")


@judges_app.command("dead-letters")
def dead_letters(name: JudgeName, endpoint: Endpoint = None, api_key: ApiKey = None, fmt: Format = "table") -> None:
    """Spans a judge gave up on, with the last error."""
    found = _ask(endpoint, api_key, lambda c: c.judge_dead_letters(name))
    show(judge_views.dead_letters(name, found), found, fmt, console)


@judges_app.command("report")
@vocabulary_options("judge_report")
def report(endpoint: Endpoint = None, api_key: ApiKey = None, fmt: Format = "table", *, asked: dict[str, Any]) -> None:
    """Each judge against the humans: bias with its interval, correlations, kappa, alpha, bias per group."""
    result = _ask(endpoint, api_key, lambda c: c.judge_report(**asked))
    show(judge_views.judge_report(result), result, fmt, console)


@judges_app.command("alpha")
@vocabulary_options("alpha")
def alpha(endpoint: Endpoint = None, api_key: ApiKey = None, fmt: Format = "table", *, asked: dict[str, Any]) -> None:
    """Agreement among any number of raters (Krippendorff's alpha), and each rater against the humans."""
    result = _ask(endpoint, api_key, lambda c: c.alpha(**asked))
    show(judge_views.alpha(result), result, fmt, console)


@judges_app.command("disagreements")
@vocabulary_options("disagreements")
def disagreements(
    endpoint: Endpoint = None, api_key: ApiKey = None, fmt: Format = "table", *, asked: dict[str, Any]
) -> None:
    """The items where the judge and the humans (or all raters) differ most."""
    result = _ask(endpoint, api_key, lambda c: c.disagreements(**asked))
    show(judge_views.disagreements(result), result, fmt, console)


@judges_app.command("informative")
@vocabulary_options("informative")
def informative(
    endpoint: Endpoint = None, api_key: ApiKey = None, fmt: Format = "table", *, asked: dict[str, Any]
) -> None:
    """The judge-rated spans whose human rating would shrink the leaderboard's uncertainty most."""
    result = _ask(endpoint, api_key, lambda c: c.informative(**asked))
    show(judge_views.informative(result), result, fmt, console)


@judges_app.command("worker")
def worker(
    db: Annotated[
        str | None,
        typer.Option(envvar="PLAUDIT_DB", metavar="URL", help="database URL or SQLite file (default: ./plaudit.db)"),
    ] = None,
    concurrency: Annotated[int, typer.Option(help="judge calls in flight at once")] = 4,
    poll: Annotated[float, typer.Option(help="seconds between looks for new spans when idle")] = 2.0,
    project: Annotated[str | None, typer.Option(help="only this project's judges")] = None,
) -> None:
    """Run enabled judges on new spans until interrupted (beside or instead of ``plaudit serve --judges``)."""
    import signal
    import threading

    from plaudit_collector.cli.database import open_database
    from plaudit_collector.judges.worker import JudgeWorker

    database = open_database(db)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    running = JudgeWorker(database, concurrency=concurrency, poll_interval=poll, project=project).start()
    console.print(f"judge worker running ({concurrency} at once); Ctrl-C stops it")
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()
        database.dispose()
