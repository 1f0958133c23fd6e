"""``plaudit serve`` stops within 5 s of SIGTERM under load, having answered or refused every request it took.

A real collector subprocess on SQLite and on PostgreSQL is driven by client threads on keep-alive connections,
each sending OTLP span batches and feedback batches without pause. SIGTERM arrives mid-load. The process must
exit within 5 s (an operator's restart, a container's stop grace period), and the database must hold every
batch that got a 2xx, while any other batch got a clean refusal (a JSON error, never a 500) or a connection
error, and is stored whole or not at all: never half a batch.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from rel_helpers import CollectorProcess, db_rows

CLIENT_THREADS = 6
SPANS_PER_BATCH = 20
FEEDBACK_PER_BATCH = 5
SLOW_SENDERS = 2
STOP_BUDGET_SECONDS = 5.0


def _span_batch(trace_id: str, count: int) -> dict[str, Any]:
    now = time.time_ns()
    spans = [
        {
            "traceId": trace_id,
            "spanId": f"{i + 1:016x}",
            "name": "chat",
            "kind": 3,
            "startTimeUnixNano": str(now),
            "endTimeUnixNano": str(now + 1_000_000),
            "attributes": [
                {"key": "gen_ai.request.model", "value": {"stringValue": "m1"}},
                {"key": "plaudit.input", "value": {"stringValue": "question " * 40}},
                {"key": "plaudit.output", "value": {"stringValue": "answer " * 40}},
            ],
        }
        for i in range(count)
    ]
    return {"resourceSpans": [{"resource": {}, "scopeSpans": [{"scope": {"name": "stop"}, "spans": spans}]}]}


class _Driver:
    """Client threads sending until the collector goes away; every request's outcome is kept."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.span_batches: list[tuple[str, int | None]] = []  # (trace id, status or None for a connection error)
        self.feedback_batches: list[tuple[str, int | None]] = []  # (author, status)
        self.bad_replies: list[str] = []
        self.threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(CLIENT_THREADS)]
        self.threads += [threading.Thread(target=self._trickle, daemon=True) for _ in range(SLOW_SENDERS)]

    def _trickle(self) -> None:
        """A client whose feedback body arrives a byte at a time: its request is in flight until it is cut."""
        host, port = self.url.removeprefix("http://").split(":")
        body = b'{"trace_id": "' + b"a" * 32 + b'", "name": "thumbs", "value": true, "comment": "' + b"x" * 400 + b'"}'
        try:
            with socket.create_connection((host, int(port)), timeout=30) as sock:
                head = f"POST /v1/feedback HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                sock.sendall(f"{head}Content-Length: {len(body)}\r\n\r\n".encode())
                for byte in body:
                    if self.stop.is_set():
                        return
                    sock.sendall(bytes([byte]))
                    time.sleep(0.2)
        except OSError:
            return  # cut off by the stopping collector: the expected end

    def _run(self, n: int) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as http:  # keep-alive: one connection per thread
            turn = 0
            while not self.stop.is_set():
                turn += 1
                if (turn + n) % 3:
                    self._send_spans(http)
                else:
                    self._send_feedback(http)

    def _outcome(self, reply: httpx.Response | None) -> int | None:
        if reply is None:
            return None
        if reply.status_code >= 300:
            try:
                error = reply.json()["error"]
                clean = reply.status_code < 500 or reply.status_code == 503
                clean = clean and isinstance(error.get("message"), str)
            except (ValueError, KeyError, TypeError):
                clean = False
            if not clean:
                with self.lock:
                    self.bad_replies.append(f"{reply.status_code}: {reply.text[:200]}")
        return reply.status_code

    def _send_spans(self, http: httpx.Client) -> None:
        trace_id = uuid.uuid4().hex
        try:
            reply: httpx.Response | None = http.post("/v1/traces", json=_span_batch(trace_id, SPANS_PER_BATCH))
        except httpx.HTTPError:
            reply = None
        status = self._outcome(reply)
        with self.lock:
            self.span_batches.append((trace_id, status))
        if reply is None:
            time.sleep(0.05)

    def _send_feedback(self, http: httpx.Client) -> None:
        author = uuid.uuid4().hex
        trace_id = uuid.uuid4().hex
        items = [
            {"trace_id": trace_id, "span_id": f"{i + 1:016x}", "name": "thumbs", "value": True, "author": author}
            for i in range(FEEDBACK_PER_BATCH)
        ]
        try:
            reply: httpx.Response | None = http.post("/v1/feedback", json={"items": items})
        except httpx.HTTPError:
            reply = None
        status = self._outcome(reply)
        with self.lock:
            self.feedback_batches.append((author, status))
        if reply is None:
            time.sleep(0.05)


