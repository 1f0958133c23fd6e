"""Traced code with the collector down runs as fast as with it up.

A loop of 10,000 ``@plaudit.trace`` calls (each with a nested ``plaudit.span`` and captured I/O) is timed
twice with the real exporter pipeline: against a live collector (``plaudit serve`` in a subprocess on a
temporary SQLite file) and against a closed port. Budget: down/up <= 1.5. Best of three runs each,
alternating, so both modes see the same machine load.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _common import free_port

N_CALLS = 10_000
ROUNDS = 3


def start_collector(db: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    code = "import sys; from plaudit_collector.cli import main; sys.exit(main())"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "serve", "--db", f"sqlite:///{db}", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("collector did not start")


def timed_loop(endpoint: str) -> float:
    import plaudit

    plaudit.configure(endpoint=endpoint, capture_content=True)

    @plaudit.trace(kind="llm", model="m1")
    def handler(i: int) -> dict[str, int]:
        with plaudit.span("step") as span:
            span.set_output(i)
        return {"i": i}

    for i in range(500):  # warm-up
        handler(i)
    start = time.perf_counter()
    for i in range(N_CALLS):
        handler(i)
    elapsed = time.perf_counter() - start
    plaudit.shutdown(timeout=5)
    return elapsed


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        proc, up_url = start_collector(Path(tmp) / "bench.db")
        down_url = f"http://127.0.0.1:{free_port()}"  # bound then released: nothing listens there
        up: list[float] = []
        down: list[float] = []
        try:
            for _ in range(ROUNDS):
                up.append(timed_loop(up_url))
                down.append(timed_loop(down_url))
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    best_up, best_down = min(up), min(down)
    print(
        f"traced loop of {N_CALLS} calls, collector up     {best_up * 1000:8.1f} ms  "
        f"({best_up / N_CALLS * 1e6:.1f} us/call)"
    )
    print(
        f"traced loop of {N_CALLS} calls, collector down   {best_down * 1000:8.1f} ms  "
        f"({best_down / N_CALLS * 1e6:.1f} us/call)   down/up = {best_down / best_up:.2f}  (budget 1.50)"
    )


if __name__ == "__main__":
    os.environ.setdefault("OTEL_PYTHON_LOG_LEVEL", "error")
    import logging

    logging.getLogger("opentelemetry").setLevel(logging.CRITICAL)  # the exporter's retry warnings are expected here
    main()
