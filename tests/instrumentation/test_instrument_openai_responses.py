"""``plaudit.instrument_openai()`` on the Responses API: the real ``openai`` client against the local fake provider."""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from fake_provider import INPUT_TOKENS, OUTPUT_TOKENS, TEXT, TEXT_PIECES, FakeProvider
from openai.resources.responses import AsyncResponses, Responses
from openai_helpers import async_client, content, llm_span
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

import plaudit
from plaudit import semconv
from plaudit.testing import InMemorySpanExporter, capture_spans

pytestmark = pytest.mark.usefixtures("openai_instrumented")

TOOL = {"type": "function", "name": "get_weather", "parameters": {"type": "object"}}
CONTENT_KEYS = (
    semconv.GEN_AI_INPUT_MESSAGES,
    semconv.GEN_AI_OUTPUT_MESSAGES,
    semconv.GEN_AI_SYSTEM_INSTRUCTIONS,
    semconv.GEN_AI_TOOL_DEFINITIONS,
)


@pytest.fixture
def client(fake: FakeProvider) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(api_key="test-key", base_url=fake.openai_url, max_retries=0) as c:
        yield c


def sync_client(fake: FakeProvider) -> openai.OpenAI:
    return openai.OpenAI(api_key="k", base_url=fake.openai_url, max_retries=0)


def output_parts(span: ReadableSpan) -> Any:
    (message,) = content(span, semconv.GEN_AI_OUTPUT_MESSAGES)
    return message["parts"]


# --- plain calls ------------------------------------------------------------------------------------------------


def test_sync_call_is_a_genai_client_span(client: openai.OpenAI, exporter: InMemorySpanExporter) -> None:
    result = client.responses.create(
        model="gpt-4o-mini",
        instructions="Be brief.",
        input="Weather in Paris?",
        temperature=0.2,
        top_p=0.9,
        max_output_tokens=50,
    )

    assert isinstance(result, openai.types.responses.Response)
    assert result.output_text == TEXT
    span = llm_span(exporter)
    assert span.name == "chat gpt-4o-mini"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    attrs = span.attributes
    assert attrs[semconv.GEN_AI_OPERATION_NAME] == "chat"
    assert attrs[semconv.GEN_AI_PROVIDER_NAME] == "openai"
    assert attrs[semconv.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"
    assert attrs[semconv.GEN_AI_REQUEST_TEMPERATURE] == 0.2
    assert attrs[semconv.GEN_AI_REQUEST_TOP_P] == 0.9
    assert attrs[semconv.GEN_AI_REQUEST_MAX_TOKENS] == 50
    assert attrs[semconv.GEN_AI_RESPONSE_MODEL] == "gpt-4o-mini-2024-07-18"
    assert attrs[semconv.GEN_AI_RESPONSE_ID] == "resp_fake1"
    assert attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] == INPUT_TOKENS
    assert attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == OUTPUT_TOKENS
    assert attrs[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 2
    assert attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert semconv.GEN_AI_REQUEST_STREAM not in attrs
    assert content(span, semconv.GEN_AI_SYSTEM_INSTRUCTIONS) == [{"type": "text", "content": "Be brief."}]
    assert content(span, semconv.GEN_AI_INPUT_MESSAGES) == [
        {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]}
    ]
    assert content(span, semconv.GEN_AI_OUTPUT_MESSAGES) == [
        {"role": "assistant", "parts": [{"type": "text", "content": TEXT}], "finish_reason": "stop"}
    ]


def test_input_items_become_messages(client: openai.OpenAI, exporter: InMemorySpanExporter) -> None:
    items: Any = [
        {"role": "system", "content": "Be brief."},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Weather in Paris?"}]},
        {
            "type": "message",
            "role": "assistant",
            "id": "msg_0",
            "status": "completed",
            "content": [{"type": "output_text", "text": "Let me check.", "annotations": []}],
        },
        {"type": "function_call", "call_id": "call_0", "name": "get_weather", "arguments": '{"city": "Paris"}'},
        {"type": "function_call_output", "call_id": "call_0", "output": "rainy, 14 C"},
        {"role": "user", "content": [{"type": "input_image", "image_url": "https://example.test/p.png"}]},
    ]
    client.responses.create(model="gpt-4o-mini", input=items)

    assert content(llm_span(exporter), semconv.GEN_AI_INPUT_MESSAGES) == [
        {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
        {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]},
        {
            "role": "assistant",
            "parts": [
                {"type": "text", "content": "Let me check."},
                {"type": "tool_call", "id": "call_0", "name": "get_weather", "arguments": {"city": "Paris"}},
            ],
        },
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_0", "response": "rainy, 14 C"}]},
        {"role": "user", "parts": [{"type": "input_image"}]},
    ]


