"""End-to-end fixtures: the SDK pointed at a real collector."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import plaudit
from plaudit._internal import errors


@pytest.fixture
def http(collector: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=collector.url, timeout=30) as client:
        yield client


@pytest.fixture
def sdk(collector: Any) -> Iterator[Any]:
    """Plaudit configured against the test collector, flushed and shut down afterwards."""
    errors.RAISE_INTERNAL_ERRORS = True
    plaudit.configure(endpoint=collector.url, service_name="e2e-tests")
    try:
        yield collector
    finally:
        plaudit.shutdown()
        errors.RAISE_INTERNAL_ERRORS = False
