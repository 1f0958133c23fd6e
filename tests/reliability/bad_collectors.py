"""Collectors that misbehave, for the SDK's reliability tests: real sockets on 127.0.0.1, nothing mocked.

* :func:`refusing_url`: a port nobody listens on (connection refused).
* :class:`SilentServer`: accepts TCP connections and never answers a byte.
* :class:`ScriptedServer`: a tiny HTTP server whose handler decides each reply (a fixed status, or a
  forward to a real collector), counting the requests it saw.
"""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Callable
from typing import Any

import httpx

from plaudit_collector.server import free_port


def refusing_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


class SilentServer:
    """Accepts every connection, reads nothing, answers nothing, until stopped."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(128)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            self.accepted.append(conn)

    def __enter__(self) -> SilentServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2)
        for conn in self.accepted:
            conn.close()
        self._sock.close()


Reply = tuple[int, bytes]


class ScriptedServer:
    """A real HTTP server on 127.0.0.1 whose ``handler(path, body)`` returns ``(status, body)`` for each POST."""

    def __init__(self, handler: Callable[[str, bytes], Reply]) -> None:
        self.handler = handler
        self.requests: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with outer.lock:
                    outer.requests.append((self.path, body))
                status, payload = outer.handler(self.path, body)
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def count(self, path: str) -> int:
        with self.lock:
            return sum(1 for seen, _ in self.requests if seen == path)

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def forward_to(url: str) -> Callable[[str, bytes], Reply]:
    """A handler that passes the request on to a real collector and returns its reply."""

    def handler(path: str, body: bytes) -> Reply:
        content_type = "application/x-protobuf" if path == "/v1/traces" else "application/json"
        reply = httpx.post(f"{url}{path}", content=body, headers={"content-type": content_type}, timeout=30)
        return reply.status_code, reply.content

    return handler
