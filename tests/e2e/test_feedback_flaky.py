"""Feedback delivery through a flaky network: a real TCP proxy on 127.0.0.1 between the SDK's feedback
client and a real collector resets connections, answers 503, or forwards the request and then drops
the reply (the collector committed, the client never heard). Every item must be stored exactly once."""

from __future__ import annotations

import random
import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from plaudit._internal.feedback.client import FeedbackClient
from plaudit._internal.feedback.items import build_item
from plaudit_collector.server import free_port

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def _fast_sleep(delay: float) -> None:
    time.sleep(min(delay, 0.005))  # the real backoff schedule, compressed


class FlakyProxy:
    """One HTTP request per connection; what happens to each is drawn from a seeded schedule."""

    MODES = ("reset", "503", "drop_reply", "pass")

    def __init__(self, upstream_port: int, weights: tuple[int, ...] = (25, 20, 25, 30), seed: int = 7) -> None:
        self.upstream_port = upstream_port
        self.weights = weights
        self.random = random.Random(seed)
        self.forced: str | None = None
        self.seen: dict[str, int] = dict.fromkeys(self.MODES, 0)
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.stopped = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.stopped = True
        self.sock.close()

    def _serve(self) -> None:
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _next_mode(self) -> str:
        with self.lock:
            mode = self.forced or self.random.choices(self.MODES, self.weights)[0]
            self.seen[mode] += 1
            return mode

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            try:
                request = _read_request(conn)
            except OSError:
                return
            if request is None:
                return
            mode = self._next_mode()
            if mode == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST on close
                return
            if mode == "503":
                conn.sendall(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0\r\nContent-Length: 0\r\n\r\n")
                return
            with socket.create_connection(("127.0.0.1", self.upstream_port), timeout=30) as upstream:
                upstream.sendall(request)
                reply = _read_until_closed(upstream)
            if mode == "drop_reply":  # committed upstream; the client sees the connection die
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            conn.sendall(reply)


def _read_request(conn: socket.socket) -> bytes | None:
    """The whole request, rewritten with ``Connection: close`` so the upstream closes after replying."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = 0
    kept = [lines[0]]
    for line in lines[1:]:
        name = line.split(b":", 1)[0].strip().lower()
        if name == b"content-length":
            length = int(line.split(b":", 1)[1])
        if name != b"connection":
            kept.append(line)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        body += chunk
    return b"\r\n".join([*kept, b"Connection: close"]) + b"\r\n\r\n" + body


def _read_until_closed(sock: socket.socket) -> bytes:
    chunks = []
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


@pytest.fixture
def proxy(collector: Any) -> Iterator[FlakyProxy]:
    p = FlakyProxy(int(collector.url.rsplit(":", 1)[1]))
    try:
        yield p
    finally:
        p.stop()


def _stored(http: httpx.Client) -> list[dict[str, Any]]:
    return http.get("/v1/feedback", params={"history": "true", "limit": 1000}).json()["data"]  # type: ignore[no-any-return]


def test_every_item_lands_exactly_once_through_a_flaky_network(
    collector: Any, http: httpx.Client, proxy: FlakyProxy
) -> None:
    client = FeedbackClient(proxy.url, batch_size=7, timeout=5, sleep=_fast_sleep)
    items = [build_item(f"00-{TRACE}-{i + 1:016x}-01", "stars", i % 5, author=f"u{i}") for i in range(150)]
    try:
        for item in items:
            client.submit(item)
        assert client.flush(timeout=60) is True
    finally:
        client.shutdown(timeout=5)
    stored = _stored(http)
    assert sorted(f["idempotency_key"] for f in stored) == sorted(i["idempotency_key"] for i in items)
    assert len(stored) == len(items)  # no duplicates
    assert all(f["is_current"] for f in stored)
    assert (client.failed, client.dropped) == (0, 0)
    assert min(proxy.seen.values()) > 0, proxy.seen  # every failure mode actually happened


def test_a_vote_change_through_the_flaky_network_keeps_one_current_vote(
    collector: Any, http: httpx.Client, proxy: FlakyProxy
) -> None:
    client = FeedbackClient(proxy.url, batch_size=1, timeout=5, sleep=_fast_sleep)
    ref = f"00-{TRACE}-00000000000000aa-01"
    try:
        for value in (True, False, True, False):
            client.submit(build_item(ref, "thumbs", value, author="alice"))
        assert client.flush(timeout=60) is True
    finally:
        client.shutdown(timeout=5)
    stored = _stored(http)
    assert [(f["value"], f["is_current"]) for f in sorted(stored, key=lambda f: f["id"])] == [
        (True, False),
        (False, False),
        (True, False),
        (False, True),
    ]


def test_an_outage_then_recovery_loses_nothing(collector: Any, http: httpx.Client, proxy: FlakyProxy) -> None:
    proxy.forced = "reset"  # the collector is unreachable
    client = FeedbackClient(proxy.url, batch_size=50, timeout=5, sleep=_fast_sleep)
    items = [build_item(f"00-{TRACE}-{i + 1:016x}-01", "thumbs", True) for i in range(300)]
    try:
        for item in items:
            client.submit(item)
        assert client.flush(timeout=0.3) is False  # still retrying, nothing given up
        assert client.pending() == len(items)
        proxy.forced = None
        proxy.weights = (0, 0, 0, 1)
        assert client.flush(timeout=60) is True
    finally:
        client.shutdown(timeout=5)
    assert len(_stored(http)) == len(items)
    assert client.failed == 0


def test_unsent_items_spill_to_the_spool_and_replay_on_the_next_start(
    collector: Any, http: httpx.Client, tmp_path: Path
) -> None:
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens here
    first = FeedbackClient(down, timeout=1, spool_dir=tmp_path, sleep=_fast_sleep)
    items = [build_item(f"00-{TRACE}-{i + 1:016x}-01", "thumbs", i % 2 == 0) for i in range(40)]
    for item in items:
        first.submit(item)
    first.shutdown(timeout=0.2)
    assert first.spilled == len(items)
    assert list((tmp_path / "feedback").glob("*.jsonl"))

    second = FeedbackClient(collector.url, spool_dir=tmp_path, sleep=_fast_sleep)
    try:
        assert second.flush(timeout=30) is True
    finally:
        second.shutdown(timeout=5)
    assert sorted(f["idempotency_key"] for f in _stored(http)) == sorted(i["idempotency_key"] for i in items)
    assert list((tmp_path / "feedback").glob("*")) == []


def test_overflow_spills_to_the_spool_instead_of_dropping(collector: Any, http: httpx.Client, tmp_path: Path) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    client = FeedbackClient(down, timeout=1, max_queue=10, spool_dir=tmp_path, sleep=_fast_sleep)
    items = [build_item(f"00-{TRACE}-{i + 1:016x}-01", "thumbs", True) for i in range(25)]
    for item in items:
        client.submit(item)
    client.shutdown(timeout=0.2)
    assert client.dropped == 0 and client.spilled == len(items)
    replay = FeedbackClient(collector.url, max_queue=10, spool_dir=tmp_path, sleep=_fast_sleep)
    try:
        deadline = time.monotonic() + 30
        while len(_stored(http)) < len(items) and time.monotonic() < deadline:
            replay.flush(timeout=5)
    finally:
        replay.shutdown(timeout=5)
    assert len(_stored(http)) == len(items)
