"""``@plaudit.trace`` on plain and async functions, methods, with and without arguments."""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import traceback
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

import plaudit
from plaudit import semconv
from plaudit.testing import InMemorySpanExporter


@plaudit.trace
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@plaudit.trace(name="llm-call", kind="llm", model="gpt-4o-mini", variant="B")
def call_llm(question: str, *, temperature: float = 0.0) -> str:
    return f"answer to {question}"


class Bot:
    def __init__(self, greeting: str) -> None:
        self.greeting = greeting

    @plaudit.trace
    def reply(self, question: str) -> str:
        return f"{self.greeting}, {question}"

    @plaudit.trace
    async def areply(self, question: str) -> str:
        await asyncio.sleep(0)
        return question.upper()

    @plaudit.trace
    @staticmethod
    def static_above(x: int) -> int:
        return x * 2

    @staticmethod
    @plaudit.trace
    def static_below(x: int) -> int:
        return x * 3

    @plaudit.trace
    @classmethod
    def class_above(cls, x: int) -> str:
        return f"{cls.__name__}:{x}"

    @classmethod
    @plaudit.trace(kind="tool")
    def class_below(cls, x: int) -> str:
        return f"{cls.__name__}:{x}"


def by_name(exporter: InMemorySpanExporter) -> dict[str, ReadableSpan]:
    spans = exporter.get_finished_spans()
    named = {s.name: s for s in spans}
    assert len(named) == len(spans), [s.name for s in spans]
    return named


# --- plain functions -------------------------------------------------------------------------------------------


def test_bare_decorator_records_name_input_and_output(exporter: InMemorySpanExporter) -> None:
    assert add(1, b=2) == 3

    (span,) = exporter.get_finished_spans()
    assert span.name == "add"
    assert json.loads(span.attributes[semconv.INPUT]) == {"a": 1, "b": 2}
    assert span.attributes[semconv.OUTPUT] == "3"
    assert span.kind is SpanKind.INTERNAL
    assert span.status.status_code is StatusCode.UNSET
    assert semconv.SPAN_KIND not in span.attributes


def test_decorating_alone_opens_no_span(exporter: InMemorySpanExporter) -> None:
    @plaudit.trace
    def never_called() -> None:
        raise AssertionError

    assert exporter.get_finished_spans() == ()


def test_wrapper_keeps_function_metadata() -> None:
    assert add.__name__ == "add"
    assert add.__doc__ == "Add two numbers."
    assert inspect.signature(add) == inspect.signature(add.__wrapped__)  # type: ignore[attr-defined]


def test_return_value_is_the_same_object(exporter: InMemorySpanExporter) -> None:
    sentinel = object()

    @plaudit.trace
    def give() -> object:
        return sentinel

    assert give() is sentinel


def test_decorator_arguments_become_attributes(exporter: InMemorySpanExporter) -> None:
    assert call_llm("why?", temperature=0.5) == "answer to why?"

    (span,) = exporter.get_finished_spans()
    assert span.name == "llm-call"
    assert span.kind is SpanKind.CLIENT  # an LLM call is a client call in OTel terms
    assert span.attributes[semconv.SPAN_KIND] == "llm"
    assert span.attributes[semconv.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"
    assert span.attributes[semconv.VARIANT] == "B"
    assert json.loads(span.attributes[semconv.INPUT]) == {"question": "why?", "temperature": 0.5}


def test_prompt_and_config_arguments(exporter: InMemorySpanExporter) -> None:
    prompt = plaudit.Prompt("answer", "v2", "Answer: {question}")

    @plaudit.trace(prompt=prompt, config={"temperature": 0.2, "max_tokens": 64})
    def answer(question: str) -> str:
        return "42"

    answer("q")
    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.PROMPT_NAME] == "answer"
    assert span.attributes[semconv.PROMPT_VERSION] == "v2"
    assert span.attributes[semconv.PROMPT_TEMPLATE_HASH] == prompt.template_hash
    assert span.attributes["plaudit.config.temperature"] == 0.2
    assert span.attributes["plaudit.config.max_tokens"] == 64
    assert len(span.attributes[semconv.CONFIG_HASH]) == 16


@pytest.mark.parametrize("kind", semconv.SPAN_KINDS)
def test_every_documented_kind_is_accepted(exporter: InMemorySpanExporter, kind: str) -> None:
    @plaudit.trace(kind=kind)
    def step() -> None:
        return None

    step()
    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.SPAN_KIND] == kind
    assert span.kind is (SpanKind.CLIENT if kind in ("llm", "embedding") else SpanKind.INTERNAL)


