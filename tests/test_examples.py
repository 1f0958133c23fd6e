"""The demo and the examples run as a user would run them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_plaudit_demo_puts_the_truly_best_variant_first(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    result = subprocess.run(
        [sys.executable, "-m", "plaudit_collector.cli", "demo", "--db", str(db)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    first_rows = [line for line in lines if line.startswith("│ 1 │")]
    assert "v3/fake-large ★" in first_rows[0]  # the simulation's best variant, marked as a clear leader
    assert "fake-large ★" in first_rows[1]
    assert "Dashboard:" in result.stdout
    assert "Queue full" not in result.stdout + result.stderr
    assert db.exists()
