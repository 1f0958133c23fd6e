"""``plaudit.instrument_openai()``: the real ``openai`` client against the local fake provider."""

from __future__ import annotations

import asyncio
import json
import logging
import traceback
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from fake_provider import INPUT_TOKENS, OUTPUT_TOKENS, TEXT, FakeProvider
from openai.resources.chat.completions import AsyncCompletions, Completions
from openai_helpers import ExplodingProcessor
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.trace import SpanKind, StatusCode

import plaudit
from plaudit import semconv
from plaudit._internal import errors
from plaudit.testing import InMemorySpanExporter

pytestmark = pytest.mark.usefixtures("openai_instrumented")

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather in Paris?"}]


@pytest.fixture
def client(fake: FakeProvider) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(api_key="test-key", base_url=fake.openai_url, max_retries=0) as c:
        yield c


def llm_span(exporter: InMemorySpanExporter) -> ReadableSpan:
    (span,) = [s for s in exporter.get_finished_spans() if s.attributes.get(semconv.GEN_AI_PROVIDER_NAME) == "openai"]
    return span


def messages(span: ReadableSpan, key: str) -> Any:
    return json.loads(span.attributes[key])  # type: ignore[arg-type]


# --- plain calls ------------------------------------------------------------------------------------------------


def test_sync_call_is_a_genai_client_span(client: openai.OpenAI, exporter: InMemorySpanExporter) -> None:
    result = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, temperature=0.2, max_tokens=50)

    assert isinstance(result, openai.types.chat.ChatCompletion)
    assert result.choices[0].message.content == TEXT
    span = llm_span(exporter)
    assert span.name == "chat gpt-4o-mini"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    attrs = span.attributes
    assert attrs[semconv.GEN_AI_OPERATION_NAME] == "chat"
    assert attrs[semconv.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"
    assert attrs[semconv.GEN_AI_RESPONSE_MODEL] == "gpt-4o-mini-2024-07-18"
    assert attrs[semconv.GEN_AI_REQUEST_TEMPERATURE] == 0.2
    assert attrs[semconv.GEN_AI_REQUEST_MAX_TOKENS] == 50
    assert attrs[semconv.GEN_AI_RESPONSE_ID] == "chatcmpl-fake1"
    assert attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] == INPUT_TOKENS
    assert attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == OUTPUT_TOKENS
    assert attrs[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 2
    assert attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert messages(span, semconv.GEN_AI_INPUT_MESSAGES) == [
        {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
        {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]},
    ]
    assert messages(span, semconv.GEN_AI_OUTPUT_MESSAGES) == [
        {"role": "assistant", "parts": [{"type": "text", "content": TEXT}], "finish_reason": "stop"}
    ]


def test_tool_calls_are_recorded(client: openai.OpenAI, exporter: InMemorySpanExporter) -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    result = client.chat.completions.create(model="gpt-tool", messages=MESSAGES, tools=tools)  # type: ignore[arg-type]

    assert result.choices[0].message.tool_calls[0].function.name == "get_weather"  # type: ignore[index, union-attr]
    span = llm_span(exporter)
    assert span.attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_calls",)
    (out,) = messages(span, semconv.GEN_AI_OUTPUT_MESSAGES)
    assert out["parts"] == [
        {"type": "tool_call", "id": "call_fake1", "name": "get_weather", "arguments": {"city": "Paris"}}
    ]
    assert messages(span, semconv.GEN_AI_TOOL_DEFINITIONS)[0]["function"]["name"] == "get_weather"


def test_async_call(fake: FakeProvider, exporter: InMemorySpanExporter) -> None:
    async def main() -> str | None:
        async with openai.AsyncOpenAI(api_key="k", base_url=fake.openai_url, max_retries=0) as client:
            result = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
            return result.choices[0].message.content

    assert asyncio.run(main()) == TEXT
    span = llm_span(exporter)
    assert span.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == OUTPUT_TOKENS
    assert span.attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)


# --- streaming --------------------------------------------------------------------------------------------------


