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

__all__ = ["PG_URL", "collector_process", "free_port", "history_cells", "pg_schema", "process_cpu"]

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


PER_DAY = 200
"""Cells a day of history holds in :func:`history_cells` (a day's combinations of model, prompt, variant...)."""


def history_cells(db_url: str, count: int, score: str | None = None) -> None:
    """Give project ``default`` ``count`` cells of earlier days, as a long-running database has them: span
    cells, or with ``score`` that score's cells. A write must find its own cells among them."""
    if count <= 0:
        return
    from plaudit_collector.store import partitions, rollup, score_rollup
    from plaudit_collector.store.db import Database

    db = Database(db_url)
    try:
        db.upgrade()
        today = time.time_ns() // 86_400_000_000_000
        days = [today - 1 - n // PER_DAY for n in range(count)]
        partitions.ensure(db, set(days))
        if score is None:
            table = rollup.ROLLUP
            sums: dict[str, object] = {**dict.fromkeys(rollup.COUNTS, 0), "spans": 1, "latency": "[]"}
        else:
            table = score_rollup.CELLS
            sums = {"name": score, "items": 1, "total": 1.0, "total_sq": 1.0, "ratings": 1, "nb_items": 0}
            sums |= {"top_raters": 1, "raters": "[1,1]"}
        rows = [{"project": "default", "day": day, "cell": f"history-{n}", **sums} for n, day in enumerate(days)]
        with db.engine.begin() as conn:
            for offset in range(0, len(rows), 5000):
                conn.execute(table.insert(), rows[offset : offset + 5000])
    finally:
        db.dispose()
