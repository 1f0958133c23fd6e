"""Browser fixtures: Debian's Chromium driven by Playwright, a real collector per backend with data loaded
through the SDK, and a folder for the screenshots of every page.

Chromium is the system's (``apt-get install chromium``; ``.ci/run`` installs it when missing); no browser is
ever downloaded. Elements are found by accessible role and name only.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import PG_URL, _require_pg

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]

# The quickstart app (prompt versions x models, simulated thumbs) plus one agent turn whose messages hold a
# system prompt, a tool call and its result: what a reviewer reads as a conversation.
LOADER = textwrap.dedent(
    """
    import runpy, sys
    import plaudit
    quickstart = runpy.run_path(sys.argv[1])
    quickstart["main"](requests_per_variant=int(sys.argv[2]))
    with plaudit.context(user_id="agent-user", session_id="agent-session"):
        with plaudit.span("weather-agent", kind="llm", model="fake-large", provider="fake", variant="agent/v1") as span:
            span.set_input([
                {"role": "system", "content": "You are a weather assistant."},
                {"role": "user", "content": "Will it rain in Lyon tomorrow?"},
                {"role": "assistant", "content": None, "tool_calls": [
                    {"id": "call_1", "type": "function",
                     "function": {"name": "get_forecast", "arguments": '{"city": "Lyon"}'}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "rain 80%, 14C"},
            ])
            span.set_output({"role": "assistant", "content": "Yes: take an umbrella, rain is likely (80%) in Lyon."})
            span.set_usage(42, 17)
    print(plaudit.flush())
    """
)


def launch() -> Any:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") or os.environ.get("PLAUDIT_REQUIRE_BROWSER"):
            pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    manager = sync_playwright().start()
    browser = manager.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
    return manager, browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium for one module. Playwright's sync API runs an event loop in this thread while it is started, so
    it is stopped after each module: later tests may start their own loops (``asyncio.run``)."""
    manager, chromium = launch()
    try:
        yield chromium
    finally:
        chromium.close()
        manager.stop()


@pytest.fixture(scope="session")
def screens(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where every page's screenshot goes (under pytest's temporary output)."""
    return tmp_path_factory.mktemp("screenshots")


def _pg_schema_url() -> tuple[str, str]:
    import psycopg

    schema = f"plaudit_browser_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_URL.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_URL else "?"
    return schema, f"{PG_URL}{sep}options=-csearch_path%3D{schema}"


class Workspace:
    """A running collector with the demo's data: its URL, an HTTP client, and the backend's name."""

    def __init__(self, server: Any, backend: str) -> None:
        self.server = server
        self.url: str = server.url
        self.backend = backend
        self.http = httpx.Client(base_url=self.url, timeout=30)

    def chat_trace(self) -> dict[str, Any]:
        """A quickstart trace (its chat span has feedback and a plain-text conversation)."""
        for trace in self.traces():
            if trace.get("name") == "request":
                return self.http.get(f"/v1/traces/{trace['trace_id']}").json()  # type: ignore[no-any-return]
        raise AssertionError("no quickstart trace")

    def traces(self) -> list[dict[str, Any]]:
        answer = self.http.get("/v1/traces", params={"limit": 500}).json()
        return answer.get("traces", answer.get("data", []))  # type: ignore[no-any-return]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def workspace(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """A collector per backend, loaded once per module through the SDK (a separate process, as an app is)."""
    from plaudit_collector.server import BackgroundServer
    from plaudit_collector.settings import CollectorSettings

    schema = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'plaudit.db'}"
    else:
        _require_pg()
        schema, url = _pg_schema_url()
    server = BackgroundServer(CollectorSettings(db_url=url)).start()
    try:
        env = {**os.environ, "PLAUDIT_ENDPOINT": server.url, "OTEL_SERVICE_NAME": "browser-tests"}
        loaded = subprocess.run(
            [sys.executable, "-c", LOADER, str(ROOT / "examples" / "quickstart.py"), "5"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert loaded.returncode == 0, loaded.stderr
        space = Workspace(server, request.param)
        space.http.put("/v1/score-configs/stars", json={"type": "numeric", "min": 1, "max": 5})
        space.http.put("/v1/score-configs/tone", json={"type": "categorical", "categories": ["formal", "friendly"]})
        # an annotator re-rates a dozen of the users' thumbs (two disagreements), for the agreement page
        given = space.http.get("/v1/feedback", params={"name": "thumbs", "limit": 12}).json()["data"]
        again = [
            {"trace_id": f["trace_id"], "span_id": f["span_id"], "name": "thumbs", "value": f["value"] != (i < 2)}
            for i, f in enumerate(given)
        ]
        for item in again:
            item.update(source="annotator", author="anna")
        assert space.http.post("/v1/feedback", json={"items": again}).status_code == 201
        yield space
        space.http.close()
    finally:
        server.stop()
        server.app.state.db.dispose()
        if schema:
            import psycopg

            with psycopg.connect(PG_URL.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    tab = context.new_page()
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.set_default_timeout(15_000)
    try:
        yield tab
    finally:
        context.close()
    assert not errors, f"script errors on the page: {errors}"