def test_function_call_is_recorded(client: openai.OpenAI, exporter: InMemorySpanExporter) -> None:
    result = client.responses.create(model="gpt-tool", input="Weather in Paris?", tools=[TOOL])  # type: ignore[list-item]

    assert result.output[0].type == "function_call"
    span = llm_span(exporter)
    assert span.attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_call",)
    assert output_parts(span) == [
        {"type": "tool_call", "id": "call_fake1", "name": "get_weather", "arguments": {"city": "Paris"}}
    ]
    assert content(span, semconv.GEN_AI_TOOL_DEFINITIONS) == [TOOL]


def test_incomplete_response_finishes_with_length(client: openai.OpenAI, exporter: InMemorySpanExporter) -> None:
    client.responses.create(model="gpt-incomplete", input="Weather?", max_output_tokens=7)

    span = llm_span(exporter)
    assert span.attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("length",)
    assert span.status.status_code is StatusCode.UNSET


def test_one_shot_tools_iterable_reaches_the_provider(
    client: openai.OpenAI, exporter: InMemorySpanExporter, fake: FakeProvider
) -> None:
    client.responses.create(model="gpt-tool", input="Weather?", tools=iter([TOOL]))  # type: ignore[arg-type]

    assert fake.requests[-1]["body"]["tools"] == [TOOL]  # our parsing did not use up the user's iterator
    assert llm_span(exporter).attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_call",)


def test_async_call(fake: FakeProvider, exporter: InMemorySpanExporter) -> None:
    async def main() -> str:
        async with async_client(fake) as client:
            result = await client.responses.create(model="gpt-4o-mini", input="Weather in Paris?")
            return result.output_text

    assert asyncio.run(main()) == TEXT
    span = llm_span(exporter)
    assert span.name == "chat gpt-4o-mini"
    assert span.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == OUTPUT_TOKENS
    assert span.attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert output_parts(span) == [{"type": "text", "content": TEXT}]


# --- streaming --------------------------------------------------------------------------------------------------


def test_stream_span_ends_when_consumed_with_ttft_and_usage_from_response_completed(
    client: openai.OpenAI, exporter: InMemorySpanExporter, fake: FakeProvider
) -> None:
    stream = client.responses.create(model="gpt-4o-mini", input="Weather in Paris?", stream=True)
    assert isinstance(stream, openai.Stream)  # the very object the library returned
    assert exporter.get_finished_spans() == ()  # still open while unread

    events = list(stream)

    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == TEXT
    assert events[-1].type == "response.completed"
    span = llm_span(exporter)
    attrs = span.attributes
    ttft = attrs[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK]
    assert isinstance(ttft, float)
    assert fake.first_chunk_delay * 0.8 <= ttft <= (span.end_time - span.start_time) / 1e9  # type: ignore[operator]
    assert attrs[semconv.GEN_AI_REQUEST_STREAM] is True
    assert attrs[semconv.GEN_AI_RESPONSE_ID] == "resp_fake2"
    assert attrs[semconv.GEN_AI_RESPONSE_MODEL] == "gpt-4o-mini-2024-07-18"
    assert attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] == INPUT_TOKENS
    assert attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == OUTPUT_TOKENS
    assert attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert output_parts(span) == [{"type": "text", "content": TEXT}]


def test_streamed_function_call(client: openai.OpenAI, exporter: InMemorySpanExporter) -> None:
    for _ in client.responses.create(model="gpt-tool", input="Weather?", tools=[TOOL], stream=True):  # type: ignore[list-item]
        pass

    (out,) = content(llm_span(exporter), semconv.GEN_AI_OUTPUT_MESSAGES)
    assert out == {
        "role": "assistant",
        "parts": [{"type": "tool_call", "id": "call_fake2", "name": "get_weather", "arguments": {"city": "Paris"}}],
        "finish_reason": "tool_call",
    }


def test_stream_closed_early_ends_the_span(client: openai.OpenAI, exporter: InMemorySpanExporter) -> None:
    with client.responses.create(model="gpt-4o-mini", input="Weather?", stream=True) as stream:
        first = next(iter(stream))
        assert exporter.get_finished_spans() == ()
    assert first.type == "response.created"
    span = llm_span(exporter)
    assert span.status.status_code is StatusCode.UNSET
    assert semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK in span.attributes
    assert span.attributes[semconv.GEN_AI_RESPONSE_ID] == "resp_fake2"
    assert semconv.GEN_AI_USAGE_OUTPUT_TOKENS not in span.attributes  # response.completed never came


