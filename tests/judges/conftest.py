"""Judge fixtures: the local fake provider (OpenAI and Anthropic wire formats) answering as a judge, and a
real collector that requires API keys."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "instrumentation"))

from fake_provider import FakeProvider
from judge_helpers import KEY_ENV, judge_answer


@pytest.fixture
def fake_judge(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeProvider]:
    monkeypatch.setenv(KEY_ENV, "test-key")
    server = FakeProvider(first_chunk_delay=0).start()
    server.answer = judge_answer
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def post_spans() -> Callable[..., list[dict[str, Any]]]:
    def post(client: httpx.Client, spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
        doc = {"resourceSpans": [{"resource": {}, "scopeSpans": [{"scope": {"name": "t"}, "spans": spans}]}]}
        response = client.post("/v1/traces", json=doc)
        assert response.status_code == 200, response.text
        return spans

    return post


@pytest.fixture
def keyed_collector(db_url: str) -> Iterator[Any]:
    """A real collector that requires API keys; ``client(project)`` gives an HTTP client keyed to a project."""
    from plaudit_collector.server import BackgroundServer
    from plaudit_collector.settings import CollectorSettings
    from plaudit_collector.store import projects

    server = BackgroundServer(CollectorSettings(db_url=db_url, auth=True)).start()
    clients: list[httpx.Client] = []

    def client(project: str) -> httpx.Client:
        key, _ = projects.create_key(server.app.state.db, project)
        made = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
        clients.append(made)
        return made

    server.client = client  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        for made in clients:
            made.close()
        server.stop()
        server.app.state.db.dispose()


@pytest.fixture
def http(collector: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=collector.url, timeout=60) as client:
        yield client
