"""Every table the CLI prints fits 60, 80, 100 and 120 columns with each number whole and each header word
intact; values users chose (score names, labels, models, user ids, queue and reviewer names) print as
written, never as Rich markup; ``plaudit queues`` prints by the same rules as the analytics commands."""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from rich.console import Console
from test_cli_output import run_cli, run_in_terminal

from plaudit_collector.cli import judge_views, queue_views, views
from plaudit_collector.cli.output import View, cell, print_table

SCORE = "[bold]stars[/]"  # a score name that is also Rich markup
LABEL = "tone[/]"
VARIANT = "[red]v1"
MODEL = "gpt-[/b]-large"
USER = "[link=x]u7"
QUEUE = "[bold]triage[/bold]"
REVIEWER = "[/]ann"
BOX = set("│┃━─┏└…")
WIDTHS = (60, 80, 100, 120)


@pytest.fixture(scope="module")
def marked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Spans whose variant, model and user are markup, rated with a markup-named score and label by two
    authors, one of them too few times to rank; a review queue with a markup name and reviewer."""
    from plaudit_collector.server import BackgroundServer
    from plaudit_collector.settings import CollectorSettings

    db = tmp_path_factory.mktemp("markup") / "cli.db"
    with BackgroundServer(CollectorSettings(db_url=f"sqlite:///{db}")) as server:
        spans, ratings = [], []
        for v, (variant, count) in enumerate(((VARIANT, 12), ("v2", 12), ("v3-rare", 2))):
            for i in range(count):
                trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
                attrs = {"plaudit.variant": variant, "gen_ai.request.model": MODEL, "user.id": USER}
                start = 1_700_000_000_000_000_000 + (v * 100 + i) * 10**9
                spans.append(
                    {
                        "traceId": trace_id,
                        "spanId": span_id,
                        "name": "chat",
                        "startTimeUnixNano": str(start),
                        "endTimeUnixNano": str(start + 1_234_567_891),
                        "attributes": [{"key": k, "value": {"stringValue": val}} for k, val in attrs.items()],
                    }
                )
                target = {"trace_id": trace_id, "span_id": span_id}
                ratings.append({**target, "name": SCORE, "value": 1 + (i + v) % 5, "author": REVIEWER})
                ratings.append({**target, "name": SCORE, "value": 1 + (i + 2 * v) % 5, "author": "bob"})
                labels = ("warm", "[i]cold")
                ratings.append({**target, "name": LABEL, "value": labels[i % 2], "author": REVIEWER})
                ratings.append({**target, "name": LABEL, "value": labels[(i // 2) % 2], "author": "bob"})
        doc = {"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}
        with httpx.Client(base_url=server.url, timeout=30) as http:
            assert http.post("/v1/traces", json=doc).status_code == 200
            assert http.post("/v1/feedback", json={"items": ratings}).status_code == 201
            queue = {"name": QUEUE, "scores": [SCORE], "sample": 5, "overlap": 2}
            created = http.post("/v1/queues", json=queue)
            assert created.status_code == 201, created.text
            server.queue_id = created.json()["id"]
            item = http.get(f"/v1/queues/{server.queue_id}/next", params={"reviewer": REVIEWER}).json()
            done = http.post(
                f"/v1/queues/{server.queue_id}/items/{item['id']}",
                json={"reviewer": REVIEWER, "ratings": {SCORE: 4}},
            )
            assert done.status_code < 300, done.text
        yield server
        server.app.state.db.dispose()


def _replies(server: Any) -> dict[str, Callable[[Any], list[View]]]:
    import plaudit

    with plaudit.Client(server.url) as c:
        board = c.leaderboard(SCORE, group_by=["variant", "model"], min_count=5).model_dump(mode="json")
        agreement = c.agreement(SCORE, by="author", rater_a=REVIEWER, rater_b="bob").model_dump(mode="json")
        labels = c.agreement(LABEL, by="author", rater_a=REVIEWER, rater_b="bob").model_dump(mode="json")
        trend = c.trend(SCORE, group_by=["variant"], bucket="day").model_dump(mode="json")
        page = c.traces(limit=20).model_dump(mode="json")
        queues = [q.model_dump(mode="json") for q in c.queues()]
        alpha = c.alpha(SCORE, bootstrap=0)
        compare = c.compare(SCORE, {"variant": "v2"}, {"variant": VARIANT}).model_dump(mode="json")
        segments = c.segments(SCORE, "model", min_count=1).model_dump(mode="json")
    out: dict[str, Any] = {
        "leaderboard": views.leaderboard(board),
        "agreement": views.agreement(agreement, REVIEWER, "bob"),
        "agreement labels": views.agreement(labels, REVIEWER, "bob"),
        "trend": views.trend(trend, SCORE, "day"),
        "traces": views.traces(page),
        "queues list": queue_views.queue_list(queues),
        "queues show": queue_views.queue(queues[0]),
    }
    out["judges alpha"] = judge_views.alpha(alpha)
    out["compare"] = views.compare(compare, SCORE)
    out["segments"] = views.segments(segments, SCORE, "model")
    return out


@pytest.mark.parametrize("width", WIDTHS)
def test_every_table_fits_with_numbers_and_headers_whole(marked: Any, width: int) -> None:
    for name, tables in _replies(marked).items():
        for view in tables:
            console = Console(file=io.StringIO(), width=width, force_terminal=True, color_system=None)
            print_table(view, console)
            out = console.file.getvalue()
            lines = out.splitlines()
            assert all(len(line) <= width for line in lines), f"{name} at {width}:\n{out}"
            assert "…" not in out, f"{name} at {width}:\n{out}"
            hidden = re.search(r"not shown at \d+ columns: (.*?); --format", " ".join(out.split()))
            gone = set(hidden.group(1).split(", ")) if hidden else set()
            for index, column in enumerate(view.columns):
                if column.name in gone:
                    continue
                for word in column.name.split():
                    assert word in out, f"{name} at {width}: header {column.name!r} cut\n{out}"
                if column.kind in ("group", "text"):
                    continue
                for row in view.rows:
                    assert cell(column.kind, row[index]) in out, f"{name} at {width}: {column.name} cut\n{out}"


@pytest.mark.parametrize(
    "command",
    [
        ["leaderboard", "--score", SCORE, "--by", "variant", "--by", "model", "--min-count", "5"],
        ["agreement", "--score", LABEL, "--by", "author", "--rater-a", REVIEWER, "--rater-b", "bob"],
        ["traces"],
        ["queues", "list"],
        ["queues", "show", "QUEUE"],
    ],
    ids=lambda c: " ".join(c[:2]),
)
@pytest.mark.parametrize("columns", [60, 120])
def test_user_values_print_as_written_on_a_terminal(
    marked: Any, plaudit_cli: list[str], command: list[str], columns: int
) -> None:
    args = [str(marked.queue_id) if part == "QUEUE" else part for part in command]
    out = run_in_terminal(plaudit_cli, *args, "--endpoint", marked.url, columns=columns)
    assert all(len(line) <= columns for line in out.splitlines()), out
    expected = {
        "leaderboard": [SCORE, VARIANT],
        "agreement": [LABEL, REVIEWER, "[i]cold"],
        "traces": [],
        "queues": [QUEUE],
    }[command[0]]
    if columns == 120:
        expected = [*expected, *({"traces": [MODEL, VARIANT], "queues": [REVIEWER]}.get(command[0], []))]
    for value in expected:
        assert value in out, f"{value!r} missing:\n{out}"


def test_user_values_print_as_written_in_a_pipe(marked: Any, plaudit_cli: list[str]) -> None:
    board = run_cli(plaudit_cli, "leaderboard", "--score", SCORE, "--by", "model", "--endpoint", marked.url)
    assert board.returncode == 0, board.stderr
    assert board.stdout.splitlines()[0] == f"Leaderboard: {SCORE} by model" and MODEL in board.stdout


def test_unranked_groups_get_no_rank_and_latency_is_whole_milliseconds(marked: Any, plaudit_cli: list[str]) -> None:
    args = ["leaderboard", "--score", SCORE, "--by", "variant", "--min-count", "5", "--endpoint", marked.url]
    lines = run_cli(plaudit_cli, *args).stdout.splitlines()
    ranks = {line.split()[1]: line.split()[0] for line in lines[2:] if re.match(r"(\d+|–)  ", line)}
    assert ranks["v3-rare"] == "–", lines  # 2 ratings: fewer than --min-count, so not ranked
    assert sorted(rank for variant, rank in ranks.items() if variant != "v3-rare") == ["1", "2"]
    rows = list(csv.DictReader(io.StringIO(run_cli(plaudit_cli, *args, "--format", "csv").stdout)))
    assert {row["variant"]: row["#"] for row in rows}["v3-rare"] == ""
    rows_text = [line for line in lines[2:] if re.match(r"(\d+|–)  ", line)]
    header = re.split(r"\s{2,}", lines[1])
    for line in rows_text:
        values = dict(zip(header, re.split(r"\s{2,}", line), strict=False))
        assert re.fullmatch(r"1[12]\d\d", values["p50 ms"]) and re.fullmatch(r"1[12]\d\d", values["p95 ms"]), line


def test_traces_show_what_a_user_needs_in_80_columns(marked: Any, plaudit_cli: list[str]) -> None:
    out = run_in_terminal(plaudit_cli, "traces", "--limit", "3", "--endpoint", marked.url)
    assert all(len(line) <= 80 for line in out.splitlines()), out
    header = next(line for line in out.splitlines() if "trace" in line and "status" in line)
    assert header.split()[:3] == ["time", "(UTC)", "trace"], header
    for word in ("name", "latency", "status", "rated"):
        assert word in header, header
    rows = [line for line in out.splitlines() if re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d  [0-9a-f]{8}  ", line)]
    assert len(rows) == 3, out
    assert all(" 1235 " in f"{row} " for row in rows), out  # 1.234567891 s, as whole milliseconds
    piped = run_cli(plaudit_cli, "traces", "--limit", "3", "--format", "csv", "--endpoint", marked.url).stdout
    (first, *_) = csv.DictReader(io.StringIO(piped))
    assert re.fullmatch(r"[0-9a-f]{32}", first["trace"]) and first["rated"] == "4"  # CSV: the whole id


def test_queues_print_plain_text_csv_and_json_in_a_pipe(marked: Any, plaudit_cli: list[str]) -> None:
    args = ["queues", "list", "--endpoint", marked.url]
    listed = run_cli(plaudit_cli, *args)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0] == "Review queues" and lines[1].split()[:3] == ["id", "name", "kind"]
    assert lines[2].split()[1] == QUEUE and REVIEWER in lines[2]
    assert not set(listed.stdout) & BOX and "\x1b" not in listed.stdout
    (row,) = csv.DictReader(io.StringIO(run_cli(plaudit_cli, *args, "--format", "csv").stdout))
    assert row["name"] == QUEUE and row["items"] == "5" and float(row["progress"]) == pytest.approx(0.1)
    (reply,) = json.loads(run_cli(plaudit_cli, *args, "--format", "json").stdout)
    assert reply["id"] == marked.queue_id and reply["name"] == QUEUE

    shown = run_cli(plaudit_cli, "queues", "show", str(marked.queue_id), "--endpoint", marked.url).stdout
    assert QUEUE in shown and re.search(rf"^{re.escape(REVIEWER)}\s+1\s+0\s+0$", shown, re.M), shown
    bad = run_cli(plaudit_cli, "queues", "submit", "1", "1", "--reviewer", "x", "--rating", "nope",
                  "--endpoint", marked.url)  # fmt: skip
    assert bad.returncode == 2 and bad.stderr.strip() == "plaudit: --rating: expected name=value, got 'nope'"

    endpoint = ["--endpoint", marked.url]
    made = run_cli(plaudit_cli, "queues", "create", "second", "--score", SCORE, "--sample", "2", *endpoint)
    assert made.stdout.splitlines()[:2] == ["Queue created", made.stdout.splitlines()[1]]
    assert made.stdout.splitlines()[2].split()[1:] == ["second", "single", "2", "1"], made.stdout
    queue_id = int(made.stdout.splitlines()[2].split()[0])
    item = json.loads(run_cli(plaudit_cli, "queues", "next", str(queue_id), "--reviewer", "cy", *endpoint).stdout)
    args = ["queues", "submit", str(queue_id), str(item["id"]), "--reviewer", "cy", "--rating", f"{SCORE}=5"]
    (row,) = csv.DictReader(io.StringIO(run_cli(plaudit_cli, *args, "--format", "csv", *endpoint).stdout))
    assert row == {"item": str(item["id"]), "state": "done", "feedback stored": "1"}


def test_every_help_reads_well_at_80_columns() -> None:
    """Each command's help: every option and argument explained, values named the Click way (``INTEGER``,
    ``[a|b]``, an argument by its name), no Sphinx quotes, no first sentence cut with ``...``, 80 columns."""
    from plaudit_collector import cli

    command = cli.command()

    def walk(node: Any, path: list[str]) -> Iterator[tuple[list[str], Any]]:
        yield path, node
        for name, sub in getattr(node, "commands", {}).items():
            yield from walk(sub, [*path, name])

    for path, node in walk(command, []):
        for param in node.params:
            assert param.name == "help" or getattr(param, "help", None), f"{path} {param.name}: no help"
        context = node.context_class(node, info_name=" ".join(["plaudit", *path]), terminal_width=80)
        text = node.get_help(context)
        assert all(len(line) <= 80 for line in text.splitlines()), (path, text)
        assert not re.search(r"<(str|int|float|path|bool|list\[|int range|float range)", text), (path, text)
        assert "``" not in text and not re.search(r"^ .*\.\.\.$", text, re.M), (path, text)
