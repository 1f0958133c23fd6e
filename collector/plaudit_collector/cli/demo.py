"""``plaudit demo``: a collector on a fresh SQLite file, the quickstart app against it, the leaderboard.

The app it runs is ``examples/quickstart.py``; the wheel carries a copy as ``plaudit_collector/cli/demo_app.py``
(see ``pyproject.toml``), so the demo works from an installed package as well as from a checkout.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.text import Text

from plaudit_collector.cli import views
from plaudit_collector.cli.failures import CliFailure
from plaudit_collector.cli.output import show
from plaudit_collector.server import BackgroundServer, free_port
from plaudit_collector.settings import CollectorSettings
from plaudit_collector.store.db import normalise_url

DEFAULT_PORT = 4318


def find_app() -> Path:
    """The quickstart app: the copy inside the installed package, else the checkout's ``examples/``."""
    here = Path(__file__).resolve()
    for candidate in (here.with_name("demo_app.py"), here.parents[3] / "examples" / "quickstart.py"):
        if candidate.is_file():
            return candidate
    raise CliFailure(f"the demo app is missing from this installation (looked beside {here}); reinstall plaudit")


def pick_port(requested: int | None) -> int:
    """``requested``, else the collector's usual port when it is free (so ``plaudit leaderboard`` finds it)."""
    if requested is not None:
        return requested
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", DEFAULT_PORT))
        except OSError:
            return free_port()
    return DEFAULT_PORT


def run_demo(db_file: str, *, port: int | None, keep_serving: bool, console: Console) -> int:
    app = find_app()
    db_path = Path(db_file).resolve()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    started = time.perf_counter()
    chosen = pick_port(port)
    try:
        server = BackgroundServer(CollectorSettings(db_url=normalise_url(str(db_path))), port=chosen).start()
    except (RuntimeError, OSError, SystemExit) as exc:  # uvicorn exits when it cannot bind
        raise CliFailure(f"could not start the demo's collector on port {chosen} ({exc}): pass --port") from None
    try:
        console.print(
            Text.assemble(("Collector", "bold"), f" running at {server.url} (SQLite: {db_path})"), soft_wrap=True
        )
        env = {**os.environ, "PLAUDIT_ENDPOINT": server.url, "PYTHONUNBUFFERED": "1"}
        console.print(Text.assemble(("Running", "bold"), " the quickstart app (examples/quickstart.py) …"))
        result = subprocess.run([sys.executable, str(app)], env=env, check=False)
        if result.returncode != 0:
            raise CliFailure(f"the demo app ({app}) failed with exit code {result.returncode}", result.returncode)

        import plaudit

        with plaudit.Client(server.url) as client:
            by_variant = client.leaderboard("thumbs", group_by=["variant"]).model_dump(mode="json")
            by_model = client.leaderboard("thumbs", group_by=["model"]).model_dump(mode="json")
        show(views.leaderboard(by_variant) + views.leaderboard(by_model), None, "table", console)
        console.print(f"\nDemo finished in {time.perf_counter() - started:.1f} s.")
        for label, path in (
            ("Workspace", "/"),
            ("Leaderboard", "/v1/analytics/leaderboard?score=thumbs&group_by=variant"),
            ("Traces", "/v1/traces"),
            ("API docs", "/docs"),
        ):
            console.print(f"  {label + ':':<13}{server.url}{path}", soft_wrap=True)
        if keep_serving:
            console.print(f"Serving {server.url}/ until Ctrl-C …")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                console.print("Stopped.")
        else:
            console.print(
                f"The collector stopped with the demo. To explore the data, run `plaudit serve --db {db_file}` and "
                "open http://127.0.0.1:4318/ (`plaudit demo --keep-serving` keeps it up until Ctrl-C).",
                soft_wrap=True,
            )
        return 0
    finally:
        server.stop()
