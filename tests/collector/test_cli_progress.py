"""Long commands say how far they are: log lines on stderr in a pipe, a Rich bar on a terminal."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

import plaudit_collector.store
from plaudit_collector.server import BackgroundServer
from plaudit_collector.settings import CollectorSettings

DAY_NS = 86_400 * 10**9
FINISHED = r"{task}: (\d+)/\1 \(100%\)"


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PLAUDIT_PROGRESS_SECONDS": "0", **extra}


def _finished(task: str, stderr: str) -> int:
    """The count a task ended at, from its last log line (fails when the line is missing)."""
    match = re.search(FINISHED.format(task=re.escape(task)), stderr)
    assert match, f"no finished {task!r} line in:\n{stderr}"
    return int(match.group(1))


def test_db_upgrade_in_a_pipe_logs_each_migration(tmp_path: Path, plaudit_cli: list[str]) -> None:
    result = subprocess.run(
        [*plaudit_cli, "db", "upgrade", "--db", str(tmp_path / "p.db")],
        capture_output=True,
        text=True,
        check=True,
        env=_env(),
    )
    total = _finished("applying migrations", result.stderr)
    assert total >= 8
    assert f"plaudit: applying migrations: 0/{total} (0%)" in result.stderr
    assert "━" not in result.stderr  # no bar drawn into a pipe
    versions = sorted(Path(plaudit_collector.store.__file__).parent.glob("migrations/versions/0*.py"))
    assert total == len(versions)
    assert f"revision {versions[-1].stem}" in result.stdout  # the newest migration, whatever it is


def test_db_upgrade_on_a_terminal_draws_a_bar(tmp_path: Path, plaudit_cli: list[str]) -> None:
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [*plaudit_cli, "db", "upgrade", "--db", str(tmp_path / "t.db")],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=_env(TERM="xterm-256color", COLUMNS="120"),
    )
    os.close(terminal)
    seen = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal closed: the command is done
                break
            if not chunk:
                break
            seen += chunk
        elif process.poll() is not None:
            break
    os.close(controller)
    assert process.wait(timeout=30) == 0
    screen = seen.decode("utf-8", "replace")
    assert "applying migrations" in screen
    assert "━" in screen  # Rich's bar
    assert "plaudit: applying migrations" not in screen  # not the log lines


def _seed(url: str, otlp: Any, spans: int) -> None:
    """Spans 40 days old and recent ones, each with a rating, through a real collector."""
    server = BackgroundServer(CollectorSettings(db_url=url)).start()
    try:
        now = time.time_ns()
        traces = [otlp.trace_id() for _ in range(spans)]
        batch = [
            otlp.span("call", trace_id=t, start_ns=now - (40 * DAY_NS if i % 2 else 3600 * 10**9))
            for i, t in enumerate(traces)
        ]
        with httpx.Client(base_url=server.url, timeout=30) as http:
            assert http.post("/v1/traces", json=otlp.request(batch)).status_code == 200
            items = [{"trace_id": t, "name": "thumbs", "value": True} for t in traces]
            assert http.post("/v1/feedback", json={"items": items}).status_code in (200, 201)
    finally:
        server.stop()
        server.app.state.db.dispose()


def test_prune_and_rebuild_in_a_pipe_log_how_far_they_are(db_url: str, otlp: Any, plaudit_cli: list[str]) -> None:
    _seed(db_url, otlp, 10)
    prune = subprocess.run(
        [*plaudit_cli, "db", "prune", "--retention-days", "30", "--db", db_url],
        capture_output=True,
        text=True,
        check=True,
        env=_env(),
    )
    assert "Deleted 5 spans" in prune.stdout
    if db_url.startswith("postgresql"):
        assert _finished("dropping day partitions", prune.stderr) == 1  # the five old spans share one day
        assert "(1 whole days)" in prune.stdout
    else:
        assert _finished("deleting old spans", prune.stderr) == 5
    rebuild = subprocess.run(
        [*plaudit_cli, "db", "rebuild", "--db", db_url], capture_output=True, text=True, check=True, env=_env()
    )
    assert _finished("rebuilding the rollup", rebuild.stderr) == 1  # one project
    assert _finished("crediting feedback to spans", rebuild.stderr) == 1
    assert "Rollup rebuilt" in rebuild.stdout


def test_export_to_a_file_logs_progress_and_writes_every_line(
    sqlite_url: str, tmp_path: Path, otlp: Any, plaudit_cli: list[str]
) -> None:
    server = BackgroundServer(CollectorSettings(db_url=sqlite_url)).start()
    try:
        spans = [otlp.span(f"call{i}") for i in range(40)]
        items = [{"trace_id": s["traceId"], "span_id": s["spanId"], "name": "thumbs", "value": True} for s in spans]
        with httpx.Client(base_url=server.url, timeout=30) as http:
            assert http.post("/v1/traces", json=otlp.request(spans)).status_code == 200
            assert http.post("/v1/feedback", json={"items": items}).status_code in (200, 201)
        out = tmp_path / "spans.jsonl"
        result = subprocess.run(
            [*plaudit_cli, "export", "spans", "-o", str(out), "--endpoint", server.url],
            capture_output=True,
            text=True,
            check=True,
            env=_env(),
        )
    finally:
        server.stop()
        server.app.state.db.dispose()
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 40
    assert {json.loads(line)["name"] for line in lines} == {f"call{i}" for i in range(40)}
    assert _finished(f"exporting spans to {out}", result.stderr) == 40
    assert "wrote 40 line(s)" in result.stdout


def test_serve_reports_its_migrations_before_it_answers(tmp_path: Path, plaudit_cli: list[str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [*plaudit_cli, "serve", "--db", str(tmp_path / "s.db"), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            raise AssertionError("the collector did not answer")
    finally:
        process.terminate()
        stdout, stderr = process.communicate(timeout=30)
    assert _finished("applying migrations", stderr) >= 8
    assert stderr.index("applying migrations") < stderr.index("Application startup complete")
    assert "Plaudit collector on" in stdout


def test_log_lines_come_at_start_every_interval_and_at_the_end() -> None:
    import io

    from plaudit_collector.cli.progress import LineReport

    stream = io.StringIO()
    report = LineReport(stream, every=5.0)
    for done in range(0, 1001, 100):  # all within a moment: only the first and the last are written
        report("copying spans", done, 1000)
    report("copying spans", 1000, 1000)  # the end is said once
    lines = stream.getvalue().splitlines()
    assert lines[0] == "plaudit: copying spans: 0/1000 (0%)"
    assert lines[1].startswith("plaudit: copying spans: 1000/1000 (100%)") and "done in" in lines[1]
    assert len(lines) == 2
