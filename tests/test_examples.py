"""The demo and the examples run as a user would run them."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

from plaudit_collector.server import free_port

ROOT = Path(__file__).resolve().parents[1]
REF = re.compile(r"00-[0-9a-f]{32}-[0-9a-f]{16}-0[0-9a-f]")


def assert_no_ref_in_captured_content(db: Path) -> int:
    """No span's captured input, output or attributes holds a ref string or a trace/span id; returns the spans."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT trace_id, span_id, input, output, attributes FROM spans").fetchall()
    ids = {value for row in rows for value in row[:2]}
    for _, _, *content in rows:
        text = " ".join(str(part) for part in content if part)
        assert not REF.search(text), text
        assert not any(identifier in text for identifier in ids), text
    return len(rows)


def test_quickstart_keeps_refs_out_of_what_it_captures(tmp_path: Path) -> None:
    from plaudit_collector.server import BackgroundServer
    from plaudit_collector.settings import CollectorSettings

    db = tmp_path / "quickstart.db"
    with BackgroundServer(CollectorSettings(db_url=f"sqlite:///{db}")) as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PLAUDIT_", "OTEL_"))}
        env.update(PLAUDIT_ENDPOINT=server.url, QUICKSTART_REQUESTS_PER_VARIANT="3")
        result = subprocess.run(
            [sys.executable, str(ROOT / "examples" / "quickstart.py")],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        server.app.state.db.dispose()
    assert result.returncode == 0 and "delivered: True" in result.stdout, result.stdout + result.stderr
    assert assert_no_ref_in_captured_content(db) == 18 * 3  # request, retrieval and chat spans
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        (rated,) = conn.execute(
            "SELECT COUNT(*) FROM feedback JOIN spans ON spans.span_id = feedback.span_id WHERE spans.name = 'chat'"
        ).fetchone()
    assert rated == 18, "every rating lands on the LLM call the user saw"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        answers = [row[0] for row in conn.execute("SELECT output FROM spans WHERE name = 'chat'")]
        users_per_session = conn.execute(
            "SELECT session_id, COUNT(DISTINCT user_id) FROM spans WHERE session_id IS NOT NULL GROUP BY session_id"
        ).fetchall()
    for text in answers:  # an answer reads like one: no variant, model or prompt version in it
        assert not re.search(r"fake-(small|large)|\bv[123]\b|\[", text), text
    assert len(users_per_session) == 6 and all(users == 1 for _, users in users_per_session), users_per_session


def test_chat_app_names_a_port_in_use_and_the_option_to_change(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for option in ("--port", "--collector-port"):
            args = ["--port", str(port)] if option == "--port" else ["--with-collector", "--collector-port", str(port)]
            result = subprocess.run(
                [sys.executable, str(ROOT / "examples" / "chat_app" / "app.py"), *args, "--db", str(tmp_path / "c.db")],
                capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
                env={k: v for k, v in os.environ.items() if not k.startswith(("PLAUDIT_", "OTEL_"))},
            )  # fmt: skip
            assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
            assert f"port {port} on 127.0.0.1 is already in use" in result.stderr and option in result.stderr


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
    assert "Workspace:" in result.stdout
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
        with httpx.Client(base_url=base, timeout=30) as browser:  # keeps cookies, as a browser does
            turn = browser.post("/api/chat", json={"question": "How do I reset my password?"}).json()
            assert browser.cookies.get("plaudit_example_user") == turn["user"], "one id per browser, in a cookie"
            again = browser.post("/api/chat", json={"question": "Where are my invoices?"}).json()
            assert again["user"] == turn["user"]
        assert turn["answer"] and turn["token"]
        assert turn["collector"] == f"http://127.0.0.1:{collector_port}"  # the fixed, printed port
        assert turn["trace_id"] not in turn["answer"]
        headers = {turn["token_header"]: turn["token"], "Origin": base}
        target = {"trace_id": turn["trace_id"], "span_id": turn["span_id"], "name": "thumbs"}
        vote = httpx.post(f"{turn['collector']}/v1/feedback", json={**target, "value": False}, headers=headers)
        assert vote.status_code == 201, vote.text
        assert vote.headers["access-control-allow-origin"] == base
        page_js = page.text
        assert 'rate({name: "thumbs", comment})' in page_js, "Send comment posts a comment-only item"
        comment = httpx.post(
            f"{turn['collector']}/v1/feedback", json={**target, "comment": "too long"}, headers=headers
        )
        assert comment.status_code == 201, comment.text
        rows = httpx.get(
            f"{turn['collector']}/v1/feedback", params={"trace_id": turn["trace_id"], "history": "true"}
        ).json()
        items = rows.get("data", rows.get("items", rows)) if isinstance(rows, dict) else rows
        assert {item["author"] for item in items} == {turn["user"]}, "vote and comment under the same author"
        assert assert_no_ref_in_captured_content(tmp_path / "chat.db") >= 2
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()


def test_plaudit_demo_in_a_terminal_serves_until_ctrl_c(tmp_path: Path) -> None:
    """Run in a terminal, the demo keeps its collector (and the workspace URL it printed) up until Ctrl-C."""
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
        # A terminal's foreground command gets Ctrl-C at its default action, even when these tests run as a
        # background job (whose commands inherit SIGINT ignored).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
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
