"""The in-process collector the demo and the tests run: its port is held from the moment it is chosen, and a
start that fails or takes too long says which, and lets the port go."""

from __future__ import annotations

import errno
import gc
import socket
import weakref
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from plaudit_collector.server import BackgroundServer
from plaudit_collector.settings import CollectorSettings
from plaudit_collector.store import db as db_module


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            assert exc.errno == errno.EADDRINUSE
            return False
    return True


def _settings(tmp_path: Path) -> CollectorSettings:
    return CollectorSettings(db_url=f"sqlite:///{tmp_path / 'collector.db'}")


def test_the_port_is_held_from_construction_until_stop(tmp_path: Path) -> None:
    server = BackgroundServer(_settings(tmp_path))
    assert not _bindable(server.port)  # nobody can take it before the collector serves it
    with server:
        assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200
        assert not _bindable(server.port)
    assert _bindable(server.port)


def test_a_port_in_use_is_refused_at_construction(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(OSError) as excinfo:
            BackgroundServer(_settings(tmp_path), port=port)
    assert excinfo.value.errno == errno.EADDRINUSE


def test_a_failed_start_up_says_so_and_lets_the_port_go() -> None:
    server = BackgroundServer(CollectorSettings(db_url="sqlite:////nonexistent-directory/collector.db"))
    with pytest.raises(RuntimeError, match="stopped during start-up"):
        server.start()
    assert _bindable(server.port)


def test_a_start_up_past_its_timeout_says_so_and_lets_the_port_go(tmp_path: Path) -> None:
    server = BackgroundServer(_settings(tmp_path))
    with pytest.raises(RuntimeError, match="not started within 0 s"):
        server.start(timeout=0.0)
    assert _bindable(server.port)


def test_a_start_up_stuck_on_a_lock_says_where(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Migrations wait for another migration of this process: the timeout names the wait, and the log holds
    the start-up thread's stack."""
    server = BackgroundServer(_settings(tmp_path))
    with (
        db_module._ALEMBIC_LOCK,
        pytest.raises(RuntimeError, match=r"not started within 1 s; start-up was at .*db\.py:\d+ in upgrade"),
    ):
        server.start(timeout=1.0)
    assert "in prepare" in caplog.text and "in upgrade" in caplog.text
    assert _bindable(server.port)
    server.stop()  # the start-up, let go, ends quietly instead of serving the closed socket
    assert _bindable(server.port)


def test_a_stopped_collector_is_released(tmp_path: Path, release_apps: Callable[[], None]) -> None:
    """The suite's fixture frees each test's collectors (else their heap slows every garbage collection)."""
    server = BackgroundServer(_settings(tmp_path))
    with server:
        assert httpx.get(f"{server.url}/docs", timeout=10).status_code == 200
    server.app.state.db.dispose()
    app = weakref.ref(server.app)
    del server
    release_apps()
    gc.collect()
    assert app() is None
