"""The CLI reads well at 80 columns and in a pipe: group values whole, plain text when piped, CSV and JSON."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import re
import secrets
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from plaudit_collector.cli.output import Column, View, cell, number, plain

LONG = "v3/support-answer-with-retrieval-long"  # past what used to fit in a cell at 80 columns
VARIANTS = (LONG, "v2/fake-large", None)  # None: spans without a variant, printed as "(none)"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture(scope="module")
def rated_collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A collector whose spans carry a long variant name, a short one and none, each rated 6 times."""
    from plaudit_collector.server import BackgroundServer
    from plaudit_collector.settings import CollectorSettings

    db = tmp_path_factory.mktemp("cli") / "cli.db"
    with BackgroundServer(CollectorSettings(db_url=f"sqlite:///{db}")) as server:
        spans, ratings = [], []
        for v, variant in enumerate(VARIANTS):
            for i in range(6):
                trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
                attrs = [{"key": "plaudit.variant", "value": {"stringValue": variant}}] if variant else []
                start = 1_700_000_000_000_000_000 + i
                spans.append(
                    {
                        "traceId": trace_id,
                        "spanId": span_id,
                        "name": "chat",
                        "startTimeUnixNano": str(start),
                        "endTimeUnixNano": str(start + 5_000_000),
                        "attributes": attrs,
                    }
                )
                ratings.append({"trace_id": trace_id, "span_id": span_id, "name": "thumbs", "value": (i + v) % 3 != 0})
        doc = {"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}
        with httpx.Client(base_url=server.url, timeout=30) as http:
            assert http.post("/v1/traces", json=doc).status_code == 200
            assert http.post("/v1/feedback", json={"items": ratings}).status_code == 201
        yield server
        server.app.state.db.dispose()


def run_cli(plaudit_cli: list[str], *args: str, columns: int = 80) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": str(columns)}
    env.pop("TTY_COMPATIBLE", None)
    env.pop("FORCE_COLOR", None)
    return subprocess.run([*plaudit_cli, *args], capture_output=True, text=True, timeout=120, env=env, check=False)


def run_in_terminal(plaudit_cli: list[str], *args: str, columns: int = 80) -> str:
    """Run the command on a real pseudo-terminal ``columns`` wide; what it printed, colours stripped."""
    import fcntl
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "TTY_COMPATIBLE", "FORCE_COLOR")}
    env["TERM"] = "xterm-256color"
    proc = subprocess.Popen([*plaudit_cli, *args], stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    assert proc.wait(timeout=120) == 0
    return ANSI.sub("", b"".join(chunks).decode()).replace("\r\n", "\n")


def leaderboard_args(server: Any) -> list[str]:
    return ["leaderboard", "--score", "thumbs", "--by", "variant", "--min-count", "1", "--endpoint", server.url]


def test_piped_output_is_plain_text_with_whole_group_values(rated_collector: Any, plaudit_cli: list[str]) -> None:
    result = run_cli(plaudit_cli, *leaderboard_args(rated_collector))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    lines = out.splitlines()
    assert lines[0] == "Leaderboard: thumbs by variant"
    assert (
        lines[1].split() == "# variant mean 95% CI ratings items spans coverage errors p50 ms p95 ms p vs top".split()
    )
    rows = [line for line in lines[2:] if re.match(r"\d+  ", line)]
    assert len(rows) == 3  # one line per group, never wrapped
    assert sum(LONG in row for row in rows) == 1 and sum("(none)" in row for row in rows) == 1
    assert not set(out) & set("│┃━─┏└…"), "no boxes, rules or ellipses when piped"
    assert "\x1b" not in out


def test_a_terminal_80_columns_wide_shows_group_values_whole(rated_collector: Any, plaudit_cli: list[str]) -> None:
    out = run_in_terminal(plaudit_cli, *leaderboard_args(rated_collector))
    assert all(len(line) <= 80 for line in out.splitlines()), out
    assert LONG in out and "v2/fake-large" in out and "(none)" in out
    assert "…" not in out.replace("not shown at 80 columns", "")
    assert "not shown at 80 columns" in out  # the columns left out are named
    for number_cell in re.findall(r"\b0\.\d+\b", out):
        assert len(number_cell.lstrip("0.")) <= 3  # three significant digits


def test_json_and_csv_carry_the_raw_reply(rated_collector: Any, plaudit_cli: list[str]) -> None:
    as_json = run_cli(plaudit_cli, *leaderboard_args(rated_collector), "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    reply = json.loads(as_json.stdout)
    assert {row["group"]["variant"] for row in reply["rows"]} == set(VARIANTS)
    as_csv = run_cli(plaudit_cli, *leaderboard_args(rated_collector), "--format", "csv")
    assert as_csv.returncode == 0, as_csv.stderr
    table = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert {row["variant"] for row in table} == {LONG, "v2/fake-large", ""}  # missing: an empty cell
    assert {"95% CI low", "95% CI high", "p50 ms"} <= set(table[0])
    means = {row["variant"]: float(row["mean"]) for row in table}
    assert means == {row["group"]["variant"] or "": pytest.approx(row["mean"]) for row in reply["rows"]}
    bad = run_cli(plaudit_cli, *leaderboard_args(rated_collector), "--format", "xml")
    assert bad.returncode == 2 and "xml" in bad.stderr


def test_other_commands_print_missing_groups_the_same_way(rated_collector: Any, plaudit_cli: list[str]) -> None:
    url = rated_collector.url
    trend = run_cli(plaudit_cli, "trend", "--score", "thumbs", "--by", "variant", "--endpoint", url)
    assert trend.returncode == 0, trend.stderr
    assert "(none)" in trend.stdout and LONG in trend.stdout
    compare = run_cli(
        plaudit_cli, "compare", "--score", "thumbs", "--a", f"variant={LONG}", "--b", "variant=", "--endpoint", url
    )
    assert compare.returncode == 0, compare.stderr
    assert f"variant={LONG}" in compare.stdout and "variant=(none)" in compare.stdout
    assert "None" not in trend.stdout + compare.stdout


def test_version_and_help_without_type_labels(plaudit_cli: list[str]) -> None:
    from plaudit import __version__

    version = run_cli(plaudit_cli, "--version")
    assert version.returncode == 0 and version.stdout.strip() == f"plaudit {__version__}"
    for command in (["serve"], ["demo"], ["leaderboard"], ["keys", "create"], ["db", "upgrade"]):
        shown = run_cli(plaudit_cli, *command, "--help")
        assert shown.returncode == 0, shown.stderr
        assert "<bool>" not in shown.stdout and "<str>" not in shown.stdout and "<int>" not in shown.stdout
        assert "--help" in shown.stdout


def test_number_formatting_keeps_three_significant_digits() -> None:
    assert [number(v) for v in (0.87345, 0.05, 1.0, 12.345, 123.4, 4, None)] == [
        "0.873",
        "0.0500",
        "1.00",
        "12.3",
        "123",
        "4",
        "–",
    ]
    assert cell("interval", (0.81849, 0.9131)) == "0.818–0.913"
    assert cell("p", 6.7e-08) == "6.70e-08"
    assert cell("group", "two\nlines") == "two\\nlines"  # a value never breaks a row


def test_plain_text_treats_markup_as_text() -> None:
    view = View("t", [Column("variant", "group"), Column("mean")], [["[bold]x[/bold]", 0.5]])
    assert "[bold]x[/bold]" in plain(view)


def test_admin_tables_when_piped(tmp_path: Path, plaudit_cli: list[str]) -> None:
    db = str(tmp_path / "admin.db")
    made = run_cli(plaudit_cli, "keys", "create", "--project", "a-project-with-a-long-name-for-the-table", "--db", db)
    assert made.returncode == 0, made.stderr
    listed = run_cli(plaudit_cli, "keys", "list", "--db", db)
    assert listed.returncode == 0, listed.stderr
    assert "a-project-with-a-long-name-for-the-table" in listed.stdout and "│" not in listed.stdout


def test_a_group_wider_than_the_terminal_folds_and_numbers_stay_whole() -> None:
    from rich.console import Console

    from plaudit_collector.cli.output import print_table

    value = "variant-" + "x" * 70
    view = View(
        "", [Column("variant", "group"), Column("mean"), Column("95% CI", "interval")], [[value, 0.8734, (0.5, 0.9)]]
    )
    out = io.StringIO()
    print_table(view, Console(file=out, width=50, force_terminal=True, color_system=None))
    lines = out.getvalue().splitlines()
    assert all(len(line) <= 50 for line in lines)
    assert "0.873" in out.getvalue() and "0.500–0.900" in out.getvalue()
    folded = "".join(line[: line.index("  ")] if "  " in line else line.rstrip() for line in lines[2:])
    assert value in folded  # every character is there, over several lines
