"""``@plaudit.trace`` on generators and async generators: the span covers the whole iteration."""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import AsyncIterator, Generator, Iterator

import pytest
from opentelemetry.trace import StatusCode

import plaudit
from plaudit import semconv
from plaudit.testing import InMemorySpanExporter


@plaudit.trace(kind="llm")
def stream_words(text: str) -> Iterator[str]:
    for word in text.split():
        with plaudit.span(f"token-{word}"):
            pass
        yield word + " "


@plaudit.trace
async def astream_words(text: str) -> AsyncIterator[str]:
    for word in text.split():
        await asyncio.sleep(0)
        with plaudit.span(f"token-{word}"):
            pass
        yield word + " "


def _trace_and_span_ids(exporter: InMemorySpanExporter, name: str) -> tuple[int, int]:
    (span,) = [s for s in exporter.get_finished_spans() if s.name == name]
    return span.context.trace_id, span.context.span_id


# --- sync generators ---------------------------------------------------------------------------------------------


def test_generator_stays_a_generator_function() -> None:
    assert inspect.isgeneratorfunction(stream_words)
    assert inspect.isasyncgenfunction(astream_words)


def test_generator_span_lasts_until_exhausted_and_joins_strings(exporter: InMemorySpanExporter) -> None:
    gen = stream_words("a b c")
    assert exporter.get_finished_spans() == ()  # nothing happens before the first next()
    assert next(gen) == "a "
    assert [s.name for s in exporter.get_finished_spans()] == ["token-a"]
    assert list(gen) == ["b ", "c "]

    spans = {s.name: s for s in exporter.get_finished_spans()}
    stream = spans["stream_words"]
    assert stream.attributes[semconv.OUTPUT] == "a b c "
    assert json.loads(stream.attributes[semconv.INPUT]) == {"text": "a b c"}
    assert stream.attributes[semconv.SPAN_KIND] == "llm"
    assert stream.status.status_code is StatusCode.UNSET
    for word in "abc":
        assert spans[f"token-{word}"].parent.span_id == stream.context.span_id


def test_generator_of_objects_records_a_list(exporter: InMemorySpanExporter) -> None:
    @plaudit.trace
    def numbers() -> Iterator[dict[str, int]]:
        yield {"n": 1}
        yield {"n": 2}

    assert list(numbers()) == [{"n": 1}, {"n": 2}]
    (span,) = exporter.get_finished_spans()
    assert json.loads(span.attributes[semconv.OUTPUT]) == [{"n": 1}, {"n": 2}]


def test_empty_generator_records_an_empty_list(exporter: InMemorySpanExporter) -> None:
    @plaudit.trace
    def nothing() -> Iterator[str]:
        yield from ()

    assert list(nothing()) == []
    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.OUTPUT] == "[]"


def test_closed_generator_ends_its_span_with_what_was_yielded(exporter: InMemorySpanExporter) -> None:
    cleaned_up: list[bool] = []

    @plaudit.trace
    def endless() -> Iterator[str]:
        try:
            while True:
                yield "x"
        finally:
            cleaned_up.append(True)

    gen = endless()
    assert [next(gen), next(gen)] == ["x", "x"]
    assert exporter.get_finished_spans() == ()
    gen.close()

    assert cleaned_up == [True]  # the user's finally block ran
    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.OUTPUT] == "xx"
    assert span.status.status_code is StatusCode.UNSET


def test_break_out_of_a_for_loop_ends_the_span(exporter: InMemorySpanExporter) -> None:
    gen = stream_words("one two three")
    for word in gen:
        if word == "two ":
            break
    gen.close()
    assert {s.name: s for s in exporter.get_finished_spans()}["stream_words"].attributes[semconv.OUTPUT] == "one two "


def test_never_started_generator_opens_no_span(exporter: InMemorySpanExporter) -> None:
    gen = stream_words("a")
    gen.close()
    assert exporter.get_finished_spans() == ()


def test_generator_exception_is_recorded_and_reraised(exporter: InMemorySpanExporter) -> None:
    error = RuntimeError("stream broke")

    @plaudit.trace
    def flaky(start: int) -> Iterator[int]:
        yield start
        raise error

    received: list[int] = []
    with pytest.raises(RuntimeError) as excinfo:
        for item in flaky(1):
            received.append(item)

    assert excinfo.value is error
    assert received == [1]
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[semconv.INPUT] == '{"start": 1}'
    assert span.events[0].attributes["exception.message"] == "stream broke"


def test_generator_return_value_send_and_throw_pass_through(exporter: InMemorySpanExporter) -> None:
    @plaudit.trace
    def echo() -> Generator[str, str, int]:
        count = 0
        received = yield "ready"
        while received != "stop":
            count += 1
            try:
                received = yield received.upper()
            except ValueError as exc:
                received = yield f"caught {exc}"
        return count

    gen = echo()
    assert next(gen) == "ready"
    assert gen.send("hi") == "HI"
    assert gen.throw(ValueError("oops")) == "caught oops"
    assert gen.send("there") == "THERE"
    with pytest.raises(StopIteration) as stop:
        gen.send("stop")
    assert stop.value.value == 2

    def delegate() -> Generator[str, str, int]:
        return (yield from echo())

    gen2 = delegate()
    next(gen2)
    with pytest.raises(StopIteration) as stop2:
        gen2.send("stop")
    assert stop2.value.value == 0

    spans = exporter.get_finished_spans()
    assert len(spans) == 2
    assert all(s.status.status_code is StatusCode.UNSET for s in spans)