def test_stream_span_ends_when_consumed_with_ttft_and_usage_from_the_final_chunk(
    client: openai.OpenAI, exporter: InMemorySpanExporter, fake: FakeProvider
) -> None:
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    assert isinstance(stream, openai.Stream)  # the very object the library returned
    assert exporter.get_finished_spans() == ()  # still open while unread

    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)

    assert text == TEXT
    span = llm_span(exporter)
    attrs = span.attributes
    ttft = attrs[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK]
    assert isinstance(ttft, float)
    assert fake.first_chunk_delay * 0.8 <= ttft <= (span.end_time - span.start_time) / 1e9  # type: ignore[operator]
    assert attrs[semconv.GEN_AI_REQUEST_STREAM] is True
    assert attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] == INPUT_TOKENS
    assert attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == OUTPUT_TOKENS
    assert attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert messages(span, semconv.GEN_AI_OUTPUT_MESSAGES)[0]["parts"] == [{"type": "text", "content": TEXT}]


def test_streamed_tool_call_arguments_are_assembled(client: openai.OpenAI, exporter: InMemorySpanExporter) -> None:
    for _ in client.chat.completions.create(model="gpt-tool", messages=MESSAGES, stream=True):
        pass
    (out,) = messages(llm_span(exporter), semconv.GEN_AI_OUTPUT_MESSAGES)
    assert out == {
        "role": "assistant",
        "parts": [{"type": "tool_call", "id": "call_fake2", "name": "get_weather", "arguments": {"city": "Paris"}}],
        "finish_reason": "tool_calls",
    }


def test_stream_closed_early_ends_the_span(client: openai.OpenAI, exporter: InMemorySpanExporter) -> None:
    with client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True) as stream:
        first = next(iter(stream))
        assert exporter.get_finished_spans() == ()
    assert first.choices[0].delta.role == "assistant"
    span = llm_span(exporter)
    assert span.status.status_code is StatusCode.UNSET
    assert semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK in span.attributes


def test_stream_helper_is_traced(client: openai.OpenAI, exporter: InMemorySpanExporter) -> None:
    with client.chat.completions.stream(model="gpt-4o-mini", messages=MESSAGES) as stream:  # type: ignore[arg-type]
        final = stream.get_final_completion()
    assert final.choices[0].message.content == TEXT
    assert llm_span(exporter).attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)


