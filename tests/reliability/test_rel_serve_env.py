"""`plaudit serve` reads the database from $PLAUDIT_DB, as the admin commands do, so keys created with the
variable set land in the database being served."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
from rel_helpers import CollectorProcess, code_env


def test_serve_uses_plaudit_db(tmp_path: Path) -> None:
    db_file = tmp_path / "from-env.db"
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    env = {"PLAUDIT_DB": f"sqlite:///{db_file}"}
    key = subprocess.run(
        [sys.executable, "-m", "plaudit_collector.cli", "keys", "create", "--project", "env-proj"],
        env={**code_env(), **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()[-1]
    server = CollectorProcess(None, tmp_path, extra_args=("--auth",), env=env, cwd=workdir).start(timeout=60)
    try:
        body = {"trace_id": "ab" * 16, "name": "thumbs", "value": True}
        headers = {"Authorization": f"Bearer {key}"}
        stored = httpx.post(f"{server.url}/v1/feedback", json=body, headers=headers, timeout=10)
        assert stored.status_code == 201, stored.text  # the key made with $PLAUDIT_DB is known to the server
    finally:
        server.stop()
    assert not (workdir / "plaudit.db").exists()
    with sqlite3.connect(db_file) as conn:
        assert conn.execute("SELECT project, name FROM feedback").fetchall() == [("env-proj", "thumbs")]