@pytest.mark.slow
def test_serve_stops_within_five_seconds_of_sigterm_under_load(db_url: str, tmp_path: Path) -> None:
    proc = CollectorProcess(db_url, tmp_path).start(timeout=120)  # a loaded machine imports slowly
    driver = _Driver(proc.url)
    try:
        for thread in driver.threads:
            thread.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # load is on: requests answered and more in flight
            with driver.lock:
                answered = sum(1 for _, status in driver.span_batches if status == 200)
            if answered >= 10:
                break
            time.sleep(0.1)
        time.sleep(1.0)
        assert proc.proc is not None
        sent = time.monotonic()
        proc.proc.send_signal(signal.SIGTERM)
        try:
            proc.proc.wait(STOP_BUDGET_SECONDS)
        except Exception:
            pytest.fail(f"collector still running {STOP_BUDGET_SECONDS} s after SIGTERM:\n{proc.logs()[-3000:]}")
        took = time.monotonic() - sent
        assert took < STOP_BUDGET_SECONDS
    finally:
        driver.stop.set()
        for thread in driver.threads:
            thread.join(30)
        proc.stop()

    assert not driver.bad_replies, driver.bad_replies[:5]
    answered_spans = [t for t, status in driver.span_batches if status is not None and 200 <= status < 300]
    answered_feedback = [a for a, status in driver.feedback_batches if status is not None and 200 <= status < 300]
    assert answered_spans and answered_feedback, "the load reached the collector before SIGTERM"
    spans_by_trace = dict(db_rows(db_url, "SELECT trace_id, COUNT(*) FROM spans GROUP BY trace_id"))
    feedback_by_author = dict(db_rows(db_url, "SELECT author, COUNT(*) FROM feedback GROUP BY author"))
    for trace_id, status in driver.span_batches:
        stored = spans_by_trace.get(trace_id, 0)
        if status is not None and 200 <= status < 300:
            assert stored == SPANS_PER_BATCH, f"answered batch {trace_id}: {stored} of {SPANS_PER_BATCH} stored"
        else:
            assert stored in (0, SPANS_PER_BATCH), f"refused batch {trace_id} half stored: {stored}"
    for author, status in driver.feedback_batches:
        stored = feedback_by_author.get(author, 0)
        if status is not None and 200 <= status < 300:
            assert stored == FEEDBACK_PER_BATCH, f"answered feedback {author}: {stored} stored"
        else:
            assert stored in (0, FEEDBACK_PER_BATCH), f"refused feedback {author} half stored: {stored}"


def _hold_the_write_lock(db_url: str) -> Any:
    """Another program holding the spans table: the collector's writes wait on it (for SQLite, the file's write
    lock). Returns the open connection; closing it releases the lock."""
    if db_url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None, timeout=30)
        conn.execute("BEGIN IMMEDIATE")
        return conn
    import psycopg

    url, _, query = db_url.replace("postgresql+psycopg://", "postgresql://").partition("?")
    conn = psycopg.connect(f"{url}?{query}" if query else url)
    conn.execute("LOCK TABLE spans IN ACCESS EXCLUSIVE MODE")
    return conn


@pytest.mark.slow
@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "ctrl-c"])
def test_serve_stops_within_five_seconds_while_its_writes_wait_on_the_database(
    db_url: str, tmp_path: Path, stop_signal: signal.Signals
) -> None:
    """Writes stuck behind another program's lock run in threads uvicorn cannot cancel: the collector still
    ends in time (after Ctrl-C, which leaves the interpreter waiting for those threads, by its watchdog), and
    what those requests wrote is rolled back whole."""
    proc = CollectorProcess(db_url, tmp_path).start(timeout=120)
    outcomes: list[tuple[str, int | None]] = []
    lock = _hold_the_write_lock(db_url)
    try:

        def send() -> None:
            trace_id = uuid.uuid4().hex
            try:
                reply = httpx.post(f"{proc.url}/v1/traces", json=_span_batch(trace_id, SPANS_PER_BATCH), timeout=30)
            except httpx.HTTPError:
                outcomes.append((trace_id, None))
                return
            if reply.status_code == 503:
                assert reply.json()["error"]["code"] == "stopping" and reply.headers["Retry-After"]
            outcomes.append((trace_id, reply.status_code))

        senders = [threading.Thread(target=send, daemon=True) for _ in range(3)]
        for thread in senders:
            thread.start()
        time.sleep(1.5)  # the writes are waiting on the lock
        assert proc.proc is not None
        sent = time.monotonic()
        proc.proc.send_signal(stop_signal)
        try:
            proc.proc.wait(STOP_BUDGET_SECONDS)
        except Exception:
            pytest.fail(
                f"collector still running {STOP_BUDGET_SECONDS} s after {stop_signal!r}:\n{proc.logs()[-3000:]}"
            )
        assert time.monotonic() - sent < STOP_BUDGET_SECONDS
        for thread in senders:
            thread.join(30)
    finally:
        lock.close()
        proc.stop()
    assert len(outcomes) == 3
    assert all(status in (None, 503) for _, status in outcomes), outcomes  # refused with Retry-After, or cut
    stored = dict(db_rows(db_url, "SELECT trace_id, COUNT(*) FROM spans GROUP BY trace_id"))
    assert all(stored.get(trace_id, 0) == 0 for trace_id, _ in outcomes), stored