def test_async_stream(fake: FakeProvider, exporter: InMemorySpanExporter) -> None:
    async def main() -> str:
        async with openai.AsyncOpenAI(api_key="k", base_url=fake.openai_url, max_retries=0) as client:
            stream = await client.chat.completions.create(
                model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
            )
            assert isinstance(stream, openai.AsyncStream)
            return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

    assert asyncio.run(main()) == TEXT
    attrs = llm_span(exporter).attributes
    assert attrs[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0  # type: ignore[operator]
    assert attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == OUTPUT_TOKENS


# --- errors -----------------------------------------------------------------------------------------------------


def test_api_error_is_recorded_and_propagates_unchanged(client: openai.OpenAI, exporter: InMemorySpanExporter) -> None:
    with pytest.raises(openai.RateLimitError) as excinfo:
        client.chat.completions.create(model="error-429", messages=MESSAGES)

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


def test_error_inside_a_stream_is_recorded_and_propagates(
    client: openai.OpenAI, exporter: InMemorySpanExporter
) -> None:
    stream = client.chat.completions.create(model="gpt-stream-error", messages=MESSAGES, stream=True)
    with pytest.raises(openai.APIError, match="fake failure mid-stream"):
        for _ in stream:
            pass
    span = llm_span(exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert messages(span, semconv.GEN_AI_OUTPUT_MESSAGES)[0]["parts"] == [{"type": "text", "content": "Hello"}]


# --- Plaudit's own attributes and rules -------------------------------------------------------------------------


def test_prompt_config_variant_and_user_land_on_the_client_span(
    client: openai.OpenAI, exporter: InMemorySpanExporter
) -> None:
    prompt = plaudit.Prompt("weather", "v3", "Weather in {city}?")

    @plaudit.trace(prompt=prompt, config={"temperature": 0.2}, variant="B")
    def answer(city: str) -> str | None:
        content = prompt.format(city=city)
        result = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": content}])
        return result.choices[0].message.content

    with plaudit.context(user_id="u-1", session_id="s-1"):
        assert answer("Paris") == TEXT

    span = llm_span(exporter)
    outer = next(s for s in exporter.get_finished_spans() if s.name.endswith("answer"))
    assert span.parent is not None and span.parent.span_id == outer.context.span_id
    attrs = span.attributes
    assert attrs[semconv.PROMPT_NAME] == "weather"
    assert attrs[semconv.PROMPT_VERSION] == "v3"
    assert attrs[semconv.PROMPT_TEMPLATE_HASH] == prompt.template_hash
    assert attrs[semconv.CONFIG_HASH] == outer.attributes[semconv.CONFIG_HASH]
    assert attrs[semconv.CONFIG_PREFIX + "temperature"] == 0.2
    assert attrs[semconv.VARIANT] == "B"
    assert attrs[semconv.USER_ID] == "u-1"
    assert attrs[semconv.SESSION_ID] == "s-1"
    assert len(attrs[semconv.FINGERPRINT]) == 16  # type: ignore[arg-type]


def test_capture_content_false_globally_and_per_call(fake: FakeProvider) -> None:
    from plaudit.testing import capture_spans

    with (
        capture_spans(capture_content=False) as exporter,
        openai.OpenAI(api_key="k", base_url=fake.openai_url, max_retries=0) as client,
    ):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        for _ in client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        ):
            pass
    with capture_spans() as per_call, openai.OpenAI(api_key="k", base_url=fake.openai_url, max_retries=0) as client:
        with plaudit.context(capture_content=False):
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    silent = [*exporter.get_finished_spans(), per_call.get_finished_spans()[0]]
    for span in silent:
        assert semconv.GEN_AI_INPUT_MESSAGES not in span.attributes
        assert semconv.GEN_AI_OUTPUT_MESSAGES not in span.attributes
        assert span.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == OUTPUT_TOKENS  # metadata is kept
    assert semconv.GEN_AI_OUTPUT_MESSAGES in per_call.get_finished_spans()[1].attributes


def test_redact_hook_applies_to_messages(fake: FakeProvider) -> None:
    from plaudit.testing import capture_spans

    with (
        capture_spans(redact=lambda text: text.replace("Paris", "[CITY]")) as exporter,
        openai.OpenAI(api_key="k", base_url=fake.openai_url, max_retries=0) as client,
    ):
        client.chat.completions.create(model="gpt-tool", messages=MESSAGES)
    span = llm_span(exporter)
    assert "Paris" not in span.attributes[semconv.GEN_AI_INPUT_MESSAGES]  # type: ignore[operator]
    assert "[CITY]" in span.attributes[semconv.GEN_AI_OUTPUT_MESSAGES]  # type: ignore[operator]


# --- instrumentation lifecycle and host safety ------------------------------------------------------------------


def test_instrument_is_idempotent_and_uninstrument_restores_the_library(
    client: openai.OpenAI, exporter: InMemorySpanExporter, openai_instrumented: plaudit.Instrumentation
) -> None:
    wrapped = Completions.create
    assert plaudit.instrument_openai() is openai_instrumented
    assert plaudit.instrument("openai").handles == [openai_instrumented]
    assert Completions.create is wrapped  # not wrapped twice
    original = wrapped.__plaudit_original__  # type: ignore[attr-defined]

    openai_instrumented.uninstrument()
    assert Completions.create is original
    assert AsyncCompletions.create is not wrapped
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert exporter.get_finished_spans() == ()
    openai_instrumented.uninstrument()  # twice is fine


@pytest.mark.parametrize("where", ["start", "end"])
def test_a_plaudit_failure_leaves_results_and_user_errors_unchanged(
    fake: FakeProvider, where: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(errors, "RAISE_INTERNAL_ERRORS", False)
    provider = TracerProvider()
    provider.add_span_processor(ExplodingProcessor(where))
    plaudit.configure(tracer_provider=provider, _span_exporter=InMemorySpanExporter(), _simple_processor=True)
    try:
        with openai.OpenAI(api_key="k", base_url=fake.openai_url, max_retries=0) as client:
            result = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
            streamed = [c for c in client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)]
            with pytest.raises(openai.RateLimitError, match="fake 429"):
                client.chat.completions.create(model="error-429", messages=MESSAGES)
            answer = client.responses.create(model="gpt-4o-mini", input="Weather?")
            events = list(client.responses.create(model="gpt-4o-mini", input="Weather?", stream=True))
            with pytest.raises(openai.RateLimitError, match="fake 429"):
                client.responses.create(model="error-429", input="Weather?")
    finally:
        plaudit.shutdown()
        provider.shutdown()
    assert isinstance(result, openai.types.chat.ChatCompletion)
    assert result.choices[0].message.content == TEXT
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == TEXT
    assert isinstance(answer, openai.types.responses.Response)  # the Responses API, likewise
    assert answer.output_text == TEXT
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == TEXT
    assert any(r.name == "plaudit" and r.levelno == logging.ERROR for r in caplog.records)
