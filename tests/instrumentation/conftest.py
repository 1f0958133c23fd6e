"""Instrumentation tests: the real client libraries against a local fake provider, spans captured in memory."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from fake_provider import FakeProvider

import plaudit
from plaudit._internal import errors
from plaudit.testing import InMemorySpanExporter, capture_spans


@pytest.fixture(scope="session")
def fake() -> Iterator[FakeProvider]:
    server = FakeProvider().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("PLAUDIT_", "OTEL_", "ANTHROPIC_", "OPENAI_")):
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def _raise_internal_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(errors, "RAISE_INTERNAL_ERRORS", True)


@pytest.fixture
def exporter(_clean_env: None, _raise_internal_errors: None) -> Iterator[InMemorySpanExporter]:
    with capture_spans() as exp:
        yield exp
        assert plaudit.current_ref() is None, "a span was left active in the context after the test"


@pytest.fixture
def openai_instrumented() -> Iterator[plaudit.Instrumentation]:
    handle = plaudit.instrument_openai()
    try:
        yield handle
    finally:
        handle.uninstrument()


@pytest.fixture
def anthropic_instrumented() -> Iterator[plaudit.Instrumentation]:
    handle = plaudit.instrument_anthropic()
    try:
        yield handle
    finally:
        handle.uninstrument()
