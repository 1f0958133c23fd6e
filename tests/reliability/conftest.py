"""Reliability fixtures: a collector in its own process that a test can stop, kill -9 and restart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from rel_helpers import CollectorProcess

from plaudit._internal import notices


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slow: a long reliability scenario (about a minute); deselect with -m 'not slow'"
    )


@pytest.fixture
def collector_process(tmp_path: Path) -> Iterator[CollectorProcess]:
    """A collector subprocess over a SQLite file in the test's directory; always stopped afterwards."""
    proc = CollectorProcess(f"sqlite:///{tmp_path / 'plaudit.db'}", tmp_path)
    try:
        yield proc.start()
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def process_collector(
    module_db_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[httpx.Client, str]]:
    """(client, database URL) of a collector subprocess over the module's database, SQLite or PostgreSQL: for
    inputs that once caused 500s, whose traceback, should one regress, stays in the collector's log."""
    proc = CollectorProcess(module_db_url, Path(tmp_path_factory.mktemp("collector"))).start()
    try:
        with httpx.Client(base_url=proc.url, timeout=30) as http:
            yield http, module_db_url
    finally:
        proc.stop()


@pytest.fixture(autouse=True)
def _fresh_notices() -> None:
    """Each test may see Plaudit's once-only notices again."""
    notices.forget()
