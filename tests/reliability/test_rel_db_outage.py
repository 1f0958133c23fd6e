"""PostgreSQL goes away and comes back: every route answers 503 with ``Retry-After`` meanwhile (no token is
minted), and the collector serves again, without a restart, once the database is back.

The test owns a database of its own: ``ALTER DATABASE ... ALLOW_CONNECTIONS false`` plus terminating its
backends is the database going away (new connections are refused, open ones are cut), and allowing
connections again is it coming back. SQLite is a file inside the collector's process: it has no such outage,
but another writer can lock it.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import psycopg
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span
from rel_helpers import CollectorProcess, wait_until
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from plaudit_collector.store.db import is_unavailable

TID = "9" * 32
JSON = {"Content-Type": "application/json"}
PROTOBUF = {"Content-Type": "application/x-protobuf"}
NO_DATABASE = {"/", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json", "/v1/metrics", "/v1/query-model"}


@pytest.fixture
def own_database(pg_url: str) -> Iterator[tuple[str, str]]:
    """(collector URL, admin URL) of a database made for this test and dropped after it."""
    name = f"plaudit_outage_{uuid.uuid4().hex[:10]}"
    server = make_url(pg_url).set(query={})
    admin = server.render_as_string(hide_password=False).replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name).render_as_string(hide_password=False), admin
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _set_reachable(admin: str, db_url: str, reachable: bool) -> None:
    name = make_url(db_url).database
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {"true" if reachable else "false"}')
        if not reachable:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))


UNIT = {"unit": "u", "variant": "a", "probability": 1}
JUDGE = {
    "score": "helpfulness",
    "prompt": "Rate {{output}}",
    "provider": "openai",
    "model": "judge-model",
    "base_url": "http://127.0.0.1:9/v1",
    "api_key_env": "JUDGE_API_KEY",
}


def _otlp(span_id: int) -> bytes:
    span = Span(trace_id=bytes.fromhex(TID), span_id=span_id.to_bytes(8, "big"), name="s", start_time_unix_nano=1)
    return ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=[span])])]
    ).SerializeToString()


def _requests(schema: dict[str, Any], feedback_id: int) -> list[tuple[str, str, dict[str, Any]]]:
    """One plausible request per operation of the live schema (routes added later are covered too)."""
    bodies: dict[tuple[str, str], dict[str, Any]] = {
        ("post", "/v1/traces"): {"content": _otlp(2), "headers": PROTOBUF},
        ("post", "/v1/logs"): {"content": ExportLogsServiceRequest().SerializeToString(), "headers": PROTOBUF},
        ("post", "/v1/feedback"): {"json": {"trace_id": TID, "name": "thumbs", "value": True}},
        ("post", "/v1/preferences"): {"json": {"a": {"trace_id": TID}, "b": {"trace_id": "8" * 32}, "winner": "a"}},
        ("post", "/v1/feedback-tokens"): {"json": {"trace_id": TID, "names": ["thumbs"]}},
        ("put", "/v1/score-configs/{name}"): {"json": {"type": "boolean"}},
        ("post", "/v1/experiments"): {"json": {"name": "e", "variants": {"a": {}, "b": {}}, "score": "thumbs"}},
        ("post", "/v1/experiments/{name}/units"): {"json": {"units": [UNIT]}},
        ("post", "/v1/judges"): {"json": {"name": "j", **JUDGE}},
        ("put", "/v1/judges/{name}"): {"json": JUDGE},
        ("post", "/v1/queues"): {"json": {"name": "q", "scores": ["thumbs"]}},
        ("post", "/v1/queues/{queue_id}/items/{item_id}"): {"json": {"reviewer": "ann", "skip": True}},
    }
    values = {"name": "thumbs", "trace_id": TID, "feedback_id": feedback_id, "score": "thumbs", "group_by": "model"}
    values |= {"a": "model=m1", "b": "model=m2", "segment": "user.id", "preference": "pref"}
    values |= {"queue_id": 1, "item_id": 1, "reviewer": "ann"}
    out = []
    for path, methods in schema["paths"].items():
        if path in NO_DATABASE:
            continue
        for method, operation in methods.items():
            url, query = path, {}
            for param in operation.get("parameters", []):
                if param["in"] == "path":
                    url = url.replace("{" + param["name"] + "}", quote(str(values[param["name"]]), safe=""))
                elif param["in"] == "query" and (param.get("required") or param["name"] in values):
                    query[param["name"]] = values.get(param["name"], "x")
            kwargs = bodies.get((method, path), {"headers": JSON, "content": b"{}"} if method != "get" else {})
            out.append((method.upper(), url, {"params": query, **kwargs}))
    return out


def test_every_route_answers_503_while_postgresql_is_gone_and_recovers(
    own_database: tuple[str, str], tmp_path: Path
) -> None:
    db_url, admin = own_database
    collector = CollectorProcess(db_url, tmp_path).start()
    try:
        with httpx.Client(base_url=collector.url, timeout=30) as http:
            assert http.post("/v1/traces", content=_otlp(1), headers=PROTOBUF).status_code == 200
            feedback_id = http.post("/v1/feedback", json={"trace_id": TID, "name": "thumbs", "value": True}).json()[
                "ids"
            ][0]
            assert http.post("/v1/feedback-tokens", json={"trace_id": TID, "names": ["thumbs"]}).status_code == 201
            requests = _requests(http.get("/openapi.json").json(), feedback_id)
            assert len(requests) >= 15

            _set_reachable(admin, db_url, False)
            answers = {}
            for method, url, kwargs in requests:
                response = http.request(method, url, **kwargs)
                answers[f"{method} {url}"] = response.status_code
                if response.status_code == 503:
                    assert int(response.headers["retry-after"]) >= 1, url
                    assert response.json()["error"]["code"] == "unavailable", response.text[:300]
                    assert "token" not in response.json()
            assert {k: v for k, v in answers.items() if v != 503} == {}
            health = http.get("/healthz")
            assert health.status_code == 503 and "retry-after" in health.headers

            _set_reachable(admin, db_url, True)
            assert wait_until(lambda: http.get("/healthz").status_code == 200, 30)
            assert http.post("/v1/traces", content=_otlp(3), headers=PROTOBUF).status_code == 200
            assert http.post("/v1/feedback", json={"trace_id": TID, "name": "stars", "value": 4}).status_code == 201
            spans = http.get(f"/v1/traces/{TID}").json()["spans"]
            assert {s["span_id"] for s in spans} == {f"{i:016x}" for i in (1, 3)}
            exported = http.get("/v1/export/spans")
            assert exported.status_code == 200
            assert [json.loads(line)["trace_id"] for line in exported.text.splitlines()] == [TID]
        assert "Traceback" not in collector.logs()
    finally:
        collector.stop()


def test_sqlite_lock_errors_count_as_unavailable_and_sql_errors_do_not(tmp_path: Path) -> None:
    """SQLite cannot go away, but it can be locked by another writer: the same 503, not a 500. Its syntax
    errors share the driver's error class and stay bugs."""
    path = tmp_path / "locked.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x INTEGER)")
    holder.execute("BEGIN IMMEDIATE")
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0.1})
    try:
        with pytest.raises(OperationalError) as locked, engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
        assert is_unavailable(locked.value)
        with pytest.raises(OperationalError) as wrong, engine.connect() as conn:
            conn.execute(text("SELEKT 1"))
        assert not is_unavailable(wrong.value)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        engine.dispose()


