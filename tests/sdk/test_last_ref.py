"""``plaudit.last_ref()``: the ref of the traced call that just ended, per thread and per asyncio task."""

from __future__ import annotations

import asyncio
import threading

import pytest

import plaudit
from plaudit.testing import InMemorySpanExporter


def ids(span: object) -> tuple[str, str]:
    ctx = span.get_span_context()  # type: ignore[attr-defined]
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


@plaudit.trace(kind="llm")
def answer(question: str) -> str:
    return f"answer to {question}"


def test_the_ref_of_the_call_just_made_without_returning_it(exporter: InMemorySpanExporter) -> None:
    assert answer("one") == "answer to one"  # the output is the answer alone
    ref = plaudit.last_ref()
    (span,) = exporter.get_finished_spans()
    assert ref is not None and (ref.trace_id, ref.span_id) == ids(span)
    assert span.attributes["plaudit.output"] == "answer to one"
    answer("two")
    assert plaudit.last_ref() != ref, "each call replaces it"


def test_an_enclosing_call_ends_last_and_a_block_counts_too(exporter: InMemorySpanExporter) -> None:
    @plaudit.trace
    def outer() -> None:
        answer("inner")
        inner = plaudit.last_ref()
        assert inner is not None and inner.span_id == ids(exporter.get_finished_spans()[-1])[1]

    outer()
    assert plaudit.last_ref().span_id == ids(exporter.get_finished_spans()[-1])[1]  # type: ignore[union-attr]
    with plaudit.span("block") as handle:
        pass
    assert plaudit.last_ref() == handle.ref


def test_a_call_that_raised_sets_it_too(exporter: InMemorySpanExporter) -> None:
    @plaudit.trace
    def fails() -> None:
        raise KeyError("x")

    with pytest.raises(KeyError):
        fails()
    (span,) = exporter.get_finished_spans()
    assert plaudit.last_ref() is not None and plaudit.last_ref().span_id == ids(span)[1]  # type: ignore[union-attr]


def test_generators_set_it_when_they_end(exporter: InMemorySpanExporter) -> None:
    @plaudit.trace
    def stream() -> object:
        yield "a"
        yield "b"

    assert "".join(stream()) == "ab"  # type: ignore[call-overload]
    (span,) = exporter.get_finished_spans()
    assert plaudit.last_ref().span_id == ids(span)[1]  # type: ignore[union-attr]


def test_each_thread_has_its_own(exporter: InMemorySpanExporter) -> None:
    answer("main")
    mine = plaudit.last_ref()
    seen: dict[str, object] = {}

    def work() -> None:
        seen["before"] = plaudit.last_ref()
        answer("thread")
        seen["after"] = plaudit.last_ref()

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert seen["before"] is None, "a new thread starts with none"
    assert seen["after"] is not None and seen["after"] != mine
    assert plaudit.last_ref() == mine, "the other thread's call does not change this thread's"


def test_each_asyncio_task_has_its_own(exporter: InMemorySpanExporter) -> None:
    @plaudit.trace
    async def achat(text: str) -> str:
        await asyncio.sleep(0)
        return text

    async def handler(text: str) -> tuple[str, plaudit.SpanRef | None]:
        reply = await achat(text)
        await asyncio.sleep(0.01)  # let the other handler finish its call in between
        return reply, plaudit.last_ref()

    async def main() -> list[tuple[str, plaudit.SpanRef | None]]:
        return list(await asyncio.gather(handler("a"), handler("b")))

    results = asyncio.run(main())
    spans = {span.attributes["plaudit.output"]: ids(span)[1] for span in exporter.get_finished_spans()}
    for text, ref in results:
        assert ref is not None and ref.span_id == spans[text], "each task sees its own call, not the other's"


def test_none_before_any_call_and_when_tracing_is_off() -> None:
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(plaudit.last_ref()))
    thread.start()
    thread.join()
    assert result == [None]
    plaudit.shutdown()
    answer("untraced")
    assert plaudit.last_ref() is None