def test_stream_helper_is_traced(client: openai.OpenAI, exporter: InMemorySpanExporter) -> None:
    with client.responses.stream(model="gpt-4o-mini", input="Weather?") as stream:
        final = stream.get_final_response()

    assert final.output_text == TEXT
    attrs = llm_span(exporter).attributes
    assert attrs[semconv.GEN_AI_REQUEST_STREAM] is True
    assert attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == OUTPUT_TOKENS


def test_stream_helper_closed_early_ends_the_span(client: openai.OpenAI, exporter: InMemorySpanExporter) -> None:
    with client.responses.stream(model="gpt-4o-mini", input="Weather?") as stream:
        for event in stream:
            assert event.type == "response.created"
            break
        assert exporter.get_finished_spans() == ()
    span = llm_span(exporter)  # ended by the helper's close, with the stream object still referenced
    assert span.status.status_code is StatusCode.UNSET
    assert semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK in span.attributes


def test_async_stream_and_helper(fake: FakeProvider, exporter: InMemorySpanExporter) -> None:
    async def main() -> tuple[str, str]:
        async with async_client(fake) as client:
            stream = await client.responses.create(model="gpt-4o-mini", input="Weather?", stream=True)
            assert isinstance(stream, openai.AsyncStream)
            text = "".join([e.delta async for e in stream if e.type == "response.output_text.delta"])
            async with client.responses.stream(model="gpt-4o-mini", input="Weather?") as helper:
                final = await helper.get_final_response()
            async with client.responses.stream(model="gpt-4o-mini", input="Weather?") as helper:
                async for _ in helper:
                    break
                assert len(exporter.get_finished_spans()) == 2
            assert len(exporter.get_finished_spans()) == 3  # ended by the helper's close, not at loop shutdown
            return text, final.output_text

    assert asyncio.run(main()) == (TEXT, TEXT)
    full, helper, closed = exporter.get_finished_spans()
    for span in (full, helper):
        assert span.attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0  # type: ignore[operator]
        assert span.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == OUTPUT_TOKENS
        assert output_parts(span) == [{"type": "text", "content": TEXT}]
    assert semconv.GEN_AI_USAGE_OUTPUT_TOKENS not in closed.attributes
    assert closed.status.status_code is StatusCode.UNSET


# --- errors -----------------------------------------------------------------------------------------------------