def _cut_connections(admin: str, db_url: str) -> int:
    """Terminate every backend of the collector's database (a restart, as pooled connections see it)."""
    with psycopg.connect(admin, autocommit=True) as conn:
        cut = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (make_url(db_url).database,),
        ).fetchall()
    return len(cut)


def test_pooled_connections_cut_while_resting_are_replaced_before_a_request_sees_them(
    own_database: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection that rested ``PING_AFTER_IDLE`` seconds is pinged on checkout: cut meanwhile, it is replaced
    and the request succeeds. One used moments ago is not pinged: if it was cut, that request fails as
    unavailable (the routes' 503) and the next one gets a fresh connection."""
    from plaudit_collector.store import db as db_module

    db_url, admin = own_database
    db = db_module.Database(db_url)
    try:
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1
        assert _cut_connections(admin, db_url) == 1
        time.sleep(0.1)
        monkeypatch.setattr(db_module, "PING_AFTER_IDLE", 0.05)  # it has rested long enough
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT 2")).scalar() == 2, "rested and cut: pinged, replaced, answered"

        monkeypatch.setattr(db_module, "PING_AFTER_IDLE", 3600.0)  # in steady use, however slow the machine
        assert _cut_connections(admin, db_url) == 1
        with pytest.raises(OperationalError) as failed, db.engine.connect() as conn:
            conn.execute(text("SELECT 3"))
        assert is_unavailable(failed.value)
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT 4")).scalar() == 4, "the pool let the cut connection go"
    finally:
        db.dispose()