def test_capture_input_and_output_can_be_switched_off(exporter: InMemorySpanExporter) -> None:
    @plaudit.trace(capture_input=False)
    def no_input(secret: str) -> str:
        return "visible"

    @plaudit.trace(capture_output=False)
    def no_output(question: str) -> str:
        return "secret"

    no_input("password")
    no_output("visible")
    spans = by_name(exporter)
    assert semconv.INPUT not in spans[no_input.__qualname__].attributes
    assert spans[no_input.__qualname__].attributes[semconv.OUTPUT] == "visible"
    assert spans[no_output.__qualname__].attributes[semconv.INPUT] == '{"question": "visible"}'
    assert semconv.OUTPUT not in spans[no_output.__qualname__].attributes


def test_no_arguments_and_none_result_record_nothing(exporter: InMemorySpanExporter) -> None:
    @plaudit.trace
    def nothing() -> None:
        return None

    nothing()
    (span,) = exporter.get_finished_spans()
    assert semconv.INPUT not in span.attributes
    assert semconv.OUTPUT not in span.attributes


def test_variadic_arguments_are_captured(exporter: InMemorySpanExporter) -> None:
    @plaudit.trace
    def gather(first: str, *rest: str, **options: Any) -> int:
        return 1 + len(rest)

    gather("a", "b", "c", sep="-")
    (span,) = exporter.get_finished_spans()
    assert json.loads(span.attributes[semconv.INPUT]) == {"first": "a", "*args": ["b", "c"], "sep": "-"}


# --- methods ----------------------------------------------------------------------------------------------------


def test_method_skips_self_in_captured_input(exporter: InMemorySpanExporter) -> None:
    assert Bot("hello").reply("how are you?") == "hello, how are you?"

    (span,) = exporter.get_finished_spans()
    assert span.name == "Bot.reply"
    assert json.loads(span.attributes[semconv.INPUT]) == {"question": "how are you?"}


def test_async_method_skips_self(exporter: InMemorySpanExporter) -> None:
    assert asyncio.run(Bot("hi").areply("loud")) == "LOUD"

    (span,) = exporter.get_finished_spans()
    assert span.name == "Bot.areply"
    assert json.loads(span.attributes[semconv.INPUT]) == {"question": "loud"}


@pytest.mark.parametrize("via_instance", [False, True])
def test_staticmethods_in_either_decorator_order(exporter: InMemorySpanExporter, via_instance: bool) -> None:
    target: Any = Bot("x") if via_instance else Bot
    assert target.static_above(2) == 4
    assert target.static_below(2) == 6

    spans = by_name(exporter)
    assert json.loads(spans["Bot.static_above"].attributes[semconv.INPUT]) == {"x": 2}
    assert json.loads(spans["Bot.static_below"].attributes[semconv.INPUT]) == {"x": 2}


def test_classmethods_in_either_decorator_order_skip_cls(exporter: InMemorySpanExporter) -> None:
    assert Bot.class_above(1) == "Bot:1"
    assert Bot("x").class_below(2) == "Bot:2"

    spans = by_name(exporter)
    assert json.loads(spans["Bot.class_above"].attributes[semconv.INPUT]) == {"x": 1}
    assert json.loads(spans["Bot.class_below"].attributes[semconv.INPUT]) == {"x": 2}
    assert spans["Bot.class_below"].attributes[semconv.SPAN_KIND] == "tool"


# --- async ------------------------------------------------------------------------------------------------------


def test_async_function(exporter: InMemorySpanExporter) -> None:
    @plaudit.trace(kind="llm")
    async def complete(prompt: str) -> dict[str, str]:
        await asyncio.sleep(0)
        return {"text": prompt[::-1]}

    assert inspect.iscoroutinefunction(complete)  # frameworks dispatch on this
    assert asyncio.run(complete("abc")) == {"text": "cba"}

    (span,) = exporter.get_finished_spans()
    assert json.loads(span.attributes[semconv.INPUT]) == {"prompt": "abc"}
    assert json.loads(span.attributes[semconv.OUTPUT]) == {"text": "cba"}


