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
        ("mysql://root@127.0.0.1/plaudit", "its scheme 'mysql://' is not supported"),
        ("postgresql+psycopg2://postgres@127.0.0.1/test", "its scheme 'postgresql+psycopg2://' is not supported"),
        ("sqllite:///plaudit.db", "use a SQLite file (a path or sqlite:///PATH) or PostgreSQL"),
        ("postgres://postgres@127.0.0.1:1/test", "127.0.0.1:1"),  # read as psycopg 3's, like postgresql://
        ("/no/such/folder/plaudit.db", "/no/such/folder/plaudit.db"),
        ("postgresql://postgres@127.0.0.1:1/test", "127.0.0.1:1"),
        ("sqlite:///:memory:", "an in-memory SQLite database cannot be used"),
        (":memory:", "an in-memory SQLite database cannot be used"),  # not a file of that name
        ("sqlite://", "give a file path"),
        ("sqlite:///file:p?mode=memory&cache=shared&uri=true", "an in-memory SQLite database"),
    ],
)
def test_a_database_that_cannot_be_used(plaudit_cli: list[str], command: list[str], url: str, expected: str) -> None:
    line = one_line_failure(run_cli(plaudit_cli, *command, "--db", url))
    assert expected in line


@pytest.mark.parametrize("url", ["sqlite:///:memory:", ":memory:", "sqlite://", "sqlite:///f?mode=memory&uri=true"])
def test_an_in_memory_database_is_refused_by_the_library_too(url: str) -> None:
    from plaudit_collector.app import create_app
    from plaudit_collector.settings import CollectorSettings

    with pytest.raises(ValueError, match=r"^db: an in-memory SQLite database cannot be used"):
        create_app(CollectorSettings(db_url=url))


def test_a_file_whose_name_mentions_memory_is_a_file(tmp_path: Path) -> None:
    from plaudit_collector.store.db import is_in_memory

    assert not is_in_memory(f"sqlite:///{tmp_path / 'notes:memory:'}")
    assert not is_in_memory("postgresql+psycopg://postgres@127.0.0.1/test?options=mode=memory")


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
        before: list[str] = []  # the warning comes before the collector says where it listens
        while not any("every request will get 401" in line for line in before):
            line = proc.stdout.readline()
            assert line and "http://" not in line, before + [line]
            before.append(line)
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    assert f"plaudit keys create --project NAME --db sqlite:///{db}" in before[-1]


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
    assert not any("will get 401" in line for line in seen), seen


def test_judges_worker_names_an_unusable_database_in_one_line(plaudit_cli: list[str]) -> None:
    line = one_line_failure(run_cli(plaudit_cli, "judges", "worker", "--db", "mysql://root@127.0.0.1/plaudit"))
    assert "'mysql://' is not supported" in line


def test_a_collector_without_the_route_names_the_url_and_the_endpoint(tmp_path: Path, plaudit_cli: list[str]) -> None:
    """A 404 that is not Plaudit's (an endpoint with a path in it, an older collector) says to check --endpoint."""
    from plaudit_collector.server import BackgroundServer
    from plaudit_collector.settings import CollectorSettings

    with BackgroundServer(CollectorSettings(db_url=f"sqlite:///{tmp_path / 'c.db'}")) as server:
        wrong = f"{server.url}/v1/traces"  # the OTLP URL given where the base URL belongs
        line = one_line_failure(run_cli(plaudit_cli, "leaderboard", "--score", "thumbs", "--endpoint", wrong))
        missing_queue = run_cli(plaudit_cli, "queues", "show", "999", "--endpoint", server.url)
        server.app.state.db.dispose()
    assert f"{wrong}/v1/analytics/leaderboard" in line and "no such route" in line
    assert f"({wrong.split('/v1/')[0]})" in line and "--endpoint" in line
    assert "no such route" not in missing_queue.stderr and "404" in missing_queue.stderr  # Plaudit's own 404


def test_a_collector_that_accepts_no_connection_fails_fast() -> None:
    """Connecting has its own short limit: a listening socket whose backlog is full never completes a
    connection, and the client gives up after ``connect_timeout`` rather than its 60 s answer timeout."""
    import socket
    import threading

    import httpx

    import plaudit

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):  # fill the accept queue: later SYNs are dropped, so a connect hangs
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    outcome: list[BaseException] = []

    def ask() -> None:
        with plaudit.Client(f"http://127.0.0.1:{port}", connect_timeout=0.5) as client:
            try:
                client.leaderboard("thumbs")
            except BaseException as exc:
                outcome.append(exc)

    try:
        worker = threading.Thread(target=ask, daemon=True)
        worker.start()
        worker.join(30)  # far below the 60 s answer timeout, far above the 0.5 s connect timeout
        assert not worker.is_alive(), "connecting waited for the answer timeout"
        assert len(outcome) == 1 and isinstance(outcome[0], httpx.ConnectTimeout), outcome
    finally:
        for filler in fillers:
            filler.close()
        listener.close()
