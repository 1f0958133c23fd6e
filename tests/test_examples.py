"""The demo and the examples run as a user would run them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from plaudit_collector.server import free_port

ROOT = Path(__file__).resolve().parents[1]


def test_plaudit_demo_puts_the_truly_best_variant_first(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    result = subprocess.run(
        [sys.executable, "-m", "plaudit_collector.cli", "demo", "--db", str(db), "--port", str(free_port())],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,  # not a terminal: the demo finishes on its own
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    first_rows = [line for line in lines if line.startswith("1  ")]
    assert first_rows[0].split()[1:3] == ["v3/fake-large", "★"]  # the simulation's best variant, a clear leader
    assert first_rows[1].split()[1:3] == ["fake-large", "★"]
    assert "Dashboard:" in result.stdout
    assert "Queue full" not in result.stdout + result.stderr
    assert db.exists()


def test_chat_app_example_serves_its_page_and_rates_through_a_token(tmp_path: Path) -> None:
    import time

    import httpx

    port, collector_port = free_port(), free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "examples" / "chat_app" / "app.py"),
            "--with-collector",
            "--port",
            str(port),
            "--db",
            str(tmp_path / "chat.db"),
            "--collector-port",
            str(collector_port),
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
        assert turn["collector"] == f"http://127.0.0.1:{collector_port}"  # the fixed, printed port
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


def test_plaudit_demo_in_a_terminal_serves_until_ctrl_c(tmp_path: Path) -> None:
    """Run in a terminal, the demo keeps its collector (and the dashboard URL it printed) up until Ctrl-C."""
    import pty
    import signal
    import time

    import httpx

    port = free_port()
    terminal, child_end = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "plaudit_collector.cli", "demo", "--db", str(tmp_path / "d.db"), "--port", str(port)],
        cwd=tmp_path,
        stdin=child_end,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "QUICKSTART_REQUESTS_PER_VARIANT": "10"},
    )
    os.close(child_end)
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 120
        while "until Ctrl-C" not in (line := proc.stdout.readline()):
            assert line and time.monotonic() < deadline, "the demo did not say it keeps serving"
        time.sleep(1)  # still up after it finished printing
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=10).status_code == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(terminal)
        if proc.stdout is not None:
            proc.stdout.close()
    try:
        httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
        raise AssertionError("the collector still answers after Ctrl-C")
    except httpx.TransportError:
        pass