def test_async_span_stays_open_until_the_coroutine_finishes(exporter: InMemorySpanExporter) -> None:
    @plaudit.trace
    async def slow() -> str:
        await asyncio.sleep(0)
        assert exporter.get_finished_spans() == ()
        return "done"

    assert asyncio.run(slow()) == "done"
    assert len(exporter.get_finished_spans()) == 1


# --- nesting and parent links -----------------------------------------------------------------------------------


def test_nested_calls_link_parents(exporter: InMemorySpanExporter) -> None:
    @plaudit.trace
    def inner(x: int) -> int:
        return x + 1

    @plaudit.trace
    def middle(x: int) -> int:
        with plaudit.span("block"):
            return inner(x) * 2

    @plaudit.trace
    def outer() -> int:
        return middle(1) + inner(0)

    assert outer() == 5

    spans = exporter.get_finished_spans()
    assert [s.name.rsplit(".", 1)[-1] for s in spans] == ["inner", "block", "middle", "inner", "outer"]
    first_inner, block, middle_span, second_inner, outer_span = spans
    assert outer_span.parent is None
    assert middle_span.parent.span_id == outer_span.context.span_id
    assert block.parent.span_id == middle_span.context.span_id
    assert first_inner.parent.span_id == block.context.span_id
    assert second_inner.parent.span_id == outer_span.context.span_id
    assert len({s.context.trace_id for s in spans}) == 1


def test_separate_calls_are_separate_traces(exporter: InMemorySpanExporter) -> None:
    add(1, 2)
    add(3, 4)
    first, second = exporter.get_finished_spans()
    assert first.context.trace_id != second.context.trace_id
    assert first.parent is None and second.parent is None


def test_current_ref_inside_a_call_names_its_span(exporter: InMemorySpanExporter) -> None:
    seen: list[plaudit.SpanRef | None] = []

    @plaudit.trace
    def handler() -> None:
        seen.append(plaudit.current_ref())

    assert plaudit.current_ref() is None
    handler()
    assert plaudit.current_ref() is None

    (span,) = exporter.get_finished_spans()
    assert seen == [plaudit.SpanRef(format(span.context.trace_id, "032x"), format(span.context.span_id, "016x"))]


def test_gather_children_share_the_parent_not_each_other(exporter: InMemorySpanExporter) -> None:
    @plaudit.trace
    async def child(i: int) -> int:
        await asyncio.sleep(0.001 * (3 - i))  # finish out of order
        return i

    @plaudit.trace
    async def parent() -> list[int]:
        return list(await asyncio.gather(child(0), child(1), child(2)))

    assert asyncio.run(parent()) == [0, 1, 2]

    spans = exporter.get_finished_spans()
    (root,) = [s for s in spans if s.name.endswith("parent")]
    children = [s for s in spans if s.name.endswith("child")]
    assert len(children) == 3
    assert {s.parent.span_id for s in children} == {root.context.span_id}
    assert {json.loads(s.attributes[semconv.INPUT])["i"] for s in children} == {0, 1, 2}


def test_create_task_inherits_the_span_it_was_created_in(exporter: InMemorySpanExporter) -> None:
    @plaudit.trace
    async def background() -> str:
        await asyncio.sleep(0)
        return "bg"

    @plaudit.trace
    async def request() -> asyncio.Task[str]:
        return asyncio.create_task(background())

    async def main() -> str:
        task = await request()  # the task outlives the span it was started in
        with plaudit.span("unrelated"):
            return await task

    assert asyncio.run(main()) == "bg"
    spans = by_name(exporter)
    req, bg = spans[request.__qualname__], spans[background.__qualname__]
    assert bg.parent.span_id == req.context.span_id
    assert spans["unrelated"].parent is None


def test_concurrent_roots_do_not_leak_into_each_other(exporter: InMemorySpanExporter) -> None:
    @plaudit.trace
    async def leaf(i: int) -> None:
        await asyncio.sleep(0)

    @plaudit.trace
    async def root(i: int) -> None:
        await asyncio.sleep(0.001 * i)
        await leaf(i)

    async def main() -> None:
        await asyncio.gather(*(root(i) for i in range(4)))

    asyncio.run(main())
    spans = exporter.get_finished_spans()
    roots = {json.loads(s.attributes[semconv.INPUT])["i"]: s for s in spans if s.name.endswith("root")}
    leaves = {json.loads(s.attributes[semconv.INPUT])["i"]: s for s in spans if s.name.endswith("leaf")}
    assert all(r.parent is None for r in roots.values())
    assert len({r.context.trace_id for r in roots.values()}) == 4
    for i, leaf_span in leaves.items():
        assert leaf_span.parent.span_id == roots[i].context.span_id


