"""Wrong configuration is said once, clearly; a batch the collector fails on never sinks its neighbours.

Real collectors over real HTTP on 127.0.0.1; the poisoned collector is a tiny real HTTP server that answers
500 to any body holding a marker and passes every other request on to a real collector.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from bad_collectors import ScriptedServer, forward_to
from rel_helpers import code_env, db_count, wait_until

import plaudit
from plaudit_collector.server import BackgroundServer
from plaudit_collector.settings import CollectorSettings

APP = """
import sys, time
import plaudit

plaudit.configure(endpoint=sys.argv[1], api_key=sys.argv[2] or None, service_name="wrong")

@plaudit.trace
def work(i):
    return i

deadline = time.monotonic() + 4
i = 0
while time.monotonic() < deadline:
    work(i)
    i += 1
    if i % 10 == 0:
        plaudit.feedback(plaudit.last_ref(), "thumbs", True)
    time.sleep(0.02)
plaudit.shutdown(timeout=1)
"""


@pytest.fixture
def collector_db(tmp_path: Path) -> Iterator[tuple[BackgroundServer, str]]:
    db_url = f"sqlite:///{tmp_path / 'c.db'}"
    server = BackgroundServer(CollectorSettings(db_url=db_url)).start()
    try:
        yield server, db_url
    finally:
        server.stop()
        server.app.state.db.dispose()


def run_wrong_app(endpoint: str, api_key: str = "") -> str:
    result = subprocess.run(
        [sys.executable, "-c", APP, endpoint, api_key], capture_output=True, text=True, env=code_env(), timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stderr


def test_a_path_in_the_endpoint_is_said_once_clearly_without_a_flood(
    collector_db: tuple[BackgroundServer, str],
) -> None:
    collector, _ = collector_db
    with ScriptedServer(forward_to(collector.url)) as proxy:  # counts what reaches the collector
        wrong = f"{proxy.url}/v1/traces"
        stderr = run_wrong_app(wrong)
        tries = len(proxy.requests)
    config_lines = [line for line in stderr.splitlines() if "HTTP 404" in line]
    assert len(config_lines) == 1, stderr
    assert f"{wrong}/v1/" in config_lines[0] and "has a path (/v1/traces)" in config_lines[0]
    assert f"configure the collector's base URL, {proxy.url}" in config_lines[0]
    assert tries <= 6, f"{tries} requests in 4 s: a slow backoff, not a flood"
    assert "Failed to export" not in stderr and "Transient error" not in stderr, "no OpenTelemetry per-retry noise"
    assert len(stderr.strip().splitlines()) <= 3, stderr  # the configuration line, then what was lost at exit


def test_a_wrong_key_is_said_once_and_names_the_key(tmp_path: Path) -> None:
    settings = CollectorSettings(db_url=f"sqlite:///{tmp_path / 'auth.db'}", auth=True)
    with BackgroundServer(settings) as collector:
        stderr = run_wrong_app(collector.url, "not-a-key")
        collector.app.state.db.dispose()
    lines = [line for line in stderr.splitlines() if "HTTP 401" in line]
    assert len(lines) == 1 and "API key" in lines[0], stderr


def test_one_poisoned_span_does_not_stop_the_next_200_traces(collector_db: tuple[BackgroundServer, str]) -> None:
    collector, db_url = collector_db
    forward = forward_to(collector.url)

    def poisoned(path: str, body: bytes) -> tuple[int, bytes]:
        if b"POISON\x00PILL" in body:
            return 500, b'{"error": {"code": "internal", "message": "text fields cannot contain NUL"}}'
        return forward(path, body)

    before = plaudit.stats()["spans"]["rejected"]
    with ScriptedServer(poisoned) as server:
        plaudit.configure(endpoint=server.url, service_name="poison")
        try:

            @plaudit.trace
            def answer(text: str) -> str:
                return text

            answer("POISON\x00PILL")
            for i in range(200):
                answer(f"good {i}")
            assert wait_until(lambda: db_count(db_url, "SELECT COUNT(DISTINCT trace_id) FROM spans") >= 200, 30)
            plaudit.flush(10)
        finally:
            plaudit.shutdown(timeout=5)
    assert db_count(db_url, "SELECT COUNT(*) FROM spans") == 200
    assert db_count(db_url, "SELECT COUNT(*) FROM spans WHERE output LIKE '%POISON%'") == 0
    assert plaudit.stats()["spans"]["rejected"] - before == 1, "only the poisoned span is lost, and counted"


def test_one_refused_rating_costs_one_rating(collector_db: tuple[BackgroundServer, str]) -> None:
    collector, db_url = collector_db
    plaudit.configure(endpoint=collector.url, service_name="ratings")
    try:
        assert plaudit.score_config("stars", "numeric", min=1, max=5) is not None

        @plaudit.trace
        def answer(i: int) -> int:
            return i

        refs = []
        for i in range(61):
            answer(i)
            refs.append(plaudit.last_ref())
        for i, ref in enumerate(refs):
            plaudit.feedback(ref, "stars", 9 if i == 30 else 4, author=f"u{i}")  # 9 breaks the strict config
        assert plaudit.flush(20) is False, "one rating was refused: flush says not everything arrived"
    finally:
        plaudit.shutdown(timeout=5)
    assert db_count(db_url, "SELECT COUNT(*) FROM feedback WHERE name = 'stars'") == 60


def test_nan_or_unserialisable_metadata_raises_at_the_call_site() -> None:
    ref = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    for metadata in ({"x": float("nan")}, {"x": object()}, {"x": "\ud800"}):
        with pytest.raises(ValueError, match="metadata"):
            plaudit.feedback(ref, "thumbs", True, metadata=metadata)
