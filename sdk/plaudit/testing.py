"""Helpers for testing code that uses Plaudit, without a collector.

``capture_spans()`` points Plaudit at OpenTelemetry's own in-memory exporter, so a test can
assert on the exact spans its code produced::

    from plaudit.testing import capture_spans

    def test_answer_is_traced():
        with capture_spans() as exporter:
            answer("hi")
        (span,) = exporter.get_finished_spans()
        assert span.attributes["plaudit.input"] == '{"question": "hi"}'
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from plaudit._internal.provider import configure
from plaudit._internal.shutdown import shutdown

__all__ = ["InMemorySpanExporter", "capture_spans"]


@contextmanager
def capture_spans(**settings: object) -> Iterator[InMemorySpanExporter]:
    """Configure Plaudit to record spans in memory for the block and yield the exporter.

    Spans go through a ``SimpleSpanProcessor``, so each one is in the exporter as soon as it
    ends: no flushing, no sleeping, no network. Keyword arguments are passed on to
    :func:`plaudit.configure` (for example ``capture_content=False``). On exit Plaudit is shut
    down and stays a no-op until it is configured again, so a test cannot leak its setup.
    """
    exporter = InMemorySpanExporter()
    configure(_span_exporter=exporter, _simple_processor=True, send=True, **settings)  # type: ignore[arg-type]
    try:
        yield exporter
    finally:
        shutdown()
