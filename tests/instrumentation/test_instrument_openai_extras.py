"""``plaudit.instrument_openai()`` on embeddings and the structured-output ``parse`` helpers.

The real ``openai`` client talks to the local fake provider. To show that a result comes back as the very
object the library produced, the library's own methods are spied on before Plaudit wraps them.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import logging
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import openai
import pydantic
import pytest
from fake_provider import (
    EMBEDDING_DIMENSIONS,
    EMBEDDING_TOKENS,
    INPUT_TOKENS,
    OUTPUT_TOKENS,
    STRUCTURED,
    FakeProvider,
    embedding_vector,
)
from openai._resource import SyncAPIResource
from openai.resources.chat.completions import AsyncCompletions, Completions
from openai.resources.embeddings import AsyncEmbeddings, Embeddings
from openai.resources.responses import AsyncResponses, Responses
from openai.types.chat import ParsedChatCompletion
from openai.types.responses import ParsedResponse
from openai_helpers import ExplodingProcessor, async_client, content, llm_span
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.trace import SpanKind, StatusCode

import plaudit
from plaudit import semconv
from plaudit._internal import errors
from plaudit.testing import InMemorySpanExporter, capture_spans

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather in Paris?"}]
EMBED_MODEL = "text-embedding-3-small"
TRACED = [
    (Completions, "parse"),
    (AsyncCompletions, "parse"),
    (Responses, "parse"),
    (AsyncResponses, "parse"),
    (Embeddings, "create"),
    (AsyncEmbeddings, "create"),
]


class Weather(pydantic.BaseModel):
    city: str


class Spy:
    """Records what the library's own method returned, so a test can compare identities."""

    def __init__(self) -> None:
        self.results: list[Any] = []
        self.installed: dict[tuple[type, str], Callable[..., Any]] = {}

    def wrap(self, original: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(original):

            @functools.wraps(original)
            async def spy_async(*args: Any, **kwargs: Any) -> Any:
                result = await original(*args, **kwargs)
                self.results.append(result)
                return result

            return spy_async

        @functools.wraps(original)
        def spy_sync(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            self.results.append(result)
            return result

        return spy_sync


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Spy:
    spy = Spy()
    for cls, name in TRACED:
        spy.installed[cls, name] = spy.wrap(getattr(cls, name))
        monkeypatch.setattr(cls, name, spy.installed[cls, name])
    return spy


@pytest.fixture
def instrumented(spy: Spy) -> Iterator[plaudit.Instrumentation]:
    """Plaudit wraps the spied methods; uninstrumenting puts the spies back, then monkeypatch the library."""
    handle = plaudit.instrument_openai()
    try:
        yield handle
    finally:
        handle.uninstrument()


pytestmark = pytest.mark.usefixtures("instrumented")


@pytest.fixture
def client(fake: FakeProvider) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(api_key="test-key", base_url=fake.openai_url, max_retries=0) as c:
        yield c


def assert_error_recorded(span: ReadableSpan, error_type: str) -> None:
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[semconv.ERROR_TYPE] == error_type
    (event,) = span.events
    assert event.name == "exception"
    assert event.attributes["exception.type"].endswith(error_type)  # type: ignore[union-attr]


# --- embeddings -------------------------------------------------------------------------------------------------


def test_embedding_of_one_string_is_an_embeddings_client_span(
    client: openai.OpenAI, exporter: InMemorySpanExporter, fake: FakeProvider, spy: Spy
) -> None:
    result = client.embeddings.create(model=EMBED_MODEL, input="Weather in Paris?")

    assert result is spy.results[-1]  # the very object the library returned
    assert [d.embedding for d in result.data] == [embedding_vector(0)]  # base64 decoded by the library
    assert fake.requests[-1]["body"]["encoding_format"] == "base64"  # the client's own default on the wire
    span = llm_span(exporter)
    assert span.name == f"embeddings {EMBED_MODEL}"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    attrs = dict(span.attributes)  # type: ignore[arg-type]
    inputs = attrs.pop(semconv.GEN_AI_INPUT_MESSAGES)
    assert attrs == {
        semconv.GEN_AI_OPERATION_NAME: "embeddings",
        semconv.GEN_AI_PROVIDER_NAME: "openai",
        semconv.SPAN_KIND: "embedding",
        semconv.GEN_AI_REQUEST_MODEL: EMBED_MODEL,
        semconv.GEN_AI_RESPONSE_MODEL: f"{EMBED_MODEL}-2024-07-18",
        semconv.GEN_AI_USAGE_INPUT_TOKENS: EMBEDDING_TOKENS,
    }  # no encoding format or dimensions asked for, no output tokens, no vectors
    assert json.loads(inputs) == [{"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]}]


def test_embedding_of_a_list_records_each_text_formats_and_dimensions(
    client: openai.OpenAI, exporter: InMemorySpanExporter, spy: Spy
) -> None:
    result = client.embeddings.create(
        model=EMBED_MODEL, input=["Paris", "Lyon", "Nice"], dimensions=2, encoding_format="float"
    )

    assert result is spy.results[-1]
    assert [d.embedding for d in result.data] == [embedding_vector(i, 2) for i in range(3)]
    attrs = llm_span(exporter).attributes
    assert attrs[semconv.GEN_AI_REQUEST_ENCODING_FORMATS] == ("float",)
    assert attrs[semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] == 2
    assert attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 3 * EMBEDDING_TOKENS
    assert content(llm_span(exporter), semconv.GEN_AI_INPUT_MESSAGES) == [
        {"role": "user", "parts": [{"type": "text", "content": city} for city in ("Paris", "Lyon", "Nice")]}
    ]
    values = " ".join(str(value) for value in attrs.values())
    assert "0.125" not in values and "1.125" not in values  # the vectors are never recorded


def test_base64_asked_for_explicitly_is_returned_untouched(
    client: openai.OpenAI, exporter: InMemorySpanExporter, spy: Spy
) -> None:
    result = client.embeddings.create(model=EMBED_MODEL, input="Paris", encoding_format="base64")

    assert result is spy.results[-1]
    (item,) = result.data
    assert isinstance(item.embedding, str)  # the library leaves an explicit base64 answer encoded
    attrs = llm_span(exporter).attributes
    assert attrs[semconv.GEN_AI_REQUEST_ENCODING_FORMATS] == ("base64",)
    assert all(item.embedding not in str(value) for value in attrs.values())


@pytest.mark.parametrize(
    ("tokens", "parts"),
    [([1, 2, 3], [{"type": "tokens"}]), ([[1, 2], [3]], [{"type": "tokens"}, {"type": "tokens"}])],
)
def test_token_array_input_records_no_text(
    client: openai.OpenAI, exporter: InMemorySpanExporter, tokens: Any, parts: list[dict[str, str]]
) -> None:
    result = client.embeddings.create(model=EMBED_MODEL, input=tokens)

    assert len(result.data) == len(parts)
    assert content(llm_span(exporter), semconv.GEN_AI_INPUT_MESSAGES) == [{"role": "user", "parts": parts}]


def test_async_embedding(fake: FakeProvider, exporter: InMemorySpanExporter, spy: Spy) -> None:
    async def main() -> Any:
        async with async_client(fake) as client:
            return await client.embeddings.create(model=EMBED_MODEL, input=["Paris", "Lyon"])

    result = asyncio.run(main())
    assert result is spy.results[-1]
    assert [d.embedding for d in result.data] == [embedding_vector(0), embedding_vector(1)]
    span = llm_span(exporter)
    assert span.name == f"embeddings {EMBED_MODEL}"
    assert span.attributes[semconv.SPAN_KIND] == "embedding"
    assert span.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 2 * EMBEDDING_TOKENS
    assert len(content(span, semconv.GEN_AI_INPUT_MESSAGES)[0]["parts"]) == 2


def test_embedding_content_follows_capture_and_redact(fake: FakeProvider) -> None:
    with (
        capture_spans(capture_content=False) as off,
        openai.OpenAI(api_key="k", base_url=fake.openai_url, max_retries=0) as client,
    ):
        client.embeddings.create(model=EMBED_MODEL, input="Weather in Paris?")
    with capture_spans() as per_call, openai.OpenAI(api_key="k", base_url=fake.openai_url, max_retries=0) as client:
        with plaudit.context(capture_content=False):
            client.embeddings.create(model=EMBED_MODEL, input="Weather in Paris?")
    with (
        capture_spans(redact=lambda text: text.replace("Paris", "[CITY]")) as redacted,
        openai.OpenAI(api_key="k", base_url=fake.openai_url, max_retries=0) as client,
    ):
        client.embeddings.create(model=EMBED_MODEL, input="Weather in Paris?")

    for exporter in (off, per_call):
        span = llm_span(exporter)
        assert semconv.GEN_AI_INPUT_MESSAGES not in span.attributes
        assert span.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == EMBEDDING_TOKENS  # metadata is kept
    assert content(llm_span(redacted), semconv.GEN_AI_INPUT_MESSAGES)[0]["parts"] == [
        {"type": "text", "content": "Weather in [CITY]?"}
    ]


def test_embedding_api_error_is_recorded_and_propagates_unchanged(
    client: openai.OpenAI, exporter: InMemorySpanExporter, fake: FakeProvider
) -> None:
    with pytest.raises(openai.RateLimitError) as excinfo:
        client.embeddings.create(model="error-429", input="Paris")

    assert excinfo.value.status_code == 429
    assert "fake 429" in str(excinfo.value)
    frames = [f.name for f in traceback.extract_tb(excinfo.value.__traceback__)]
    assert "_request" in frames or "request" in frames  # raised by the library itself, traceback intact
    span = llm_span(exporter)
    assert span.name == "embeddings error-429"
    assert_error_recorded(span, "RateLimitError")

    async def main() -> None:
        async with async_client(fake) as aclient:
            await aclient.embeddings.create(model="error-400", input="Paris")

    with pytest.raises(openai.BadRequestError, match="fake 400"):
        asyncio.run(main())
    (_, async_span) = [s for s in exporter.get_finished_spans() if s.name.startswith("embeddings")]
    assert_error_recorded(async_span, "BadRequestError")


def test_embedding_inside_a_traced_function_is_its_child(client: openai.OpenAI, exporter: InMemorySpanExporter) -> None:
    @plaudit.trace(kind="retrieval")
    def search(query: str) -> int:
        return len(client.embeddings.create(model=EMBED_MODEL, input=query).data)

    assert search("Paris") == 1
    outer = next(s for s in exporter.get_finished_spans() if s.name.endswith("search"))
    span = llm_span(exporter)
    assert span.parent is not None and span.parent.span_id == outer.context.span_id


# --- structured output: parse -----------------------------------------------------------------------------------


def test_chat_parse_is_a_chat_span_and_returns_the_parsed_completion(
    client: openai.OpenAI, exporter: InMemorySpanExporter, fake: FakeProvider, spy: Spy
) -> None:
    result = client.chat.completions.parse(
        model="gpt-4o-mini", messages=MESSAGES, response_format=Weather, temperature=0.2
    )  # type: ignore[arg-type]

    assert result is spy.results[-1]
    assert isinstance(result, ParsedChatCompletion)
    assert result.choices[0].message.parsed == Weather(city="Paris")
    assert fake.requests[-1]["body"]["response_format"]["type"] == "json_schema"
    span = llm_span(exporter)  # one span: parse does not go through the (also wrapped) create
    assert span.name == "chat gpt-4o-mini"
    assert span.kind is SpanKind.CLIENT
    attrs = span.attributes
    assert attrs[semconv.GEN_AI_OPERATION_NAME] == "chat"
    assert attrs[semconv.SPAN_KIND] == "llm"
    assert attrs[semconv.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"
    assert attrs[semconv.GEN_AI_REQUEST_TEMPERATURE] == 0.2
    assert attrs[semconv.GEN_AI_RESPONSE_MODEL] == "gpt-4o-mini-2024-07-18"
    assert attrs[semconv.GEN_AI_RESPONSE_ID] == "chatcmpl-fake1"
    assert attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] == INPUT_TOKENS
    assert attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == OUTPUT_TOKENS
    assert attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert content(span, semconv.GEN_AI_INPUT_MESSAGES)[1]["parts"] == [
        {"type": "text", "content": "Weather in Paris?"}
    ]
    assert content(span, semconv.GEN_AI_OUTPUT_MESSAGES) == [
        {"role": "assistant", "parts": [{"type": "text", "content": STRUCTURED}], "finish_reason": "stop"}
    ]
    assert not any("json_schema" in str(value) or "properties" in str(value) for value in attrs.values())


def test_chat_parse_with_a_pydantic_tool(client: openai.OpenAI, exporter: InMemorySpanExporter, spy: Spy) -> None:
    tool = openai.pydantic_function_tool(Weather, name="get_weather")
    result = client.chat.completions.parse(model="gpt-tool", messages=MESSAGES, tools=[tool])  # type: ignore[arg-type]

    assert result is spy.results[-1]
    (call,) = result.choices[0].message.tool_calls or []
    assert call.function.parsed_arguments == Weather(city="Paris")  # type: ignore[union-attr]
    span = llm_span(exporter)
    assert span.attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_calls",)
    assert content(span, semconv.GEN_AI_TOOL_DEFINITIONS)[0]["function"]["name"] == "get_weather"


def test_async_chat_parse(fake: FakeProvider, exporter: InMemorySpanExporter, spy: Spy) -> None:
    async def main() -> Any:
        async with async_client(fake) as client:
            return await client.chat.completions.parse(model="gpt-4o-mini", messages=MESSAGES, response_format=Weather)  # type: ignore[arg-type]

    result = asyncio.run(main())
    assert result is spy.results[-1]
    assert result.choices[0].message.parsed == Weather(city="Paris")
    span = llm_span(exporter)
    assert span.name == "chat gpt-4o-mini"
    assert span.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == OUTPUT_TOKENS


def test_responses_parse_is_a_chat_span_and_returns_the_parsed_response(
    client: openai.OpenAI, exporter: InMemorySpanExporter, fake: FakeProvider, spy: Spy
) -> None:
    result = client.responses.parse(
        model="gpt-4o-mini", instructions="Be brief.", input="Weather in Paris?", text_format=Weather
    )

    assert result is spy.results[-1]
    assert isinstance(result, ParsedResponse)
    assert result.output_parsed == Weather(city="Paris")
    assert fake.requests[-1]["body"]["text"]["format"]["type"] == "json_schema"
    span = llm_span(exporter)
    assert span.name == "chat gpt-4o-mini"
    attrs = span.attributes
    assert attrs[semconv.GEN_AI_OPERATION_NAME] == "chat"
    assert attrs[semconv.GEN_AI_RESPONSE_ID] == "resp_fake1"
    assert attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] == INPUT_TOKENS
    assert attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert content(span, semconv.GEN_AI_SYSTEM_INSTRUCTIONS) == [{"type": "text", "content": "Be brief."}]
    assert content(span, semconv.GEN_AI_OUTPUT_MESSAGES) == [
        {"role": "assistant", "parts": [{"type": "text", "content": STRUCTURED}], "finish_reason": "stop"}
    ]
    assert not any("json_schema" in str(value) or "properties" in str(value) for value in attrs.values())


def test_async_responses_parse(fake: FakeProvider, exporter: InMemorySpanExporter, spy: Spy) -> None:
    async def main() -> Any:
        async with async_client(fake) as client:
            return await client.responses.parse(model="gpt-4o-mini", input="Weather in Paris?", text_format=Weather)

    result = asyncio.run(main())
    assert result is spy.results[-1]
    assert result.output_parsed == Weather(city="Paris")
    assert llm_span(exporter).attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)


def test_parse_api_error_is_recorded_and_propagates_unchanged(
    client: openai.OpenAI, exporter: InMemorySpanExporter
) -> None:
    with pytest.raises(openai.RateLimitError, match="fake 429"):
        client.chat.completions.parse(model="error-429", messages=MESSAGES, response_format=Weather)  # type: ignore[arg-type]
    with pytest.raises(openai.RateLimitError, match="fake 429"):
        client.responses.parse(model="error-429", input="Weather?", text_format=Weather)
    spans = [s for s in exporter.get_finished_spans() if s.name == "chat error-429"]
    assert len(spans) == 2
    for span in spans:
        assert_error_recorded(span, "RateLimitError")


# --- lifecycle and host safety ----------------------------------------------------------------------------------


def test_instrument_is_idempotent_and_uninstrument_restores_every_method(
    client: openai.OpenAI, exporter: InMemorySpanExporter, instrumented: plaudit.Instrumentation, spy: Spy
) -> None:
    wrapped = {(cls, name): getattr(cls, name) for cls, name in TRACED}
    assert plaudit.instrument_openai() is instrumented
    for (cls, name), method in wrapped.items():
        assert getattr(cls, name) is method  # not wrapped twice
        assert method.__plaudit_original__ is spy.installed[cls, name]  # type: ignore[attr-defined]

    instrumented.uninstrument()
    for cls, name in TRACED:
        assert getattr(cls, name) is spy.installed[cls, name]
    client.embeddings.create(model=EMBED_MODEL, input="Paris")
    client.chat.completions.parse(model="gpt-4o-mini", messages=MESSAGES, response_format=Weather)  # type: ignore[arg-type]
    client.responses.parse(model="gpt-4o-mini", input="Weather?", text_format=Weather)
    assert exporter.get_finished_spans() == ()
    assert len(spy.results) == 3  # the library's methods still ran


def test_missing_or_inherited_methods_of_other_openai_layouts(
    client: openai.OpenAI,
    exporter: InMemorySpanExporter,
    instrumented: plaudit.Instrumentation,
    spy: Spy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An older release without ``responses.parse`` is instrumented without it; a method a resource inherits
    is wrapped on the resource and removed again, so the base class is never touched."""
    instrumented.uninstrument()
    monkeypatch.delattr(Responses, "parse")
    monkeypatch.delattr(Embeddings, "create")
    monkeypatch.setattr(SyncAPIResource, "create", spy.installed[Embeddings, "create"], raising=False)

    with plaudit.instrument_openai() as handle:
        assert not hasattr(Responses, "parse")
        assert "create" in Embeddings.__dict__
        client.embeddings.create(model=EMBED_MODEL, input="Paris")
        client.chat.completions.parse(model="gpt-4o-mini", messages=MESSAGES, response_format=Weather)  # type: ignore[arg-type]
    assert not handle.active
    assert not hasattr(Responses, "parse")
    assert "create" not in Embeddings.__dict__
    assert SyncAPIResource.create is spy.installed[Embeddings, "create"]  # type: ignore[attr-defined]
    assert sorted(s.name for s in exporter.get_finished_spans()) == ["chat gpt-4o-mini", f"embeddings {EMBED_MODEL}"]


@pytest.mark.parametrize("where", ["start", "end"])
def test_a_plaudit_failure_leaves_results_and_user_errors_unchanged(
    fake: FakeProvider, where: str, spy: Spy, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(errors, "RAISE_INTERNAL_ERRORS", False)
    provider = TracerProvider()
    provider.add_span_processor(ExplodingProcessor(where))
    plaudit.configure(tracer_provider=provider, _span_exporter=InMemorySpanExporter(), _simple_processor=True)
    try:
        with openai.OpenAI(api_key="k", base_url=fake.openai_url, max_retries=0) as client:
            vectors = client.embeddings.create(model=EMBED_MODEL, input="Paris")
            parsed = client.chat.completions.parse(model="gpt-4o-mini", messages=MESSAGES, response_format=Weather)  # type: ignore[arg-type]
            answer = client.responses.parse(model="gpt-4o-mini", input="Weather?", text_format=Weather)
            with pytest.raises(openai.RateLimitError, match="fake 429"):
                client.embeddings.create(model="error-429", input="Paris")
            with pytest.raises(openai.RateLimitError, match="fake 429"):
                client.chat.completions.parse(model="error-429", messages=MESSAGES, response_format=Weather)  # type: ignore[arg-type]
    finally:
        plaudit.shutdown()
        provider.shutdown()
    assert [id(r) for r in spy.results] == [id(vectors), id(parsed), id(answer)]  # the same objects
    assert vectors.data[0].embedding == embedding_vector(0)
    assert len(vectors.data[0].embedding) == EMBEDDING_DIMENSIONS
    assert parsed.choices[0].message.parsed == Weather(city="Paris")
    assert answer.output_parsed == Weather(city="Paris")
    assert any(r.name == "plaudit" and r.levelno == logging.ERROR for r in caplog.records)
