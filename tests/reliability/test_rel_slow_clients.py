"""Slow clients, on SQLite and PostgreSQL: connections that send a few bytes of a body and idle hold no ingest
slot, so everyone else is served; each gets a 408 once its body is overdue."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from urllib.parse import urlparse

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from plaudit_collector.server import BackgroundServer
from plaudit_collector.settings import CollectorSettings

SLOTS = 4
BODY_TIMEOUT = 2.0
PROTOBUF = {"Content-Type": "application/x-protobuf"}


@pytest.fixture
def server(db_url: str) -> Iterator[BackgroundServer]:
    settings = CollectorSettings(
        db_url=db_url, max_concurrent_ingests=SLOTS, ingest_wait_seconds=0.5, body_timeout_seconds=BODY_TIMEOUT
    )
    srv = BackgroundServer(settings).start()
    try:
        yield srv
    finally:
        srv.stop()
        srv.app.state.db.dispose()


def _otlp(index: int) -> bytes:
    span = Span(trace_id=index.to_bytes(16, "big"), span_id=b"\1" * 8, name="s", start_time_unix_nano=1)
    return ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=[span])])]
    ).SerializeToString()


def _start_slow(url: str, path: str, content_type: str, length: int) -> socket.socket:
    parsed = urlparse(url)
    sock = socket.create_connection((parsed.hostname, parsed.port))
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nContent-Length: {length}\r\n\r\n"
    sock.sendall(head.encode() + b"\0")  # one byte of the body, then nothing
    return sock


def _status(sock: socket.socket, timeout: float) -> bytes:
    sock.settimeout(timeout)
    return sock.recv(4096).split(b"\r\n", 1)[0]


def test_idle_slow_bodies_do_not_stop_other_clients(server: BackgroundServer) -> None:
    assert CollectorSettings().body_timeout_seconds == 30.0, "the documented default"
    slow = [_start_slow(server.url, "/v1/traces", PROTOBUF["Content-Type"], 100_000) for _ in range(SLOTS)]
    slow.append(_start_slow(server.url, "/v1/feedback", "application/json", 100_000))
    try:
        time.sleep(0.5)  # every slow request has started reading its body
        started = time.monotonic()
        with httpx.Client(base_url=server.url, timeout=10) as http:
            for index in range(1, 4):
                response = http.post("/v1/traces", content=_otlp(index), headers=PROTOBUF)
                assert response.status_code == 200, response.text
            feedback = http.post("/v1/feedback", json={"trace_id": "1" * 32, "name": "q", "value": 1})
            assert feedback.status_code == 201
        assert time.monotonic() - started < BODY_TIMEOUT, "the fast client waited for the slow ones"
        for sock in slow:  # each slow client is told its body is overdue
            assert _status(sock, BODY_TIMEOUT + 5) == b"HTTP/1.1 408 Request Timeout"
    finally:
        for sock in slow:
            sock.close()
    with httpx.Client(base_url=server.url, timeout=10) as http:
        assert http.post("/v1/traces", content=_otlp(9), headers=PROTOBUF).status_code == 200
        assert len(http.get("/v1/traces").json()["traces"]) == 4, "only the whole bodies were stored"
