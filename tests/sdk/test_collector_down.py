"""With the collector down, traced code raises nothing and never waits on the network (timing lives in bench/)."""

from __future__ import annotations

import socket
import threading
import time

import plaudit


def closed_port() -> int:
    """A port nothing listens on: bound, then released."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_ten_thousand_traced_calls_with_the_collector_down_raise_nothing() -> None:
    plaudit.configure(endpoint=f"http://127.0.0.1:{closed_port()}", capture_content=True)

    @plaudit.trace(kind="llm", model="m")
    def handler(i: int) -> int:
        with plaudit.span("step") as span:
            span.set_output(i)
        return i + 1

    done = threading.Event()
    results: list[int] = []

    def run() -> None:
        results.extend(handler(i) for i in range(10_000))
        done.set()

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    # No timing assertion: only that the loop finishes (a blocking export would stall it for minutes).
    assert done.wait(timeout=120), "traced calls blocked while the collector was down"
    assert results == list(range(1, 10_001))
    started = time.monotonic()
    plaudit.shutdown(timeout=2)
    assert time.monotonic() - started < 10, "shutdown waited on the unreachable collector"
    # Let the exporter give up in the background before the next test (its retry jitter uses `random`).
    for thread in threading.enumerate():
        if thread.name == "plaudit-stop":
            thread.join(timeout=60)
