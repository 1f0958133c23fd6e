"""Pieces the benchmarks share: a throwaway PostgreSQL schema, a free local port, a collector subprocess."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx

from plaudit_collector.server import free_port

__all__ = ["PG_URL", "collector_process", "free_port", "pg_schema", "process_cpu"]

PG_URL = os.environ.get("PLAUDIT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@contextlib.contextmanager
def pg_schema() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards; raises if PostgreSQL is down."""
    import psycopg

    schema = f"plaudit_bench_{uuid.uuid4().hex[:10]}"
    admin = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@contextlib.contextmanager
def collector_process(db_url: str, log_dir: Path) -> Iterator[tuple[str, int]]:
    """A ``plaudit serve`` subprocess, healthy and done with its start-up work; yields (url, pid)."""
    port = free_port()
    log = open(log_dir / f"collector-{port}.log", "wb")
    cmd = [sys.executable, "-m", "plaudit_collector.cli", "serve", "--db", db_url, "--port", str(port)]
    proc = subprocess.Popen([*cmd, "--log-level", "warning"], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            if proc.poll() is not None:
                raise RuntimeError(f"collector exited: {(log_dir / f'collector-{port}.log').read_text()}")
            time.sleep(0.1)
        _wait_idle(proc.pid)
        yield url, proc.pid
    finally:
        proc.terminate()
        proc.wait(15)
        log.close()


def process_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) process ``pid`` has used so far; None without ``/proc``."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_idle(pid: int, quiet: float = 0.5, limit: float = 60.0) -> None:
    """Wait until process ``pid`` has used no CPU for ``quiet`` seconds (at most ``limit``): a collector
    imports SciPy in the background a second after it answers, and a measurement overlapping that import
    times the import too. Without ``/proc``, waits a few seconds instead."""
    if process_cpu(pid) is None:
        time.sleep(3)
        return
    deadline = time.monotonic() + limit
    time.sleep(1.5)  # the warm-up starts a second after the collector answers
    last = process_cpu(pid)
    while time.monotonic() < deadline:
        time.sleep(quiet)
        now = process_cpu(pid)
        if now == last:
            return
        last = now