# --- exceptions -------------------------------------------------------------------------------------------------


class Boom(Exception):
    pass


def assert_error_span(span: ReadableSpan, exc_type: type[BaseException], message: str) -> None:
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == f"{exc_type.__name__}: {message}"
    (event,) = span.events
    assert event.name == "exception"
    assert event.attributes["exception.type"].endswith(exc_type.__name__)
    assert event.attributes["exception.message"] == message


def test_exception_is_recorded_and_reraised_unchanged(exporter: InMemorySpanExporter) -> None:
    error = Boom("kaput")

    @plaudit.trace
    def explode(x: int) -> None:
        raise error

    with pytest.raises(Boom) as excinfo:
        explode(1)

    assert excinfo.value is error
    frames = [frame.name for frame in traceback.extract_tb(excinfo.value.__traceback__)]
    assert frames[-1] == "explode"  # the user's frame is where the traceback ends
    (span,) = exporter.get_finished_spans()
    assert_error_span(span, Boom, "kaput")
    assert semconv.OUTPUT not in span.attributes and span.attributes[semconv.INPUT] == '{"x": 1}'
    assert plaudit.current_ref() is None  # the context was restored


def test_async_exception_is_recorded_and_reraised_unchanged(exporter: InMemorySpanExporter) -> None:
    error = Boom("async kaput")

    @plaudit.trace
    async def explode(x: int) -> None:
        await asyncio.sleep(0)
        raise error

    with pytest.raises(Boom) as excinfo:
        asyncio.run(explode(2))

    assert excinfo.value is error
    assert traceback.extract_tb(excinfo.value.__traceback__)[-1].name == "explode"
    (span,) = exporter.get_finished_spans()
    assert_error_span(span, Boom, "async kaput")
    assert span.attributes[semconv.INPUT] == '{"x": 2}'


def test_exception_in_nested_call_marks_only_the_spans_it_escapes(exporter: InMemorySpanExporter) -> None:
    @plaudit.trace
    def inner() -> None:
        raise KeyError("missing")

    @plaudit.trace
    def outer() -> str:
        try:
            inner()
        except KeyError:
            return "recovered"
        raise AssertionError

    assert outer() == "recovered"
    spans = by_name(exporter)
    assert spans[inner.__qualname__].status.status_code is StatusCode.ERROR
    assert spans[outer.__qualname__].status.status_code is StatusCode.UNSET


def test_cancelled_task_ends_its_span(exporter: InMemorySpanExporter) -> None:
    started = asyncio.Event()

    @plaudit.trace
    async def forever() -> None:
        started.set()
        await asyncio.sleep(3600)

    async def main() -> None:
        task = asyncio.create_task(forever())
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.events[0].attributes["exception.type"].endswith("CancelledError")


# --- wrong arguments fail at decoration time -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"kind": "banana"}, ValueError),
        ({"kind": "LLM"}, ValueError),
        ({"name": ""}, TypeError),
        ({"name": 5}, TypeError),
        ({"prompt": "answer-v2"}, TypeError),
        ({"config": [("temperature", 0.2)]}, TypeError),
        ({"variant": 2}, TypeError),
        ({"model": None, "variant": b"A"}, TypeError),
        ({"model": 4}, TypeError),
        ({"capture_input": "no"}, TypeError),
        ({"capture_output": 0}, TypeError),
        ({"nmae": "typo"}, TypeError),
    ],
)
def test_invalid_decorator_arguments_raise_at_decoration(kwargs: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        plaudit.trace(**kwargs)


@pytest.mark.parametrize("target", [42, "my-span", 3.5])
def test_decorating_a_non_callable_raises(target: Any) -> None:
    with pytest.raises(TypeError):
        plaudit.trace(target)


def test_partial_and_callable_objects_can_be_traced(exporter: InMemorySpanExporter) -> None:
    class Scorer:
        def __call__(self, text: str) -> int:
            return len(text)

    traced_partial = plaudit.trace(name="partial")(functools.partial(add.__wrapped__, 1))  # type: ignore[attr-defined]
    traced_object = plaudit.trace(name="scorer")(Scorer())
    assert traced_partial(2) == 3
    assert traced_object("abcd") == 4
    assert set(by_name(exporter)) == {"partial", "scorer"}
