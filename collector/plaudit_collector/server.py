"""Run the collector with uvicorn, in the foreground or in a background thread (the demo, tests)."""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import socket
import sys
import threading
import time
import traceback

import uvicorn

from plaudit_collector.app import create_app, stop_background
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


STOP_SECONDS = 3.5
"""From the stop's start (SIGTERM or Ctrl-C) to the process's end, at most: well within 5 s, which leaves a
loaded machine time to deliver the signal and to tear the process down."""
GRACE_SECONDS = 2.0
"""How long requests in flight get to finish once the collector stops; then they are cut off. A request's
writes are one transaction, so a cut-off request is stored whole (its reply lost) or not at all."""

log = logging.getLogger("plaudit_collector")


class _StoppingServer(uvicorn.Server):
    """uvicorn's server with a bounded stop: background workers are told to stop first, requests in flight get
    :data:`GRACE_SECONDS`, and a watchdog ends the process :data:`STOP_SECONDS` after the stop began.

    uvicorn's graceful timeout only cancels request tasks: the thread of a request running in the thread pool (a
    write waiting for a pooled connection or SQLite's write lock) runs on. After SIGTERM uvicorn re-raises the
    signal, which ends the process anyway; after Ctrl-C the interpreter would wait for such threads at exit,
    and a stop that hangs elsewhere would never end: the watchdog bounds both."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        threading.Thread(target=_end_after, args=(STOP_SECONDS,), name="plaudit-stop-watchdog", daemon=True).start()
        stop_background(self.config.app)
        await super().shutdown(sockets)


def _end_after(seconds: float) -> None:
    time.sleep(seconds)
    busy = [t.name for t in threading.enumerate() if not t.daemon and t is not threading.main_thread()]
    log.warning(
        "collector still busy %.1f s after being told to stop (%d threads: %s): exiting; the writes of requests "
        "still running are rolled back whole",
        seconds,
        len(busy),
        ", ".join(sorted(set(busy))) or "main",
    )
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(0)


def serve(
    settings: CollectorSettings, host: str, port: int, log_level: str = "info", *, db: Database | None = None
) -> None:
    """Serve in the foreground until SIGTERM or Ctrl-C, then stop within :data:`STOP_SECONDS`; ``db``: a
    database already opened (and checked) by the caller."""
    config = uvicorn.Config(
        create_app(settings, db),
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=GRACE_SECONDS,
    )
    _StoppingServer(config).run()


class BackgroundServer:
    """A real collector on a real port, in this process: for the demo and the tests."""

    def __init__(self, settings: CollectorSettings, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.app = create_app(settings)
        # Bound and listening from here on, and handed to uvicorn: a port chosen and then bound later could be
        # taken meanwhile by another process (or an outgoing connection's ephemeral port).
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._socket = socket.create_server((host, port or 0), family=family)
        self.port = int(self._socket.getsockname()[1])
        config = uvicorn.Config(
            self.app,
            host=self.host,
            port=self.port,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=GRACE_SECONDS,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, name="plaudit-collector", daemon=True)

    def _serve(self) -> None:
        try:
            self._server.run(sockets=[self._socket])
        except SystemExit:  # uvicorn's end of a failed start-up, after logging why: start() reports it
            pass
        except OSError:
            if self._server.started or not self._server.should_exit:
                raise
            # stopped before it served (a start past its timeout): the socket it was to serve is closed
            log.debug("collector on %s stopped before it served", self.url)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 20.0) -> BackgroundServer:
        """Serve in a thread; returns once the collector answers, or raises saying whether its start-up failed
        (the log says why) or took longer than ``timeout`` seconds."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                self._socket.close()
                raise RuntimeError(f"collector on {self.url} stopped during start-up (its log says why)")
            if time.monotonic() > deadline:
                where = self._start_up_stack()
                log.warning(
                    "collector on %s not started within %g s; its start-up was at:\n%s",
                    self.url,
                    timeout,
                    "".join(traceback.format_list(where)),
                )
                self.stop(wait=1.0)  # a start-up stuck that long would not end in the next few seconds either
                last = f"{where[-1].filename}:{where[-1].lineno} in {where[-1].name}" if where else "(unknown)"
                raise RuntimeError(f"collector on {self.url} not started within {timeout:g} s; start-up was at {last}")
            time.sleep(0.02)
        return self

    def _start_up_stack(self) -> traceback.StackSummary:
        """Where the start-up thread is now: the cause of a slow start (a lock, a query, a migration)."""
        frame = sys._current_frames().get(self._thread.ident or -1)
        return traceback.extract_stack(frame, limit=12) if frame is not None else traceback.StackSummary()

    def stop(self, wait: float = 10.0) -> None:
        """Stop serving, waiting up to ``wait`` seconds for the thread to end (it is a daemon: one stuck past
        that ends with the process); the port is free on return."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=wait)
        self._socket.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
