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


def test_chat_app_example_serves_its_page_and_rates_through_a_token(tmp_path: Path) -> None:
    import time

    import httpx

    from plaudit_collector.server import free_port

    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "examples" / "chat_app" / "app.py"),
            "--with-collector",
            "--port",
            str(port),
            "--db",
            str(tmp_path / "chat.db"),
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith(("PLAUDIT_", "OTEL_"))},
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                page = httpx.get(f"{base}/", timeout=5)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "the chat app did not start"
                time.sleep(0.2)
        assert page.status_code == 200
        assert "👍" in page.text and "👎" in page.text and "Edit answer" in page.text
        turn = httpx.post(f"{base}/api/chat", json={"question": "How do I reset my password?"}, timeout=30).json()
        assert turn["answer"] and turn["token"]
        vote = httpx.post(
            f"{turn['collector']}/v1/feedback",
            json={"trace_id": turn["trace_id"], "span_id": turn["span_id"], "name": "thumbs", "value": False},
            headers={turn["token_header"]: turn["token"], "Origin": base},
            timeout=30,
        )
        assert vote.status_code == 201, vote.text
        assert vote.headers["access-control-allow-origin"] == base
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()