def test_api_error_is_recorded_and_propagates_unchanged(client: openai.OpenAI, exporter: InMemorySpanExporter) -> None:
    with pytest.raises(openai.RateLimitError) as excinfo:
        client.responses.create(model="error-429", input="Weather?")

    assert excinfo.value.status_code == 429
    assert "fake 429" in str(excinfo.value)
    frames = [f.name for f in traceback.extract_tb(excinfo.value.__traceback__)]
    assert "_request" in frames or "request" in frames  # raised by the library itself, traceback intact
    span = llm_span(exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[semconv.ERROR_TYPE] == "RateLimitError"
    (event,) = span.events
    assert event.name == "exception"
    assert event.attributes["exception.type"].endswith("RateLimitError")  # type: ignore[union-attr]


def test_async_api_error_propagates(fake: FakeProvider, exporter: InMemorySpanExporter) -> None:
    async def main() -> None:
        async with async_client(fake) as client:
            await client.responses.create(model="error-500", input="Weather?")

    with pytest.raises(openai.InternalServerError, match="fake 500"):
        asyncio.run(main())
    assert llm_span(exporter).attributes[semconv.ERROR_TYPE] == "InternalServerError"


def test_error_inside_a_stream_is_recorded_and_propagates(
    client: openai.OpenAI, exporter: InMemorySpanExporter
) -> None:
    stream = client.responses.create(model="gpt-stream-error", input="Weather?", stream=True)
    with pytest.raises(openai.APIError, match="fake failure mid-stream") as excinfo:
        for _ in stream:
            pass

    assert type(excinfo.value) is openai.APIError
    span = llm_span(exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[semconv.ERROR_TYPE] == "APIError"
    assert [e.name for e in span.events] == ["exception"]
    assert output_parts(span) == [{"type": "text", "content": TEXT_PIECES[0]}]


def test_async_error_inside_a_stream_is_recorded_and_propagates(
    fake: FakeProvider, exporter: InMemorySpanExporter
) -> None:
    async def main() -> None:
        async with async_client(fake) as client:
            async with client.responses.stream(model="gpt-stream-error", input="Weather?") as stream:
                async for _ in stream:
                    pass

    with pytest.raises(openai.APIError, match="fake failure mid-stream"):
        asyncio.run(main())
    span = llm_span(exporter)
    assert span.status.status_code is StatusCode.ERROR  # not ended early, error-free, by the response's close
    assert span.attributes[semconv.ERROR_TYPE] == "APIError"


@pytest.mark.parametrize("model", ["gpt-error-event", "gpt-failed"])
def test_a_failure_the_library_yields_marks_the_span(
    client: openai.OpenAI, exporter: InMemorySpanExporter, model: str
) -> None:
    events = list(client.responses.create(model=model, input="Weather?", stream=True))

    assert events[-1].type == ("error" if model == "gpt-error-event" else "response.failed")  # the user sees it as sent
    span = llm_span(exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description in ("fake failure mid-stream", "fake failure")
    assert span.attributes[semconv.ERROR_TYPE] == "server_error"
    assert output_parts(span) == [{"type": "text", "content": TEXT_PIECES[0]}]


# --- Plaudit's own rules ----------------------------------------------------------------------------------------


def test_capture_content_false_globally_and_per_call(fake: FakeProvider) -> None:
    def calls(client: openai.OpenAI) -> None:
        client.responses.create(model="gpt-tool", instructions="Be brief.", input="Weather?", tools=[TOOL])  # type: ignore[list-item]
        for _ in client.responses.create(model="gpt-4o-mini", instructions="Be brief.", input="Hi", stream=True):
            pass

    with capture_spans(capture_content=False) as exporter, sync_client(fake) as client:
        calls(client)
    with capture_spans() as per_call, sync_client(fake) as client:
        with plaudit.context(capture_content=False):
            calls(client)
        client.responses.create(model="gpt-4o-mini", instructions="Be brief.", input="Weather?")

    silent = [*exporter.get_finished_spans(), *per_call.get_finished_spans()[:2]]
    assert len(silent) == 4
    for span in silent:
        for key in CONTENT_KEYS:
            assert key not in span.attributes
        assert span.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == OUTPUT_TOKENS  # metadata is kept
        assert span.attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS]
    loud = per_call.get_finished_spans()[2].attributes
    assert semconv.GEN_AI_SYSTEM_INSTRUCTIONS in loud
    assert semconv.GEN_AI_OUTPUT_MESSAGES in loud


def test_redact_hook_applies_to_instructions_input_and_output(fake: FakeProvider) -> None:
    with (
        capture_spans(redact=lambda text: text.replace("Paris", "[CITY]")) as exporter,
        sync_client(fake) as client,
    ):
        client.responses.create(model="gpt-tool", instructions="Answer for Paris.", input="Weather in Paris?")
    attrs = llm_span(exporter).attributes
    for key in (semconv.GEN_AI_SYSTEM_INSTRUCTIONS, semconv.GEN_AI_INPUT_MESSAGES, semconv.GEN_AI_OUTPUT_MESSAGES):
        assert "Paris" not in attrs[key]  # type: ignore[operator]
        assert "[CITY]" in attrs[key]  # type: ignore[operator]


def test_span_nests_under_the_current_span(client: openai.OpenAI, exporter: InMemorySpanExporter) -> None:
    with plaudit.span("answer", variant="B"):
        client.responses.create(model="gpt-4o-mini", input="Weather?")

    span = llm_span(exporter)
    outer = next(s for s in exporter.get_finished_spans() if s.name == "answer")
    assert span.parent is not None and span.parent.span_id == outer.context.span_id
    assert span.attributes[semconv.VARIANT] == "B"


# --- instrumentation lifecycle and host safety ------------------------------------------------------------------


def test_instrument_is_idempotent_and_uninstrument_restores_the_library(
    client: openai.OpenAI, exporter: InMemorySpanExporter, openai_instrumented: plaudit.Instrumentation
) -> None:
    wrapped, wrapped_async = Responses.create, AsyncResponses.create
    assert plaudit.instrument_openai() is openai_instrumented
    assert Responses.create is wrapped  # not wrapped twice
    assert AsyncResponses.create is wrapped_async
    original = wrapped.__plaudit_original__  # type: ignore[attr-defined]
    original_async = wrapped_async.__plaudit_original__  # type: ignore[attr-defined]

    openai_instrumented.uninstrument()
    assert Responses.create is original
    assert AsyncResponses.create is original_async
    client.responses.create(model="gpt-4o-mini", input="Weather?")
    with client.responses.stream(model="gpt-4o-mini", input="Weather?") as stream:
        stream.get_final_response()
    assert exporter.get_finished_spans() == ()
    openai_instrumented.uninstrument()  # twice is fine
