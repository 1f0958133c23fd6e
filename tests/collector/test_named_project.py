"""The project an app names is the project its spans and feedback land in.

Without keys, the collector honours the ``X-Plaudit-Project`` header that the SDK sends for
``configure(project=...)``; with keys, the key's project wins and naming another one is a 403.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import plaudit
from plaudit._internal import errors
from plaudit_collector.server import BackgroundServer
from plaudit_collector.settings import CollectorSettings
from plaudit_collector.store import projects

CARD = "4111 1111 1111 1111"


@pytest.fixture
def shop_sdk(collector: Any) -> Iterator[Any]:
    """A ``shop`` project that stores no content, and the SDK configured to send to it."""
    projects.ensure_project(collector.app.state.db, "shop", store_content=False)
    errors.RAISE_INTERNAL_ERRORS = True
    plaudit.configure(endpoint=collector.url, project="shop", service_name="shop-app")
    try:
        yield collector
    finally:
        plaudit.shutdown()
        errors.RAISE_INTERNAL_ERRORS = False


def test_spans_and_feedback_land_in_the_named_content_free_project(shop_sdk: Any) -> None:
    @plaudit.trace(name="answer", kind="llm", model="m1")
    def answer(question: str) -> str:
        return f"charged card {CARD}"

    with plaudit.span("checkout") as span:
        answer(f"my card is {CARD}")
        ref = span.ref
    assert plaudit.flush(timeout=30)
    reply = plaudit.feedback(ref, "thumbs", True, author="u1", wait=True)
    assert reply is not None and reply["ids"]

    trace_path = f"/v1/traces/{ref.trace_id}"
    with httpx.Client(base_url=shop_sdk.url, timeout=30) as http:
        shop = http.get(trace_path, headers={"X-Plaudit-Project": "shop"})
        assert shop.status_code == 200, shop.text
        assert http.get(trace_path).status_code == 404  # nothing landed in "default"
    spans = shop.json()["spans"]
    assert {s["name"] for s in spans} == {"checkout", "answer"}
    # The project stores no content. Not "4111" alone: ids, timestamps and durations hold that by chance.
    assert CARD not in shop.text and "card" not in shop.text
    assert all(s["input"] is None and s["output"] is None for s in spans)
    assert [f["name"] for f in next(s for s in spans if s["name"] == "checkout")["feedback"]] == ["thumbs"]

    with plaudit.Client(shop_sdk.url, project="shop") as client:
        board = client.leaderboard("thumbs", group_by=["span.name"], min_count=1)
    assert [(r.group, r.count) for r in board.rows] == [({"span.name": "checkout"}, 1)]
    with plaudit.Client(shop_sdk.url) as client:
        assert client.leaderboard("thumbs", group_by=["span.name"]).rows == []


def test_a_project_is_created_by_its_first_write_not_by_a_read(collector: Any, otlp: Any) -> None:
    db = collector.app.state.db
    with httpx.Client(base_url=collector.url, timeout=30) as http:
        assert http.get("/v1/traces", headers={"X-Plaudit-Project": "just-looking"}).status_code == 200
        sent = http.post("/v1/traces", json=otlp.request([otlp.span("x")]), headers={"X-Plaudit-Project": "new.app"})
        assert sent.status_code == 200
        assert http.get("/v1/traces", headers={"X-Plaudit-Project": "new.app"}).json()["traces"]
        assert http.get("/v1/traces").json()["traces"] == []
    names = [p["name"] for p in projects.list_projects(db)]
    assert "new.app" in names and "just-looking" not in names


@pytest.mark.parametrize("name", ["bad name", "-lead", "x" * 101, "caf\u00e9"])
def test_a_malformed_project_name_is_a_400_naming_the_header(collector: Any, otlp: Any, name: str) -> None:
    doc = otlp.request([otlp.span("x")])
    with httpx.Client(base_url=collector.url, timeout=30) as http:
        refused = http.post("/v1/traces", json=doc, headers={"X-Plaudit-Project": name.encode()})
        assert refused.status_code == 400
        assert refused.json()["error"] == {
            "code": "invalid_project",
            "message": refused.json()["error"]["message"],
            "field": "X-Plaudit-Project",
        }
        assert http.get("/v1/traces").json()["traces"] == []


def test_with_keys_the_keys_project_wins_and_another_name_is_a_403(auth_collector: Any, otlp: Any) -> None:
    key = auth_collector.make_key("alpha")
    trace_id = otlp.trace_id()
    doc = otlp.request([otlp.span("x", trace_id=trace_id)])
    auth = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=auth_collector.url, timeout=30) as http:
        wrong = http.post("/v1/traces", json=doc, headers={**auth, "X-Plaudit-Project": "beta"})
        assert wrong.status_code == 403
        assert wrong.json()["error"]["code"] == "project_mismatch"
        assert wrong.json()["error"]["field"] == "X-Plaudit-Project"
        assert http.get(f"/v1/traces/{trace_id}", headers=auth).status_code == 404  # nothing stored
        same = http.post("/v1/traces", json=doc, headers={**auth, "X-Plaudit-Project": "alpha"})
        assert same.status_code == 200
        assert http.get(f"/v1/traces/{trace_id}", headers=auth).status_code == 200
    assert "beta" not in [p["name"] for p in projects.list_projects(auth_collector.db)]


def test_the_sdk_sends_the_project_with_keys_too(tmp_path: Any) -> None:
    """A key of the named project is accepted: the header only has to agree with the key."""
    with BackgroundServer(CollectorSettings(db_url=f"sqlite:///{tmp_path / 'k.db'}", auth=True)) as server:
        key, _ = projects.create_key(server.app.state.db, "shop")
        errors.RAISE_INTERNAL_ERRORS = True
        plaudit.configure(endpoint=server.url, api_key=key, project="shop", service_name="keyed")
        try:
            with plaudit.span("keyed-call") as span:
                ref = span.ref
            assert plaudit.flush(timeout=30)
            assert plaudit.feedback(ref, "thumbs", 1, wait=True) is not None
        finally:
            plaudit.shutdown()
            errors.RAISE_INTERNAL_ERRORS = False
        with httpx.Client(base_url=server.url, timeout=30, headers={"Authorization": f"Bearer {key}"}) as http:
            (stored,) = http.get(f"/v1/traces/{ref.trace_id}").json()["spans"]
        server.app.state.db.dispose()
    assert stored["feedback"][0]["value"] == 1


@pytest.mark.parametrize("name", ["bad name", "", "x" * 101])
def test_configure_refuses_a_project_the_collector_would_refuse(name: str) -> None:
    if not name:  # empty counts as unset
        with plaudit.Client("http://127.0.0.1:9", project=name) as client:
            assert "x-plaudit-project" not in client._http.headers
        return
    with pytest.raises(plaudit.PlauditConfigError, match="project"):
        plaudit.Client("http://127.0.0.1:9", project=name)


def test_the_cli_reads_the_project_named_in_the_environment(shop_sdk: Any, plaudit_cli: list[str]) -> None:
    import json
    import os
    import subprocess

    with plaudit.span("rated") as span:
        ref = span.ref
    assert plaudit.flush(timeout=30)
    assert plaudit.feedback(ref, "thumbs", True, wait=True) is not None
    args = [*plaudit_cli, "leaderboard", "--score", "thumbs", "--by", "span.name", "--min-count", "1"]
    args += ["--endpoint", shop_sdk.url, "--format", "json"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLAUDIT_", "OTEL_"))}
    for project, expected in (("shop", [{"span.name": "rated"}]), (None, [])):
        run_env = {**env, "PLAUDIT_PROJECT": project} if project else env
        result = subprocess.run(args, capture_output=True, text=True, env=run_env, timeout=120, check=False)
        assert result.returncode == 0, result.stderr
        assert [row["group"] for row in json.loads(result.stdout)["rows"]] == expected


def test_segment_by_context_metadata_uses_its_stored_key(collector: Any) -> None:
    """``plaudit.context(metadata={"plan": ...})`` is stored as ``plaudit.metadata.plan``: that is the attr key."""
    errors.RAISE_INTERNAL_ERRORS = True
    plaudit.configure(endpoint=collector.url, service_name="segments")
    try:
        for i in range(6):
            with plaudit.context(metadata={"plan": "pro" if i % 2 else "free"}), plaudit.span("s", variant="A") as s:
                ref = s.ref
            plaudit.feedback(ref, "thumbs", i % 3 != 0, author=f"u{i}")
        assert plaudit.flush(timeout=30)
    finally:
        plaudit.shutdown()
        errors.RAISE_INTERNAL_ERRORS = False
    with plaudit.Client(collector.url) as client:
        by_metadata = client.segments("thumbs", "attr.plaudit.metadata.plan", min_count=1)
        by_bare_key = client.segments("thumbs", "attr.plan", min_count=1)
        filtered = client.leaderboard("thumbs", group_by=["variant"], min_count=1, metadata={"plan": "pro"})
    assert sorted(str(e["segment"]) for e in by_metadata.segments) == ["free", "pro"]
    assert [e["segment"] for e in by_bare_key.segments] == [None]  # no attribute is literally named "plan"
    assert [r.rated for r in filtered.rows] == [3]


def test_an_experiment_lives_in_the_project_the_sdk_names(shop_sdk: Any) -> None:
    """Registered, refreshed and learning in ``shop``, whether the experiment is given the collector's address
    or takes it from ``configure``: its spans and feedback go there too."""
    shop = {"X-Plaudit-Project": "shop"}
    for name, where in (("greeting", {"endpoint": shop_sdk.url}), ("farewell", {})):
        with plaudit.Experiment(name, {"a": {}, "b": {}}, score="thumbs", refresh_interval=60, **where) as exp:
            assert exp.refresh()
            with exp.choose(user_id="u1") as choice:
                pass
            assert plaudit.flush(timeout=30) and choice.ref is not None
            assert plaudit.feedback(choice.ref, "thumbs", True, wait=True) is not None
        with httpx.Client(base_url=shop_sdk.url, timeout=30) as http:
            assert http.get(f"/v1/experiments/{name}").status_code == 404  # nothing in "default"
            report = http.get(f"/v1/experiments/{name}/report", headers=shop)
            assert report.status_code == 200, report.text
            assert (report.json()["overall"]["choices"], report.json()["overall"]["rated"]) == (1, 1)
    with plaudit.Client(shop_sdk.url, project="shop") as client:
        assert [e.name for e in client.experiments()] == ["farewell", "greeting"]
