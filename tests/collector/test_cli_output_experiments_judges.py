"""``plaudit experiments ...`` and ``plaudit judges ...`` print by the same rules as the analytics commands: at 80
columns every line fits and group values stay whole, in a pipe the output is plain text one row a line, and
``--format json|csv`` carry the raw reply."""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from test_cli_output import run_cli, run_in_terminal

LONG = "v3.support-answer-with-retrieval-long"
JUDGE = "helpful@0123456789ab"
BOX = set("│┃━─┏└…")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """An experiment learning per plan between a long-named variant and a short one, its choices rated by
    users (thumbs), and the same spans rated for helpfulness by a reviewer and a judge."""
    from plaudit_collector.server import BackgroundServer
    from plaudit_collector.settings import CollectorSettings

    db = tmp_path_factory.mktemp("cli-exp") / "cli.db"
    with BackgroundServer(CollectorSettings(db_url=f"sqlite:///{db}")) as server:
        spans, ratings = [], []
        for v, variant in enumerate((LONG, "short")):
            for i in range(16):
                trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
                attrs = {
                    "plaudit.experiment": "answer-style",
                    "plaudit.variant": variant,
                    "plaudit.experiment.probability": 0.5,
                    "plaudit.experiment.segment": "pro" if i % 2 else "free",
                    "plaudit.span.kind": "llm",
                }
                start = 1_700_000_000_000_000_000 + i * 10**9
                spans.append(
                    {
                        "traceId": trace_id,
                        "spanId": span_id,
                        "name": "chat",
                        "startTimeUnixNano": str(start),
                        "endTimeUnixNano": str(start + 5_000_000),
                        "attributes": [{"key": k, "value": _any(val)} for k, val in attrs.items()],
                    }
                )
                target = {"trace_id": trace_id, "span_id": span_id}
                ratings.append({**target, "name": "thumbs", "value": (i + v) % 3 != 0, "author": f"u{i}"})
                if i % 2:
                    ratings.append({**target, "name": "helpfulness", "value": 1 + (i + v) % 5, "author": "ann"})
                ratings.append(
                    {**target, "name": "helpfulness", "value": 1 + (i + 2 * v) % 5, "source": "llm_judge",
                     "author": JUDGE}
                )  # fmt: skip
        doc = {"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}
        with httpx.Client(base_url=server.url, timeout=30) as http:
            definition = {
                "name": "answer-style",
                "score": "thumbs",
                "segment_by": "plan",
                "variants": {LONG: {"prompt": "answer@3", "template": "x" * 120}, "short": {"model": "m"}},
            }
            assert http.post("/v1/experiments", json=definition).status_code == 201
            assert http.post("/v1/traces", json=doc).status_code == 200
            assert http.post("/v1/feedback", json={"items": ratings}).status_code == 201
        yield server
        server.app.state.db.dispose()


def _any(value: Any) -> dict[str, Any]:
    if isinstance(value, float):
        return {"doubleValue": value}
    return {"stringValue": str(value)}


COMMANDS = [
    ["experiments", "report", "answer-style"],
    ["experiments", "show", "answer-style"],
    ["experiments", "list"],
    ["experiments", "assign", "answer-style", "--segment", "pro"],
    ["judges", "report", "--score", "helpfulness", "--bootstrap", "50"],
    ["judges", "alpha", "--score", "helpfulness", "--bootstrap", "50"],
    ["judges", "disagreements", "--score", "helpfulness"],
    ["judges", "informative", "--score", "helpfulness"],
    ["judges", "list"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_every_command_fits_80_columns_with_group_values_whole(
    served: Any, plaudit_cli: list[str], command: list[str]
) -> None:
    out = run_in_terminal(plaudit_cli, *command, "--endpoint", served.url)
    assert all(len(line) <= 80 for line in out.splitlines()), out
    assert "…" not in out, out
    if command[0] == "experiments" and command[1] in ("report", "show", "list"):
        assert LONG in out or command[1] == "list", out
    if command[:2] == ["judges", "report"]:
        assert JUDGE in out and LONG in out, out  # the judge, and the group its bias is shown for


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_every_command_prints_plain_text_in_a_pipe(served: Any, plaudit_cli: list[str], command: list[str]) -> None:
    result = run_cli(plaudit_cli, *command, "--endpoint", served.url)
    assert result.returncode == 0, result.stderr
    assert not set(result.stdout) & BOX and "\x1b" not in result.stdout, result.stdout


def test_the_experiment_report_as_plain_text_csv_and_json(served: Any, plaudit_cli: list[str]) -> None:
    args = ["experiments", "report", "answer-style", "--endpoint", served.url]
    lines = run_cli(plaudit_cli, *args).stdout.splitlines()
    assert lines[0].startswith("answer-style: thompson on thumbs (higher is better, by default;")
    assert lines[1].split()[:3] == ["scope", "variant", "status"]
    rows = [line for line in lines[2:] if re.match(r"(overall|plan=\w+)  ", line)]
    assert len(rows) == 6  # two variants, overall and in each of two plans: one line each
    assert sum(LONG in row for row in rows) == 3
    assert any(line.startswith("overall: 32 choices, 32 rated;") for line in lines)

    table = list(csv.DictReader(io.StringIO(run_cli(plaudit_cli, *args, "--format", "csv").stdout)))
    assert {(row["scope"], row["variant"]) for row in table} == {
        (scope, variant) for scope in ("overall", "plan=pro", "plan=free") for variant in (LONG, "short")
    }
    assert {"95% CI low", "95% CI high", "P(best)"} <= set(table[0])
    reply = json.loads(run_cli(plaudit_cli, *args, "--format", "json").stdout)
    with httpx.Client(base_url=served.url, timeout=30) as http:
        rest = http.get("/v1/experiments/answer-style/report").json()
    assert reply["overall"]["variants"] == rest["overall"]["variants"]
    means = {row["variant"]: float(row["mean"]) for row in table if row["scope"] == "overall"}
    assert means == {row["variant"]: pytest.approx(row["mean"]) for row in rest["overall"]["variants"]}


def test_the_judge_report_as_plain_text_and_csv(served: Any, plaudit_cli: list[str]) -> None:
    args = ["judges", "report", "--score", "helpfulness", "--bootstrap", "0", "--endpoint", served.url]
    out = run_cli(plaudit_cli, *args).stdout
    lines = out.splitlines()
    assert lines[0] == "Judges (llm_judge) against human: helpfulness"
    assert lines[1].split()[:4] == ["judge", "n", "bias", "95%"]
    assert lines[2].startswith(JUDGE)
    with httpx.Client(base_url=served.url, timeout=30) as http:
        rest = http.get("/v1/analytics/judges", params={"score": "helpfulness", "bootstrap": 0}).json()
    assert rest["verdict"] in out
    (row,) = csv.DictReader(io.StringIO(run_cli(plaudit_cli, *args, "--format", "csv").stdout))
    assert row["judge"] == JUDGE and float(row["bias"]) == pytest.approx(rest["judges"][0]["bias"])
    assert int(row["n"]) == rest["judges"][0]["n"] == 16


def test_bad_input_to_experiment_commands_is_one_line_on_stderr(served: Any, plaudit_cli: list[str]) -> None:
    bad = run_cli(plaudit_cli, "experiments", "add-variant", "answer-style", "x", "--payload", "[1]",
                  "--endpoint", served.url)  # fmt: skip
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.strip() == "plaudit: --payload: expected a JSON object"
    unknown = run_cli(plaudit_cli, "experiments", "report", "nope", "--format", "xml", "--endpoint", served.url)
    assert unknown.returncode == 2 and "xml" in unknown.stderr
