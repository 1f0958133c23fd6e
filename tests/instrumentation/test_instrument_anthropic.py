"""``plaudit.instrument_anthropic()``: the real ``anthropic`` client (its own tracing) against the fake provider."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest
from fake_provider import INPUT_TOKENS, OUTPUT_TOKENS, TEXT, FakeProvider
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.trace import SpanKind, StatusCode

import plaudit
from plaudit import semconv
from plaudit._internal import errors
from plaudit._internal.instrumentations.anthropic import SCOPE
from plaudit.testing import InMemorySpanExporter, capture_spans

pytestmark = pytest.mark.usefixtures("anthropic_instrumented")

MESSAGES: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]


@pytest.fixture
def client(fake: FakeProvider) -> Iterator[anthropic.Anthropic]:
    # Created after instrument_anthropic(), like an app that instruments at start-up.
    with anthropic.Anthropic(api_key="test-key", base_url=fake.anthropic_url, max_retries=0) as c:
        yield c


def llm_span(exporter: InMemorySpanExporter) -> ReadableSpan:
    (span,) = [s for s in exporter.get_finished_spans() if s.instrumentation_scope.name == SCOPE]  # type: ignore[union-attr]
    return span


def test_sync_call_span_has_model_tokens_finish_reasons_and_messages(
    client: anthropic.Anthropic, exporter: InMemorySpanExporter
) -> None:
    message = client.messages.create(model="claude-x", max_tokens=64, messages=MESSAGES)

    assert message.content[0].text == TEXT  # type: ignore[union-attr]
    span = llm_span(exporter)
    assert span.kind is SpanKind.CLIENT
    attrs = span.attributes
    assert attrs[semconv.GEN_AI_OPERATION_NAME] == "chat"
    assert attrs[semconv.GEN_AI_PROVIDER_NAME] == "anthropic"
    assert attrs[semconv.GEN_AI_REQUEST_MODEL] == "claude-x"
    assert attrs[semconv.GEN_AI_RESPONSE_MODEL] == "claude-x-2024-07-18"
    assert attrs[semconv.GEN_AI_REQUEST_MAX_TOKENS] == 64
    assert attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] == INPUT_TOKENS
    assert attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == OUTPUT_TOKENS
    assert attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("end_turn",)
    assert json.loads(attrs[semconv.GEN_AI_INPUT_MESSAGES])[0]["parts"][0]["content"] == "Weather in Paris?"  # type: ignore[arg-type]
    assert json.loads(attrs[semconv.GEN_AI_OUTPUT_MESSAGES])[0]["parts"] == [{"type": "text", "content": TEXT}]  # type: ignore[arg-type]


def test_stream_records_ttft_tokens_and_tool_calls(client: anthropic.Anthropic, exporter: InMemorySpanExporter) -> None:
    with client.messages.stream(model="claude-tool", max_tokens=64, messages=MESSAGES) as stream:
        assert exporter.get_finished_spans() == ()
        final = stream.get_final_message()

    assert final.content[0].name == "get_weather"  # type: ignore[union-attr]
    attrs = llm_span(exporter).attributes
    assert attrs[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0  # type: ignore[operator]
    assert attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == OUTPUT_TOKENS
    assert attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_use",)
    (out,) = json.loads(attrs[semconv.GEN_AI_OUTPUT_MESSAGES])  # type: ignore[arg-type]
    assert out["parts"] == [
        {"type": "tool_call", "id": "toolu_fake2", "name": "get_weather", "arguments": {"city": "Paris"}}
    ]


def test_async_raw_stream(fake: FakeProvider, exporter: InMemorySpanExporter) -> None:
    async def main() -> list[str]:
        async with anthropic.AsyncAnthropic(api_key="k", base_url=fake.anthropic_url, max_retries=0) as client:
            stream = await client.messages.create(model="claude-x", max_tokens=64, messages=MESSAGES, stream=True)
            return [event.type async for event in stream]

    events = asyncio.run(main())
    assert events[0] == "message_start" and events[-1] == "message_stop"
    attrs = llm_span(exporter).attributes
    assert attrs[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0  # type: ignore[operator]
    assert attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] == INPUT_TOKENS


def test_errors_are_recorded_and_propagate(client: anthropic.Anthropic, exporter: InMemorySpanExporter) -> None:
    with pytest.raises(anthropic.RateLimitError, match="fake 429"):
        client.messages.create(model="error-429", max_tokens=64, messages=MESSAGES)
    span = llm_span(exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[semconv.ERROR_TYPE] == "rate_limit_error"


def test_plaudit_attributes_and_content_rules_apply(fake: FakeProvider, anthropic_instrumented: Any) -> None:
    with (
        capture_spans(redact=lambda text: text.replace("Paris", "[CITY]")) as exporter,
        anthropic.Anthropic(api_key="k", base_url=fake.anthropic_url, max_retries=0) as client,
    ):
        with plaudit.span("answer", prompt=plaudit.Prompt("weather", "v1", "t"), variant="A"):
            with plaudit.context(user_id="u-9"):
                client.messages.create(model="claude-tool", max_tokens=64, messages=MESSAGES)
        with plaudit.context(capture_content=False):
            client.messages.create(model="claude-x", max_tokens=64, messages=MESSAGES)
    first, second = [s for s in exporter.get_finished_spans() if s.instrumentation_scope.name == SCOPE]  # type: ignore[union-attr]
    assert first.attributes[semconv.PROMPT_NAME] == "weather"
    assert first.attributes[semconv.VARIANT] == "A"
    assert first.attributes[semconv.USER_ID] == "u-9"
    assert "Paris" not in first.attributes[semconv.GEN_AI_INPUT_MESSAGES]  # type: ignore[operator]
    assert "[CITY]" in first.attributes[semconv.GEN_AI_OUTPUT_MESSAGES]  # type: ignore[operator]
    assert semconv.GEN_AI_INPUT_MESSAGES not in second.attributes
    assert semconv.GEN_AI_OUTPUT_MESSAGES not in second.attributes
    assert second.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == OUTPUT_TOKENS


def test_global_capture_off_drops_the_librarys_content(fake: FakeProvider) -> None:
    with (
        capture_spans(capture_content=False) as exporter,
        anthropic.Anthropic(api_key="k", base_url=fake.anthropic_url, max_retries=0) as client,
    ):
        client.messages.create(model="claude-x", max_tokens=64, messages=MESSAGES)
    attrs = llm_span(exporter).attributes
    assert not [key for key in attrs if "messages" in key]
    assert attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("end_turn",)


def test_idempotent_and_uninstrument(fake: FakeProvider, anthropic_instrumented: plaudit.Instrumentation) -> None:
    assert plaudit.instrument_anthropic() is anthropic_instrumented
    anthropic_instrumented.uninstrument()
    with capture_spans(), anthropic.Anthropic(api_key="k", base_url=fake.anthropic_url) as client:
        assert client.open_telemetry["traces"]["content_mode"] == "metadata_only"  # the library's own default again
        assert "tracer_provider" not in client.open_telemetry


class ExplodingProcessor(SpanProcessor):
    def on_start(self, span: Span, parent_context: object = None) -> None:
        raise RuntimeError("plaudit-side failure")

    def on_end(self, span: ReadableSpan) -> None:
        raise RuntimeError("plaudit-side failure")


def test_a_plaudit_failure_leaves_results_and_user_errors_unchanged(
    fake: FakeProvider, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(errors, "RAISE_INTERNAL_ERRORS", False)
    provider = TracerProvider()
    plaudit.configure(tracer_provider=provider, _span_exporter=InMemorySpanExporter(), _simple_processor=True)
    provider.add_span_processor(ExplodingProcessor())
    caplog.set_level(logging.DEBUG)
    try:
        with anthropic.Anthropic(api_key="k", base_url=fake.anthropic_url, max_retries=0) as client:
            message = client.messages.create(model="claude-x", max_tokens=64, messages=MESSAGES)
            with client.messages.stream(model="claude-x", max_tokens=64, messages=MESSAGES) as stream:
                streamed = stream.get_final_text()
            with pytest.raises(anthropic.RateLimitError, match="fake 429"):
                client.messages.create(model="error-429", max_tokens=64, messages=MESSAGES)
    finally:
        plaudit.shutdown()
        provider.shutdown()
    assert message.content[0].text == TEXT  # type: ignore[union-attr]
    assert streamed == TEXT
