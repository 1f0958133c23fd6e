"""``plaudit serve`` starts without the statistics stack: SciPy, NumPy, krippendorff and genai-prices load only
when a statistic or a price needs them, so a collector is healthy soon after launch."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

import plaudit
import plaudit_collector
from plaudit_collector.api import deferred_routes
from plaudit_collector.server import free_port
from plaudit_collector.store.db import Database

HEAVY = ("scipy", "numpy", "krippendorff", "genai_prices")


def _env() -> dict[str, str]:
    import os

    roots = sorted(
        {
            str(Path(plaudit.__file__).resolve().parents[1]),
            str(Path(plaudit_collector.__file__).resolve().parents[1]),
        }
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLAUDIT_", "OTEL_"))}
    env["PYTHONPATH"] = os.pathsep.join([*roots, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


LATER = (*deferred_routes.MODULES, "pydantic.v1", "plaudit_collector.judges.worker")
"""Built after startup, not at launch: the question routers, the pydantic.v1 module FastAPI loads when it first
builds a model for a route (the routes built at launch have none), and the judge worker (only with --judges)."""


def test_building_the_app_as_serve_does_loads_no_statistics_stack_and_no_question_router(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'app.db'}"
    code = (
        "import json, sys\n"
        "import plaudit_collector.cli\n"
        "from plaudit_collector.app import create_app\n"
        "from plaudit_collector.settings import CollectorSettings\n"
        f"create_app(CollectorSettings(db_url={db_url!r}))\n"
        f"print(json.dumps([m for m in {(*HEAVY, *LATER)!r} if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


NOT_AT_START = ("alembic", "rich")
"""What ``plaudit serve`` on a database already at head answers without: Alembic (the version table is read
directly) and Rich (nothing to draw in a pipe). The statistics stack is warmed a moment after startup."""
OTHER_COMMANDS = ("admin", "analytics", "experiments", "judges", "queues")


def test_serve_on_a_database_at_head_answers_without_alembic_rich_or_the_other_commands(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'head.db'}"
    database = Database(db_url)
    database.prepare()
    database.dispose()
    port = free_port()
    code = (
        "import gc, json, os, sys, threading, time, urllib.request\n"  # not httpx: it imports Rich
        "def watch():\n"
        "    while True:\n"
        "        try:\n"
        f"            if urllib.request.urlopen('http://127.0.0.1:{port}/healthz', timeout=1).status == 200:\n"
        "                break\n"
        "        except OSError:\n"
        "            time.sleep(0.02)\n"
        "    loaded = sorted({m.split('.')[0] for m in sys.modules} | set(sys.modules))\n"
        "    print(json.dumps({'loaded': loaded, 'gc': gc.isenabled(), 'frozen': gc.get_freeze_count()}))\n"
        "    sys.stdout.flush()\n"
        "    os._exit(0)\n"
        "threading.Thread(target=watch, daemon=True).start()\n"
        f"sys.argv = ['plaudit', 'serve', '--port', '{port}', '--db', {db_url!r}]\n"
        "from plaudit_collector.cli import main\n"
        "main()\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=_env(), capture_output=True, text=True, timeout=120, check=True
    )
    state = json.loads(out.stdout.strip().splitlines()[-1])
    loaded = set(state["loaded"])
    assert "plaudit_collector.app" in loaded
    assert [name for name in NOT_AT_START if name in loaded] == []
    assert [name for name in OTHER_COMMANDS if f"plaudit_collector.cli.{name}" in loaded] == []
    assert "applying migrations" not in out.stderr
    assert state["gc"] and state["frozen"] > 0  # the garbage collector runs again, past what the import froze


def test_serve_answers_and_loads_statistics_when_a_question_needs_them(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(tmp_path / "serve.log", "wb")  # the child holds it from here
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "plaudit_collector.cli",
            "serve",
            "--port",
            str(port),
            "--db",
            f"sqlite:///{tmp_path / 'c.db'}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=_env(),
    )
    log.close()
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"plaudit serve did not answer:\n{(tmp_path / 'serve.log').read_text()}")
            time.sleep(0.1)
        trace_id, span_id = "ab" * 16, "cd" * 8
        span = {
            "traceId": trace_id,
            "spanId": span_id,
            "name": "answer",
            "kind": 1,
            "startTimeUnixNano": str(time.time_ns() - 1_000_000),
            "endTimeUnixNano": str(time.time_ns()),
            "attributes": [{"key": "gen_ai.request.model", "value": {"stringValue": "m1"}}],
        }
        otlp = {"resourceSpans": [{"resource": {}, "scopeSpans": [{"scope": {"name": "t"}, "spans": [span]}]}]}
        assert httpx.post(f"{url}/v1/traces", json=otlp, timeout=30).status_code < 300
        feedback = {"trace_id": trace_id, "span_id": span_id, "name": "thumbs", "value": True}
        assert httpx.post(f"{url}/v1/feedback", json=feedback, timeout=30).status_code < 300
        board = httpx.get(
            f"{url}/v1/analytics/leaderboard", params={"score": "thumbs", "group_by": "model"}, timeout=60
        )
        assert board.status_code == 200, board.text  # the interval code imports SciPy on first use
        assert [row["group"] for row in board.json()["rows"]] == [{"model": "m1"}]
        assert board.json()["rows"][0]["ci_low"] is not None
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_the_written_out_normal_quantile_is_scipys() -> None:
    from scipy import stats

    from plaudit_collector.analytics.stats import CONFIDENCE, Z

    assert float(stats.norm.ppf(0.5 + CONFIDENCE / 2)) == Z


def test_no_collector_module_imports_the_statistics_stack_at_module_level() -> None:
    import ast

    root = Path(plaudit_collector.__file__).resolve().parent
    offenders = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:  # module level; `if TYPE_CHECKING:` is not
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(name.split(".")[0] in HEAVY for name in names):
                offenders.append(f"{path.relative_to(root)}:{node.lineno}")
    assert offenders == []


def test_healthz_is_matched_first_and_documented_where_it_was(tmp_path: Path) -> None:
    from plaudit_collector.app import create_app
    from plaudit_collector.settings import CollectorSettings

    def paths_of(route: object) -> list[str]:  # a route, or a router FastAPI keeps as one entry
        inner = getattr(route, "original_router", None)
        return [r.path for r in inner.routes] if inner is not None else [getattr(route, "path", "")]

    app = create_app(CollectorSettings(db_url=f"sqlite:///{tmp_path / 'o.db'}"))
    matched = [p for route in app.router.routes for p in paths_of(route) if p == "/healthz" or p.startswith("/v1/")]
    assert matched[0] == "/healthz"  # the first health check builds no other router's routes
    paths = list(app.openapi()["paths"])
    assert paths[-1] == "/healthz" and paths[0] == "/v1/traces"
