"""Collector start: time from launching ``plaudit serve`` to its first healthy ``GET /healthz``.

Baseline, measured in the same run: the time to launch ``python -c "import fastapi"`` and see it exit,
the floor for any FastAPI service. The statistics stack (SciPy, NumPy, krippendorff) and the price
database load only when a question needs them, and the routers that answer questions are built just after
the collector starts (``api/deferred_routes.py``), so none of them is part of this figure. Each figure is the
median of several launches on the same SQLite file, created (and migrated) by a first launch that is
reported apart. The project's modules are compiled to bytecode first, as installing a wheel does (with
``PYTHONDONTWRITEBYTECODE`` set, an editable install would otherwise compile them on every launch).

    python bench/bench_start.py [--runs 5]
"""

from __future__ import annotations

import argparse
import compileall
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from plaudit_collector.server import free_port


def import_fastapi() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import fastapi"], check=True)
    return time.perf_counter() - start


def time_to_healthy(db_url: str, timeout: float = 120.0) -> float:
    port = free_port()
    cmd = [sys.executable, "-m", "plaudit_collector.cli", "serve", "--port", str(port), "--db", db_url]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with httpx.Client(timeout=1.0) as client:
            while time.perf_counter() - start < timeout:
                if proc.poll() is not None:
                    raise RuntimeError(f"plaudit serve exited with {proc.returncode}")
                try:
                    if client.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                        return time.perf_counter() - start
                except httpx.HTTPError:
                    pass
                time.sleep(0.01)
        raise RuntimeError("plaudit serve did not become healthy")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args, _ = parser.parse_known_args()
    import plaudit
    import plaudit_collector

    for package in (plaudit, plaudit_collector):
        compileall.compile_dir(Path(package.__file__).parent, quiet=1)
    with tempfile.TemporaryDirectory() as tmp:
        db_url = f"sqlite:///{Path(tmp) / 'start.db'}"
        first = time_to_healthy(db_url)
        serve, fastapi = [], []
        for _ in range(args.runs):  # in turn, so load changes hit both alike
            fastapi.append(import_fastapi())
            serve.append(time_to_healthy(db_url))
    base, healthy = statistics.median(fastapi), statistics.median(serve)
    print(f"python -c 'import fastapi' (baseline)    {base * 1000:8.0f} ms")
    print(f"plaudit serve, new database, to healthy  {first * 1000:8.0f} ms")
    print(f"plaudit serve, to healthy                {healthy * 1000:8.0f} ms   ratio {healthy / base:.2f}x")


if __name__ == "__main__":
    main()
