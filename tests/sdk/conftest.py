"""Every SDK test runs against a fresh in-memory exporter, a clean environment and loud internal errors."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

import plaudit
from plaudit._internal import errors, notices
from plaudit.testing import InMemorySpanExporter, capture_spans


@pytest.fixture(autouse=True)
def _raise_internal_errors() -> Iterator[None]:
    """Internal errors must fail our tests instead of being logged away."""
    previous = errors.RAISE_INTERNAL_ERRORS
    errors.RAISE_INTERNAL_ERRORS = True
    try:
        yield
    finally:
        errors.RAISE_INTERNAL_ERRORS = previous


@pytest.fixture(autouse=True)
def _fresh_notices() -> None:
    """Each test may see Plaudit's once-only notices again."""
    notices.forget()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own PLAUDIT_*/OTEL_* variables must not leak into a test."""
    for name in list(os.environ):
        if name.startswith(("PLAUDIT_", "OTEL_")):
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def exporter(_clean_env: None, _raise_internal_errors: None) -> Iterator[InMemorySpanExporter]:
    """Plaudit configured with a fresh in-memory exporter; shut down after the test."""
    with capture_spans() as exp:
        yield exp  # capture_spans() shuts Plaudit down afterwards, whatever the test configured
        assert plaudit.current_ref() is None, "a span was left active in the context after the test"
