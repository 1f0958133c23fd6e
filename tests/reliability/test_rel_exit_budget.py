"""Exits keep their budget against a collector that refuses connections and one that accepts and never answers.

Each scenario is a real app process: it traces 50 calls and gives one rating, then exits, calls
``plaudit.shutdown(timeout=2)`` or ``plaudit.flush(timeout=3)``. Spans and feedback share one deadline; what is
left is spooled (with a spool directory) or counted as lost and said once on stderr.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from bad_collectors import SilentServer, refusing_url
from rel_helpers import code_env

APP = """
import json, logging, os, sys, time, warnings
import plaudit
exec(os.environ.get("APP_PRELUDE", ""))

plaudit.configure(endpoint=sys.argv[1], spool_dir=sys.argv[3] or None, service_name="budget")

@plaudit.trace
def work(i):
    return i

for i in range(50):
    work(i)
plaudit.feedback(plaudit.last_ref(), "thumbs", True, author="u-1")
mode = sys.argv[2]
started = time.monotonic()
if mode == "shutdown":
    plaudit.shutdown(timeout=2)
    print(json.dumps({"took": time.monotonic() - started, "stats": plaudit.stats()}), flush=True)
elif mode == "flush":
    ok = plaudit.flush(timeout=3)
    print(json.dumps({"took": time.monotonic() - started, "ok": ok}), flush=True)
else:
    print(json.dumps({"exiting_at": time.time()}), flush=True)
"""


@pytest.fixture(params=["refused", "silent"])
def dead_collector(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "refused":
        yield refusing_url()
        return
    with SilentServer() as server:
        yield server.url


def run_app(url: str, mode: str, spool: Path | None, prelude: str = "") -> tuple[dict[str, object], str, float]:
    """Run the app; its JSON line, its stderr, and the seconds from that line to the process's end."""
    proc = subprocess.Popen(
        [sys.executable, "-c", APP, url, mode, str(spool or "")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**code_env(), "APP_PRELUDE": prelude},
    )
    assert proc.stdout is not None and proc.stderr is not None
    line = proc.stdout.readline()
    printed = time.time()
    proc.wait(60)
    ended = time.time()
    stderr = proc.stderr.read()
    proc.stdout.close()
    proc.stderr.close()
    assert proc.returncode == 0, stderr
    return json.loads(line), stderr, ended - printed


def test_exit_takes_at_most_5_s_and_says_once_what_was_lost(dead_collector: str) -> None:
    _, stderr, exit_seconds = run_app(dead_collector, "exit", None)
    assert exit_seconds <= 5.0
    lost = [line for line in stderr.splitlines() if "PlauditWarning" in line]
    assert any("dropped 50 span(s)" in line for line in lost), stderr
    assert any("dropped 1 feedback item(s)" in line for line in lost), stderr
    assert len(lost) == 2, "one line per kind of loss, nothing else"
    assert "Traceback" not in stderr and "Failed to export" not in stderr, "no OpenTelemetry retry noise"


def test_exit_with_a_spool_keeps_everything_for_the_next_start(dead_collector: str, tmp_path: Path) -> None:
    _, stderr, exit_seconds = run_app(dead_collector, "exit", tmp_path)
    assert exit_seconds <= 5.0
    spans = sum(int(p.name.split(".")[0].rsplit("-", 1)[1]) for p in (tmp_path / "spans").glob("*.otlp"))
    ratings = [line for p in (tmp_path / "feedback").glob("*.jsonl") for line in p.read_text().splitlines()]
    assert (spans, len(ratings)) == (50, 1)
    assert "PlauditWarning" not in stderr, "nothing was lost"


def test_shutdown_returns_within_its_timeout(dead_collector: str) -> None:
    out, _, _ = run_app(dead_collector, "shutdown", None)
    assert out["took"] <= 2.25  # type: ignore[operator]
    stats = out["stats"]
    assert stats["spans"]["dropped"] == 50 and stats["spans"]["sent"] == 0  # type: ignore[index]
    assert stats["feedback"]["dropped"] == 1  # type: ignore[index]


def test_shutdown_with_a_spool_spools_what_is_left(dead_collector: str, tmp_path: Path) -> None:
    out, _, _ = run_app(dead_collector, "shutdown", tmp_path)
    assert out["took"] <= 2.25  # type: ignore[operator]
    stats = out["stats"]
    assert stats["spans"]["spooled"] == 50 and stats["spans"]["dropped"] == 0  # type: ignore[index]
    assert stats["feedback"]["spooled"] == 1 and stats["feedback"]["dropped"] == 0  # type: ignore[index]


def test_flush_returns_false_within_its_timeout(dead_collector: str) -> None:
    out, _, _ = run_app(dead_collector, "flush", None)
    assert out["took"] <= 3.25 and out["ok"] is False  # type: ignore[operator]


@pytest.mark.parametrize(
    "prelude",
    [
        'warnings.filterwarnings("ignore", category=plaudit.PlauditWarning)',
        'logging.getLogger("plaudit").setLevel(logging.ERROR)',
    ],
)
def test_the_loss_lines_can_be_silenced(prelude: str) -> None:
    _, stderr, _ = run_app(refusing_url(), "shutdown", None, prelude)
    assert "Plaudit" not in stderr, stderr


def test_with_logging_configured_the_loss_lines_go_to_the_plaudit_logger() -> None:
    prelude = 'logging.basicConfig(format="LOG %(name)s %(levelname)s %(message)s")'
    _, stderr, _ = run_app(refusing_url(), "shutdown", None, prelude)
    lines = [line for line in stderr.splitlines() if "dropped" in line]
    assert len(lines) == 2 and all(line.startswith("LOG plaudit WARNING") for line in lines), stderr
    assert "PlauditWarning" not in stderr