def test_uncaught_throw_ends_the_span_with_that_error(exporter: InMemorySpanExporter) -> None:
    gen = stream_words("a b c")
    next(gen)
    error = TimeoutError("consumer gave up")
    with pytest.raises(TimeoutError) as excinfo:
        gen.throw(error)
    assert excinfo.value is error
    stream = {s.name: s for s in exporter.get_finished_spans()}["stream_words"]
    assert stream.status.status_code is StatusCode.ERROR
    assert stream.events[0].attributes["exception.message"] == "consumer gave up"


def test_consumer_code_between_items_is_not_inside_the_generator_span(exporter: InMemorySpanExporter) -> None:
    gen = stream_words("a b")
    next(gen)
    with plaudit.span("consumer-work"):
        pass
    assert plaudit.current_ref() is None  # the generator's span is not active while it is suspended
    list(gen)

    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert spans["consumer-work"].parent is None


def test_generator_consumed_inside_a_parent_span(exporter: InMemorySpanExporter) -> None:
    @plaudit.trace
    def handler() -> str:
        return "".join(stream_words("x y"))

    assert handler() == "x y "
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert spans["stream_words"].parent.span_id == spans[handler.__qualname__].context.span_id


# --- async generators --------------------------------------------------------------------------------------------


def test_async_generator_span_lasts_until_exhausted(exporter: InMemorySpanExporter) -> None:
    async def main() -> list[str]:
        items = []
        async for word in astream_words("a b c"):
            items.append(word)
            assert "astream_words" not in {s.name for s in exporter.get_finished_spans()}
        return items

    assert asyncio.run(main()) == ["a ", "b ", "c "]
    spans = {s.name: s for s in exporter.get_finished_spans()}
    stream = spans["astream_words"]
    assert stream.attributes[semconv.OUTPUT] == "a b c "
    assert json.loads(stream.attributes[semconv.INPUT]) == {"text": "a b c"}
    for word in "abc":
        assert spans[f"token-{word}"].parent.span_id == stream.context.span_id


def test_async_generator_of_objects_records_a_list(exporter: InMemorySpanExporter) -> None:
    @plaudit.trace
    async def chunks() -> AsyncIterator[int]:
        for i in range(3):
            yield i

    async def main() -> list[int]:
        return [i async for i in chunks()]

    assert asyncio.run(main()) == [0, 1, 2]
    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.OUTPUT] == "[0, 1, 2]"


def test_async_generator_aclose_ends_the_span(exporter: InMemorySpanExporter) -> None:
    cleaned_up: list[bool] = []

    @plaudit.trace
    async def endless() -> AsyncIterator[str]:
        try:
            while True:
                await asyncio.sleep(0)
                yield "z"
        finally:
            cleaned_up.append(True)

    async def main() -> None:
        agen = endless()
        assert await agen.__anext__() == "z"
        assert await agen.__anext__() == "z"
        assert exporter.get_finished_spans() == ()
        await agen.aclose()

    asyncio.run(main())
    assert cleaned_up == [True]
    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.OUTPUT] == "zz"
    assert span.status.status_code is StatusCode.UNSET


def test_async_generator_exception_is_recorded_and_reraised(exporter: InMemorySpanExporter) -> None:
    error = ConnectionError("upstream hung up")

    @plaudit.trace
    async def flaky(start: int) -> AsyncIterator[int]:
        yield start
        raise error

    async def main() -> list[int]:
        return [i async for i in flaky(1)]

    with pytest.raises(ConnectionError) as excinfo:
        asyncio.run(main())
    assert excinfo.value is error
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[semconv.INPUT] == '{"start": 1}'


def test_async_generator_asend_and_athrow_pass_through(exporter: InMemorySpanExporter) -> None:
    @plaudit.trace
    async def echo() -> AsyncIterator[str]:
        received = yield "ready"
        while True:
            try:
                received = yield str(received).upper()
            except KeyError:
                received = yield "caught"

    async def main() -> list[str]:
        agen = echo()
        out = [await agen.asend(None), await agen.asend("a"), await agen.athrow(KeyError("k")), await agen.asend("b")]
        await agen.aclose()
        return out

    assert asyncio.run(main()) == ["ready", "A", "caught", "B"]
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.UNSET


def test_async_generators_interleaved_in_tasks_keep_their_own_parents(exporter: InMemorySpanExporter) -> None:
    @plaudit.trace
    async def handler(text: str) -> str:
        return "".join([w async for w in astream_words(text)])

    async def main() -> list[str]:
        return list(await asyncio.gather(handler("p q"), handler("r s")))

    assert asyncio.run(main()) == ["p q ", "r s "]
    spans = exporter.get_finished_spans()
    handlers = {json.loads(s.attributes[semconv.INPUT])["text"]: s for s in spans if s.name.endswith("handler")}
    streams = {json.loads(s.attributes[semconv.INPUT])["text"]: s for s in spans if s.name == "astream_words"}
    for text in ("p q", "r s"):
        assert streams[text].parent.span_id == handlers[text].context.span_id
        assert streams[text].context.trace_id == handlers[text].context.trace_id
    tokens = {s.name: s for s in spans if s.name.startswith("token-")}
    assert tokens["token-p"].parent.span_id == streams["p q"].context.span_id
    assert tokens["token-s"].parent.span_id == streams["r s"].context.span_id
