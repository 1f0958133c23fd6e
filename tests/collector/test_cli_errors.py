"""CLI failures a user can fix are one line naming what was tried and what to do, with a non-zero exit."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from plaudit_collector.server import free_port


def run_cli(plaudit_cli: list[str], *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLAUDIT_", "OTEL_"))}
    return subprocess.run(
        [*plaudit_cli, *args], capture_output=True, text=True, timeout=120, env=env, cwd=cwd, check=False
    )


def one_line_failure(result: subprocess.CompletedProcess[str]) -> str:
    """The failure line, after checking it is the only thing said besides the database used."""
    assert result.returncode != 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if not line.startswith("Database: ")]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("plaudit: ")
    return lines[0]


def test_an_unreachable_collector(plaudit_cli: list[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    line = one_line_failure(run_cli(plaudit_cli, "leaderboard", "--score", "thumbs", "--endpoint", url))
    assert url in line and "plaudit serve" in line and "--endpoint" in line


@pytest.mark.parametrize("command", [["serve", "--port", "0"], ["db", "upgrade"], ["keys", "create", "--project", "p"]])
@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("nosuchdriver://host/db", "is not a database URL"),
        ("/no/such/folder/plaudit.db", "/no/such/folder/plaudit.db"),
        ("postgresql://postgres@127.0.0.1:1/test", "127.0.0.1:1"),
    ],
)
def test_a_database_that_cannot_be_used(plaudit_cli: list[str], command: list[str], url: str, expected: str) -> None:
    line = one_line_failure(run_cli(plaudit_cli, *command, "--db", url))
    assert expected in line


def test_a_missing_postgresql_database_says_so(plaudit_cli: list[str], pg_url: str) -> None:
    missing = pg_url.split("?")[0].rsplit("/", 1)[0] + "/plaudit_no_such_database"
    line = one_line_failure(run_cli(plaudit_cli, "db", "upgrade", "--db", missing))
    assert "plaudit_no_such_database" in line and "createdb" in line


def test_reading_a_missing_sqlite_database_does_not_create_it(tmp_path: Path, plaudit_cli: list[str]) -> None:
    for command in (["keys", "list"], ["projects", "list"], ["keys", "revoke", "1"], ["db", "rebuild"]):
        line = one_line_failure(run_cli(plaudit_cli, *command, cwd=tmp_path))
        assert f"no database at {tmp_path / 'plaudit.db'}" in line and "--db" in line
    assert not (tmp_path / "plaudit.db").exists()


def test_admin_commands_name_the_database_they_used(tmp_path: Path, plaudit_cli: list[str]) -> None:
    made = run_cli(plaudit_cli, "keys", "create", "--project", "p1", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert made.stderr.splitlines()[0] == f"Database: sqlite:///{tmp_path / 'plaudit.db'}"
    assert made.stdout.strip().splitlines()[-1].startswith("plk_")  # stdout: the key, for scripts
    url = f"sqlite:///{tmp_path / 'other.db'}"
    for command in (["db", "upgrade"], ["projects", "set", "p2", "--no-store-content"], ["projects", "list"]):
        done = run_cli(plaudit_cli, *command, "--db", url, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert f"Database: {url}" in done.stderr


def serve_with_auth(plaudit_cli: list[str], db: str) -> subprocess.Popen[str]:
    """``plaudit serve --auth`` on a free port, its stdout and stderr in one pipe."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLAUDIT_", "OTEL_"))}
    return subprocess.Popen(
        [*plaudit_cli, "serve", "--auth", "--port", str(free_port()), "--db", db],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


def test_serve_with_auth_and_no_key_warns_that_everything_gets_401(tmp_path: Path, plaudit_cli: list[str]) -> None:
    db = str(tmp_path / "auth.db")
    proc = serve_with_auth(plaudit_cli, db)
    try:
        assert proc.stdout is not None
        warning = proc.stdout.readline()  # the warning comes before anything else
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    assert "every request will get 401" in warning
    assert f"plaudit keys create --project NAME --db sqlite:///{db}" in warning


def test_serve_with_auth_and_a_key_does_not_warn(tmp_path: Path, plaudit_cli: list[str]) -> None:
    db = str(tmp_path / "auth.db")
    assert run_cli(plaudit_cli, "keys", "create", "--project", "p", "--db", db).returncode == 0
    proc = serve_with_auth(plaudit_cli, db)
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        seen = []
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            seen.append(line)
            if "startup complete" in line or not line:
                break
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    assert not any("401" in line for line in seen), seen
