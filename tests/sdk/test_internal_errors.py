"""When Plaudit itself fails, the host app must not notice: the error is logged and the call goes on.

The conftest turns ``RAISE_INTERNAL_ERRORS`` on so our own bugs fail tests; these tests turn it
off to check the production path, and on again to check that the flag really surfaces errors.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider

import plaudit
from plaudit._internal import errors
from plaudit.testing import InMemorySpanExporter


class ExplodingProcessor(SpanProcessor):
    """A broken processor on the provider: a real way for span creation or ending to fail."""

    def __init__(self, *, on_start: bool = False, on_end: bool = False) -> None:
        self.fail_start = on_start
        self.fail_end = on_end

    def on_start(self, span: Span, parent_context: object = None) -> None:
        if self.fail_start:
            raise RuntimeError("processor exploded on start")

    def on_end(self, span: ReadableSpan) -> None:
        if self.fail_end:
            raise RuntimeError("processor exploded on end")


@pytest.fixture
def provider() -> Iterator[TracerProvider]:
    host = TracerProvider()
    yield host
    host.shutdown()


@pytest.fixture
def swallow_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(errors, "RAISE_INTERNAL_ERRORS", False)


def configure_with(provider: TracerProvider, processor: SpanProcessor) -> InMemorySpanExporter:
    provider.add_span_processor(processor)
    exporter = InMemorySpanExporter()
    plaudit.configure(tracer_provider=provider, _span_exporter=exporter, _simple_processor=True, send=False)
    return exporter


def internal_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == "plaudit" and r.levelno == logging.ERROR and "your code should still be running fine" in r.message
    ]


@pytest.mark.usefixtures("swallow_errors")
def test_failed_span_start_is_logged_and_the_function_still_returns(
    provider: TracerProvider, caplog: pytest.LogCaptureFixture
) -> None:
    configure_with(provider, ExplodingProcessor(on_start=True))
    calls: list[int] = []

    @plaudit.trace
    def handler(x: int) -> int:
        calls.append(x)
        return x * 10

    @plaudit.trace
    async def ahandler(x: int) -> int:
        return x + 1

    @plaudit.trace
    def stream() -> Iterator[str]:
        yield "a"
        yield "b"

    with caplog.at_level(logging.ERROR, logger="plaudit"):
        assert handler(4) == 40
        assert asyncio.run(ahandler(1)) == 2
        assert list(stream()) == ["a", "b"]
        with plaudit.span("block") as handle:  # a NoopSpan that accepts every call
            handle.set_input("in")
            handle.set_output("out")
            handle.set_model("m")
            handle.set_usage(1, 2)
            assert handle.ref is None
            block_ran = True

    assert calls == [4]  # called exactly once: not re-run after the failure
    assert block_ran
    records = internal_errors(caplog)
    assert len(records) == 4
    assert all(r.exc_info and "processor exploded on start" in str(r.exc_info[1]) for r in records)


@pytest.mark.usefixtures("swallow_errors")
def test_failed_span_end_is_logged_and_the_result_is_returned_unchanged(
    provider: TracerProvider, caplog: pytest.LogCaptureFixture
) -> None:
    configure_with(provider, ExplodingProcessor(on_end=True))
    result = {"answer": 42}

    @plaudit.trace
    def handler() -> dict[str, int]:
        return result

    with caplog.at_level(logging.ERROR, logger="plaudit"):
        assert handler() is result
        with plaudit.span("block"):
            pass
    assert len(internal_errors(caplog)) == 2
    assert plaudit.current_ref() is None  # the context was still restored


@pytest.mark.usefixtures("swallow_errors")
def test_user_exception_wins_over_an_internal_failure(
    provider: TracerProvider, caplog: pytest.LogCaptureFixture
) -> None:
    configure_with(provider, ExplodingProcessor(on_end=True))
    error = ValueError("the user's own error")

    @plaudit.trace
    def handler() -> None:
        raise error

    with caplog.at_level(logging.ERROR, logger="plaudit"), pytest.raises(ValueError) as excinfo:
        handler()
    assert excinfo.value is error
    assert len(internal_errors(caplog)) == 1


def test_with_the_test_flag_on_internal_errors_surface(provider: TracerProvider) -> None:
    assert errors.RAISE_INTERNAL_ERRORS is True  # set by tests/sdk/conftest.py
    configure_with(provider, ExplodingProcessor(on_start=True))

    @plaudit.trace
    def handler() -> int:
        return 1

    with pytest.raises(RuntimeError, match="processor exploded on start"):
        handler()


@pytest.mark.usefixtures("swallow_errors")
def test_handle_internal_errors_works_as_decorator_and_block(caplog: pytest.LogCaptureFixture) -> None:
    @errors.handle_internal_errors
    def broken() -> int:
        raise LookupError("internal")

    with caplog.at_level(logging.ERROR, logger="plaudit"):
        assert broken() is None
        with errors.handle_internal_errors:
            raise KeyError("also internal")
    assert len(internal_errors(caplog)) == 2

    with pytest.raises(KeyboardInterrupt), errors.handle_internal_errors:  # never swallow a Ctrl-C
        raise KeyboardInterrupt
