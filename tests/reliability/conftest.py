"""Reliability fixtures: a collector in its own process that a test can stop, kill -9 and restart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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


@pytest.fixture(autouse=True)
def _fresh_notices() -> None:
    """Each test may see Plaudit's once-only notices again."""
    notices.forget()
