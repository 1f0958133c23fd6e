"""``plaudit demo``: a collector on a fresh SQLite file, the quickstart app against it, the leaderboard."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console

from plaudit_collector.server import BackgroundServer
from plaudit_collector.settings import CollectorSettings
from plaudit_collector.store.db import normalise_url


def find_example(name: str = "quickstart.py") -> Path | None:
    for base in (Path.cwd(), Path(__file__).resolve().parents[3]):
        candidate = base / "examples" / name
        if candidate.is_file():
            return candidate
    return None


def run_demo(db_file: str, *, keep_serving: bool, console: Console) -> int:
    example = find_example()
    if example is None:
        console.print("[red]examples/quickstart.py not found: run `plaudit demo` from a Plaudit checkout[/]")
        return 2
    db_path = Path(db_file).resolve()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    started = time.perf_counter()
    server = BackgroundServer(CollectorSettings(db_url=normalise_url(str(db_path))), port=None).start()
    try:
        console.print(f"[bold]Collector[/] running at {server.url} (SQLite: {db_path})")
        env = {**os.environ, "PLAUDIT_ENDPOINT": server.url, "PYTHONUNBUFFERED": "1"}
        console.print(f"[bold]Running[/] {example.relative_to(example.parents[1])} …")
        result = subprocess.run([sys.executable, str(example)], env=env, check=False)
        if result.returncode != 0:
            console.print(f"[red]the example app failed with exit code {result.returncode}[/]")
            return result.returncode

        import plaudit
        from plaudit_collector.cli.analytics import print_leaderboard

        with plaudit.Client(server.url) as client:
            by_variant = client.leaderboard("thumbs", group_by=["variant"]).model_dump()
            by_model = client.leaderboard("thumbs", group_by=["model"]).model_dump()
        print_leaderboard(by_variant, console)
        print_leaderboard(by_model, console)
        console.print(f"\nDemo finished in {time.perf_counter() - started:.1f} s.")
        console.print(f"  Dashboard:    {server.url}/")
        console.print(f"  Leaderboard:  {server.url}/v1/analytics/leaderboard?score=thumbs&group_by=variant")
        console.print(f"  Traces:       {server.url}/v1/traces")
        console.print(f"  API docs:     {server.url}/docs")
        if keep_serving:
            console.print("Serving until Ctrl-C …")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
        else:
            console.print(
                f"The collector stops with the demo; to explore the data run "
                f"[bold]plaudit serve --db {db_file}[/] and open http://127.0.0.1:4318/ "
                f"(or use [bold]plaudit demo --keep-serving[/])."
            )
        return 0
    finally:
        server.stop()
