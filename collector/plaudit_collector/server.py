"""Run the collector with uvicorn, in the foreground or in a background thread (the demo, tests)."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time

import uvicorn

from plaudit_collector.app import create_app
from plaudit_collector.settings import CollectorSettings
from plaudit_collector.store.db import Database


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach (binding there needs no API keys): ``localhost`` or
    a loopback IP (127.0.0.0/8, ::1). A name that merely starts with "127." is not one."""
    host = host.strip().lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.removeprefix("[").removesuffix("]")).is_loopback
    except ValueError:
        return False


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def serve(
    settings: CollectorSettings, host: str, port: int, log_level: str = "info", *, db: Database | None = None
) -> None:
    """Serve in the foreground; ``db``: a database already opened (and checked) by the caller."""
    uvicorn.run(create_app(settings, db), host=host, port=port, log_level=log_level, access_log=False)


class BackgroundServer:
    """A real collector on a real port, in this process: for the demo and the tests."""

    def __init__(self, settings: CollectorSettings, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.app = create_app(settings)
        config = uvicorn.Config(self.app, host=self.host, port=self.port, log_level="warning", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="plaudit-collector", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 20.0) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"collector did not start on {self.url}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
