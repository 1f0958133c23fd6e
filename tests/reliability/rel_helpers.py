"""Helpers shared by the reliability tests: a collector subprocess and direct database counts."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx

import plaudit
import plaudit_collector
from plaudit_collector.server import free_port


def code_env() -> dict[str, str]:
    """Environment for child processes: the same plaudit/plaudit_collector sources as this test process."""
    roots = {
        str(Path(plaudit.__file__).resolve().parents[1]),
        str(Path(plaudit_collector.__file__).resolve().parents[1]),
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLAUDIT_", "OTEL_"))}
    env["PYTHONPATH"] = os.pathsep.join([*sorted(roots), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


class CollectorProcess:
    """``python -m plaudit_collector.cli serve`` on a fixed port, restartable over the same database."""

    def __init__(
        self,
        db_url: str | None,
        log_dir: Path,
        port: int | None = None,
        extra_args: tuple[str, ...] = (),
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.db_url = db_url  # None: no --db, so the command's own default (or $PLAUDIT_DB in ``env``) applies
        self.port = port or free_port()
        self.extra_args = extra_args
        self.env = env or {}
        self.cwd = cwd
        self.log_path = log_dir / f"collector-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> CollectorProcess:
        cmd = [sys.executable, "-m", "plaudit_collector.cli", "serve", "--port", str(self.port)]
        if self.db_url is not None:
            cmd += ["--db", self.db_url]
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [*cmd, *self.extra_args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**code_env(), **self.env},
            cwd=self.cwd,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"collector exited with {self.proc.returncode}:\n{self.logs()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"collector did not answer on {self.url}:\n{self.logs()}")

    def stop(self) -> None:
        """A clean stop (SIGTERM), as an operator would restart it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def kill9(self) -> None:
        """A crash: no shutdown hooks, no flushing."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def sqlite_count(db_url: str, sql: str) -> int:
    """Read the collector's SQLite file directly (read-only), as an auditor would."""
    path = db_url.removeprefix("sqlite:///")
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as conn:
        return int(conn.execute(sql).fetchone()[0])


def db_rows(db_url: str, sql: str) -> list[tuple[object, ...]]:
    """All rows of a query on the collector's database, SQLite or PostgreSQL."""
    if db_url.startswith("sqlite"):
        path = db_url.removeprefix("sqlite:///")
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as conn:
            return [tuple(row) for row in conn.execute(sql).fetchall()]
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql)).all()]
    finally:
        engine.dispose()


def db_count(db_url: str, sql: str) -> int:
    """Count rows in the collector's database, SQLite or PostgreSQL."""
    return int(db_rows(db_url, sql)[0][0])  # type: ignore[call-overload]


def wait_until(predicate: object, timeout: float, interval: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(interval)
    return bool(predicate())  # type: ignore[operator]
