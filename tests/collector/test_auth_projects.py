"""Projects and API keys: every read and write is scoped to the key's project."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest


def client(server: Any, key: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=server.url, headers=headers, timeout=30)


def test_missing_unknown_and_revoked_keys_get_401(auth_collector: Any, otlp: Any) -> None:
    from plaudit_collector.store import projects

    doc = otlp.request([otlp.span("x")])
    with client(auth_collector, None) as anonymous:
        response = anonymous.post("/v1/traces", json=doc)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"]["code"] == "unauthorized"
        assert anonymous.get("/v1/traces").status_code == 401
        assert anonymous.get("/healthz").status_code == 200
    with client(auth_collector, "plk_not-a-real-key") as wrong:
        assert wrong.post("/v1/traces", json=doc).status_code == 401
    key = auth_collector.make_key("alpha")
    with client(auth_collector, key) as good:
        assert good.post("/v1/traces", json=doc).status_code == 200
        key_id = projects.list_keys(auth_collector.db, "alpha")[0]["id"]
        assert projects.revoke_key(auth_collector.db, key_id)
        assert good.post("/v1/traces", json=doc).status_code == 401


def test_a_key_never_sees_another_projects_data(auth_collector: Any, otlp: Any) -> None:
    key_a, key_b = auth_collector.make_key("team-a"), auth_collector.make_key("team-b")
    trace_id, span_id = otlp.trace_id(), otlp.span_id()
    doc = otlp.request([otlp.span("secret", {"plaudit.variant": "A"}, trace_id=trace_id, span_id=span_id)])
    with client(auth_collector, key_a) as a, client(auth_collector, key_b) as b:
        assert a.post("/v1/traces", json=doc).status_code == 200
        fb = {"trace_id": trace_id, "span_id": span_id, "name": "thumbs", "value": True}
        assert a.post("/v1/feedback", json=fb).status_code == 201
        assert a.get(f"/v1/traces/{trace_id}").json()["spans"][0]["feedback"][0]["name"] == "thumbs"
        assert b.get(f"/v1/traces/{trace_id}").status_code == 404
        assert b.get("/v1/traces").json()["traces"] == []
        board = b.get("/v1/analytics/leaderboard", params={"score": "thumbs", "group_by": "variant"})
        assert board.status_code == 200 and board.json()["rows"] == []
        # The same span sent under project B is B's own copy; A's stays untouched.
        assert b.post("/v1/traces", json=doc).status_code == 200
        assert b.get(f"/v1/traces/{trace_id}").json()["spans"][0]["feedback"] == []
        assert len(a.get(f"/v1/traces/{trace_id}").json()["spans"][0]["feedback"]) == 1


def test_project_that_stores_no_content(auth_collector: Any, otlp: Any) -> None:
    from plaudit_collector.store import projects

    projects.ensure_project(auth_collector.db, "private", store_content=False)
    key = auth_collector.make_key("private")
    trace_id = otlp.trace_id()
    attrs = {
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 10,
        "plaudit.input": "my secret prompt",
        "plaudit.output": "secret answer",
        "gen_ai.input.messages": '[{"role": "user", "content": "secret"}]',
        "llm.input_messages.0.message.content": "secret",
        "gen_ai.prompt.name": "kept",
    }
    with client(auth_collector, key) as c:
        assert c.post("/v1/traces", json=otlp.request([otlp.span("llm", attrs, trace_id=trace_id)])).status_code == 200
        (span,) = c.get(f"/v1/traces/{trace_id}").json()["spans"]
    assert span["input"] is None and span["output"] is None
    assert "secret" not in str(span["attributes"])
    assert (span["model"], span["input_tokens"], span["prompt_name"]) == ("gpt-4o", 10, "kept")


def test_cli_keys_and_the_bind_address_rule(tmp_path: Path, plaudit_cli: list[str], otlp: Any) -> None:
    from plaudit_collector.server import BackgroundServer
    from plaudit_collector.settings import CollectorSettings

    db = f"sqlite:///{tmp_path / 'keys.db'}"
    created = subprocess.run(
        [*plaudit_cli, "keys", "create", "--project", "cli-proj", "--db", db],
        capture_output=True,
        text=True,
        check=True,
    )
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("plk_")
    listed = subprocess.run([*plaudit_cli, "keys", "list", "--db", db], capture_output=True, text=True, check=True)
    assert "cli-proj" in listed.stdout and key not in listed.stdout  # only a prefix is ever shown again
    refused = subprocess.run(
        [*plaudit_cli, "serve", "--host", "0.0.0.0", "--db", db], capture_output=True, text=True, timeout=60
    )
    assert refused.returncode == 2 and "--no-auth" in refused.stderr
    server = BackgroundServer(CollectorSettings(db_url=db, auth=True)).start()
    try:
        with client(server, key) as c:
            assert c.post("/v1/traces", json=otlp.request([otlp.span("x")])).status_code == 200
    finally:
        server.stop()
        server.app.state.db.dispose()
    subprocess.run([*plaudit_cli, "keys", "revoke", "1", "--db", db], check=True, capture_output=True)
    again = subprocess.run([*plaudit_cli, "keys", "revoke", "1", "--db", db], capture_output=True, text=True)
    assert again.returncode == 1  # already revoked


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_addresses(host: str) -> None:
    from plaudit_collector.server import is_loopback

    assert is_loopback(host)
    assert not is_loopback("0.0.0.0") and not is_loopback("10.0.0.5")
