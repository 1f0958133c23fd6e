"""``with plaudit.span(...) as handle`` and the :class:`plaudit.SpanHandle` it yields."""

from __future__ import annotations

import asyncio
import json

import pytest
from opentelemetry.trace import SpanKind, StatusCode

import plaudit
from plaudit import semconv
from plaudit.testing import InMemorySpanExporter


def test_span_records_handle_calls(exporter: InMemorySpanExporter) -> None:
    prompt = plaudit.Prompt("rag", "3", "Context: {context}")
    with plaudit.span(
        "generate", kind="llm", prompt=prompt, config={"top_p": 0.9}, variant="control", attributes={"app.step": 2}
    ) as handle:
        assert isinstance(handle, plaudit.SpanHandle)
        handle.set_input({"messages": [{"role": "user", "content": "hi"}]})
        handle.set_output("hello!")
        handle.set_model("gpt-4o", provider="openai")
        handle.set_usage(input_tokens=12, output_tokens=3)
        handle.set_attribute("app.cached", False)
        handle.set_attributes({"app.retries": 1})
        ref = handle.ref
        assert ref == plaudit.current_ref()

    (span,) = exporter.get_finished_spans()
    assert span.name == "generate"
    assert span.kind is SpanKind.CLIENT
    attrs = span.attributes
    assert json.loads(attrs[semconv.INPUT]) == {"messages": [{"role": "user", "content": "hi"}]}
    assert attrs[semconv.OUTPUT] == "hello!"
    assert attrs[semconv.GEN_AI_REQUEST_MODEL] == "gpt-4o"
    assert attrs[semconv.GEN_AI_PROVIDER_NAME] == "openai"
    assert attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 12
    assert attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 3
    assert attrs[semconv.SPAN_KIND] == "llm"
    assert attrs[semconv.PROMPT_NAME] == "rag"
    assert attrs[semconv.PROMPT_VERSION] == "3"
    assert attrs["plaudit.config.top_p"] == 0.9
    assert attrs[semconv.VARIANT] == "control"
    assert attrs["app.step"] == 2
    assert attrs["app.cached"] is False
    assert attrs["app.retries"] == 1
    assert ref is not None
    assert ref.trace_id == format(span.context.trace_id, "032x")
    assert ref.span_id == format(span.context.span_id, "016x")
    assert plaudit.current_ref() is None


def test_set_model_without_provider_and_partial_usage(exporter: InMemorySpanExporter) -> None:
    with plaudit.span("embed", kind="embedding") as handle:
        handle.set_model("text-embedding-3-small")
        handle.set_usage(input_tokens=7)

    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.GEN_AI_REQUEST_MODEL] == "text-embedding-3-small"
    assert semconv.GEN_AI_PROVIDER_NAME not in span.attributes
    assert span.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 7
    assert semconv.GEN_AI_USAGE_OUTPUT_TOKENS not in span.attributes


def test_block_exception_is_recorded_and_propagates_unchanged(exporter: InMemorySpanExporter) -> None:
    error = TimeoutError("model too slow")
    with pytest.raises(TimeoutError) as excinfo, plaudit.span("call"):
        raise error

    assert excinfo.value is error
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "TimeoutError: model too slow"
    assert span.events[0].name == "exception"
    assert plaudit.current_ref() is None


def test_handle_record_exception_marks_the_span_without_raising(exporter: InMemorySpanExporter) -> None:
    with plaudit.span("guarded") as handle:
        try:
            raise LookupError("no document")
        except LookupError as exc:
            handle.record_exception(exc)

    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.events[0].attributes["exception.message"] == "no document"


def test_spans_nest_with_traced_functions(exporter: InMemorySpanExporter) -> None:
    @plaudit.trace
    def retrieve(query: str) -> list[str]:
        return [query]

    with plaudit.span("request", kind="chain"), plaudit.span("retrieval", kind="retrieval"):
        retrieve("q")

    spans = {s.name.rsplit(".", 1)[-1]: s for s in exporter.get_finished_spans()}
    assert spans["request"].parent is None
    assert spans["retrieval"].parent.span_id == spans["request"].context.span_id
    assert spans["retrieve"].parent.span_id == spans["retrieval"].context.span_id


def test_span_in_async_code(exporter: InMemorySpanExporter) -> None:
    async def work(i: int) -> int:
        with plaudit.span(f"work-{i}") as handle:
            await asyncio.sleep(0.001 * (2 - i))
            handle.set_output(i)
            return i

    async def main() -> list[int]:
        with plaudit.span("parent"):
            return list(await asyncio.gather(work(0), work(1)))

    assert asyncio.run(main()) == [0, 1]
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert spans["work-0"].parent.span_id == spans["parent"].context.span_id
    assert spans["work-1"].parent.span_id == spans["parent"].context.span_id
    assert spans["work-1"].attributes[semconv.OUTPUT] == "1"


@pytest.mark.parametrize(
    ("args", "kwargs", "error"),
    [
        (("",), {}, TypeError),
        ((5,), {}, TypeError),
        (("x",), {"kind": "database"}, ValueError),
        (("x",), {"prompt": {"name": "p"}}, TypeError),
        (("x",), {"config": "temperature=0"}, TypeError),
        (("x",), {"model": 3}, TypeError),
        (("x",), {"provider": 3}, TypeError),
    ],
)
def test_invalid_span_arguments_raise_before_the_block(
    exporter: InMemorySpanExporter, args: tuple[object, ...], kwargs: dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error):
        plaudit.span(*args, **kwargs)  # type: ignore[arg-type]
    assert exporter.get_finished_spans() == ()
