"""Collector processes as deployed: a 2xx survives kill -9, and two collectors share one PostgreSQL."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from sqlalchemy import text

from plaudit_collector.server import free_port
from plaudit_collector.store.db import Database

PB = {"content-type": "application/x-protobuf"}


def _plaudit() -> list[str]:
    candidate = Path(sys.executable).parent / "plaudit"
    return [str(candidate)] if candidate.exists() else [sys.executable, "-m", "plaudit_collector.cli"]


@contextmanager
def serve(db_url: str, copies: int = 1) -> Iterator[list[tuple[str, subprocess.Popen[bytes]]]]:
    """Start ``copies`` collectors on one database at the same moment (they migrate it concurrently)."""
    ports = [free_port() for _ in range(copies)]
    processes = [
        subprocess.Popen(
            [*_plaudit(), "serve", "--db", db_url, "--port", str(port), "--log-level", "warning"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for port in ports
    ]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        deadline = time.monotonic() + 60
        for url, process in zip(urls, processes, strict=True):
            while True:
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    detail = process.stderr.read().decode() if process.stderr and process.poll() is not None else ""
                    raise RuntimeError(f"collector did not start: {detail}")
                time.sleep(0.05)
        yield list(zip(urls, processes, strict=True))
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            process.wait(timeout=30)
            if process.stderr:
                process.stderr.close()


def batch(spans: list[tuple[bytes, bytes]], annotate: bool = False) -> bytes:
    request = ExportTraceServiceRequest()
    scope_spans = request.resource_spans.add().scope_spans.add()
    for trace_id, span_id in spans:
        span = Span(trace_id=trace_id, span_id=span_id, name="op", start_time_unix_nano=1, end_time_unix_nano=2)
        span.attributes.append(KeyValue(key="gen_ai.request.model", value=AnyValue(string_value="m")))
        scope_spans.spans.append(span)
        if annotate:  # a post-hoc annotation carrier for the span, sent along in the same batch
            carrier = Span(trace_id=trace_id, span_id=secrets.token_bytes(8), name="eval", start_time_unix_nano=3)
            carrier.links.append(Span.Link(trace_id=trace_id, span_id=span_id))
            carrier.attributes.append(KeyValue(key="annotations.0.annotation.name", value=AnyValue(string_value="ok")))
            carrier.attributes.append(KeyValue(key="annotations.0.annotation.score", value=AnyValue(int_value=1)))
            scope_spans.spans.append(carrier)
    return request.SerializeToString()


def count(db_url: str, sql: str) -> int:
    db = Database(db_url)
    try:
        with db.engine.connect() as conn:
            return int(conn.execute(text(sql)).scalar_one())
    finally:
        db.dispose()


def test_a_2xx_batch_survives_kill_9(db_url: str) -> None:
    ids = [(secrets.token_bytes(16), secrets.token_bytes(8)) for _ in range(300)]
    with serve(db_url) as [(url, process)]:
        response = httpx.post(f"{url}/v1/traces", content=batch(ids), headers=PB, timeout=30)
        assert response.status_code == 200
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    assert count(db_url, "SELECT count(*) FROM spans") == 300


def test_two_collectors_on_one_postgresql(pg_url: str) -> None:
    """Overlapping batches (every span sent to both collectors, in different groupings) end up stored once."""
    spans = [(secrets.token_bytes(16), secrets.token_bytes(8)) for _ in range(1000)]
    first = [batch(spans[i : i + 200], annotate=i % 400 == 0) for i in range(0, len(spans), 200)]
    second = [batch(spans[i : i + 150], annotate=False) for i in range(0, len(spans), 150)]
    first_again = list(reversed(first))
    failures: list[str] = []

    def send(url: str, bodies: list[bytes]) -> None:
        with httpx.Client(base_url=url, timeout=60) as client:
            for body in bodies:
                response = client.post("/v1/traces", content=body, headers=PB)
                if response.status_code != 200:
                    failures.append(f"{response.status_code}: {response.text[:200]}")

    with serve(pg_url, copies=2) as [(url_a, _), (url_b, _)]:
        threads = [
            threading.Thread(target=send, args=(url_a, first)),
            threading.Thread(target=send, args=(url_b, second)),
            threading.Thread(target=send, args=(url_b, first_again)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == []
    assert count(pg_url, "SELECT count(*) FROM spans") == len(spans)
    assert count(pg_url, "SELECT count(DISTINCT (trace_id, span_id)) FROM spans") == len(spans)
    assert count(pg_url, "SELECT count(*) FROM feedback") == 200 * 3  # one per annotated span, despite resends


@pytest.mark.parametrize("workers", [2])
def test_sqlite_collectors_starting_together(tmp_path: Path, workers: int) -> None:
    """Two processes migrating one fresh SQLite file at once: both start, the schema is made once."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    with serve(url, copies=workers) as started:
        url_a, url_b = (target for target, _ in started)
        for target in (url_a, url_b):
            assert (
                httpx.post(
                    f"{target}/v1/traces",
                    content=batch([(secrets.token_bytes(16), secrets.token_bytes(8))]),
                    headers=PB,
                ).status_code
                == 200
            )
    assert count(url, "SELECT count(*) FROM spans") == workers
