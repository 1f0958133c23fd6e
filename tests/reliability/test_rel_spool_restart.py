"""App restart: spans spilled to ``PLAUDIT_SPOOL_DIR`` by one process are delivered by the next."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from rel_helpers import CollectorProcess, code_env, sqlite_count, wait_until


def test_spans_spilled_by_one_app_process_are_replayed_by_the_next(tmp_path: Path) -> None:
    """The app exits during an outage with ``PLAUDIT_SPOOL_DIR`` set; its next run delivers the spans."""
    spool = tmp_path / "spool"
    db_url = f"sqlite:///{tmp_path / 'plaudit.db'}"
    collector = CollectorProcess(db_url, tmp_path)  # not started yet: the collector is down
    app = (
        "import plaudit, sys\n"
        "plaudit.configure(service_name='spool-app')\n"
        "for i in range(int(sys.argv[1])):\n"
        "    with plaudit.span(f'job-{i}'):\n"
        "        pass\n"
    )
    env = {**code_env(), "PLAUDIT_ENDPOINT": collector.url, "PLAUDIT_SPOOL_DIR": str(spool)}
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", app, "3000"], env=env, check=True, timeout=60)
    assert time.monotonic() - started < 30, "exit with the collector down must not hang"
    assert sum(int(p.name.split(".")[0].rsplit("-", 1)[1]) for p in (spool / "spans").glob("*.otlp")) == 3000
    collector.start()
    try:
        subprocess.run([sys.executable, "-c", app, "0"], env=env, check=True, timeout=60)
        assert wait_until(lambda: sqlite_count(db_url, "SELECT COUNT(*) FROM spans") >= 3000, 20)
        assert sqlite_count(db_url, "SELECT COUNT(DISTINCT span_id) FROM spans") == 3000
        assert sqlite_count(db_url, "SELECT COUNT(*) FROM spans") == 3000
        assert not list((spool / "spans").glob("*.otlp")), "the spool is emptied once delivered"
    finally:
        collector.stop()
