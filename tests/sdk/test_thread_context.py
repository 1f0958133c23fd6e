"""Context crosses threads without user code: pool tasks and threads started in a span are its children."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from opentelemetry.instrumentation.threading import ThreadingInstrumentor

import plaudit
from plaudit import semconv
from plaudit.testing import InMemorySpanExporter, capture_spans


@plaudit.trace
def work(i: int) -> int:
    return i * i


def test_a_fan_out_of_eight_through_a_pool_lands_as_eight_children_with_user_and_session(
    exporter: InMemorySpanExporter,
) -> None:
    @plaudit.trace
    def fan_out() -> list[int]:
        with ThreadPoolExecutor(max_workers=4) as pool:
            return list(pool.map(work, range(8)))  # plain user code: no context handling

    with plaudit.context(user_id="u-1", session_id="s-1"):
        assert fan_out() == [i * i for i in range(8)]
    spans = exporter.get_finished_spans()
    (root,) = [s for s in spans if s.name.endswith("fan_out")]
    children = [s for s in spans if s.name.endswith("work")]
    assert len(children) == 8
    for span in children:
        assert span.parent is not None and span.parent.span_id == root.context.span_id
        assert span.context.trace_id == root.context.trace_id
        assert span.attributes[semconv.USER_ID] == "u-1"
        assert span.attributes[semconv.SESSION_ID] == "s-1"


def test_a_thread_started_inside_a_traced_function_is_a_child(exporter: InMemorySpanExporter) -> None:
    @plaudit.trace
    def handler() -> None:
        threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    with plaudit.context(user_id="u-2"):
        handler()
    spans = exporter.get_finished_spans()
    (root,) = [s for s in spans if s.name.endswith("handler")]
    children = [s for s in spans if s.name.endswith("work")]
    assert len(children) == 3
    assert all(s.parent is not None and s.parent.span_id == root.context.span_id for s in children)
    assert all(s.attributes[semconv.USER_ID] == "u-2" for s in children)


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_it_can_be_turned_off(how: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if how == "environment":
        monkeypatch.setenv("PLAUDIT_THREAD_CONTEXT", "false")
        settings: dict[str, object] = {}
    else:
        settings = {"thread_context": False}
    try:
        with capture_spans(**settings) as exporter:
            assert not ThreadingInstrumentor().is_instrumented_by_opentelemetry

            @plaudit.trace
            def fan_out() -> None:
                with ThreadPoolExecutor(max_workers=2) as pool:
                    list(pool.map(work, range(2)))

            fan_out()
            children = [s for s in exporter.get_finished_spans() if s.name.endswith("work")]
            assert len(children) == 2 and all(s.parent is None for s in children), "threads start new roots again"
    finally:
        monkeypatch.delenv("PLAUDIT_THREAD_CONTEXT", raising=False)
        plaudit.configure(_span_exporter=InMemorySpanExporter(), _simple_processor=True)
    assert ThreadingInstrumentor().is_instrumented_by_opentelemetry, "on again with the default"


def test_the_hosts_own_threading_instrumentation_is_left_alone() -> None:
    plaudit.configure(_span_exporter=InMemorySpanExporter(), _simple_processor=True, thread_context=False)
    instrumentor = ThreadingInstrumentor()
    instrumentor.instrument()  # the host's, as opentelemetry-instrument would do
    try:
        plaudit.configure(_span_exporter=InMemorySpanExporter(), _simple_processor=True, thread_context=False)
        assert instrumentor.is_instrumented_by_opentelemetry, "Plaudit undoes only what it did"
    finally:
        instrumentor.uninstrument()
        plaudit.configure(_span_exporter=InMemorySpanExporter(), _simple_processor=True)


def test_a_bad_flag_is_refused() -> None:
    with pytest.raises(plaudit.PlauditConfigError):
        plaudit.configure(thread_context="no")  # type: ignore[arg-type]
