"""``plaudit.context(...)``: user, session, tags and metadata on every span opened inside it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace as trace_api
from opentelemetry.sdk.trace import TracerProvider

import plaudit
from plaudit import semconv
from plaudit.testing import InMemorySpanExporter, capture_spans


@plaudit.trace
def step(name: str) -> str:
    with plaudit.span(f"inner-{name}"):
        return name


def attrs_by_name(exporter: InMemorySpanExporter) -> dict[str, dict[str, Any]]:
    return {s.name.rsplit(".", 1)[-1]: dict(s.attributes) for s in exporter.get_finished_spans()}


def test_context_applies_to_traced_and_nested_spans(exporter: InMemorySpanExporter) -> None:
    with plaudit.context(user_id="u1", session_id="s1", tags=["beta", "eu"], metadata={"plan": "pro", "seats": 3}):
        step("a")
    step("b")

    inside_a, step_a, inside_b, step_b = (dict(s.attributes) for s in exporter.get_finished_spans())
    for attrs in (inside_a, step_a):
        assert attrs[semconv.USER_ID] == "u1"
        assert attrs[semconv.SESSION_ID] == "s1"
        assert attrs[semconv.TAGS] == ("beta", "eu")
        assert attrs["plaudit.metadata.plan"] == "pro"
        assert attrs["plaudit.metadata.seats"] == 3
    for attrs in (inside_b, step_b):  # the call after the block gets nothing
        assert semconv.USER_ID not in attrs
        assert not any(key.startswith(("plaudit.metadata.", "plaudit.tags", "session.")) for key in attrs)


def test_nested_contexts_merge_and_override(exporter: InMemorySpanExporter) -> None:
    with plaudit.context(user_id="outer-user", tags=["a"], metadata={"region": "eu", "tier": "free"}):
        with plaudit.context(session_id="s2", tags=["b", "a"], metadata={"tier": "paid"}):
            with plaudit.span("deep"):
                pass
            with plaudit.context(user_id="inner-user"), plaudit.span("override"):
                pass
        with plaudit.span("after-inner"):
            pass

    spans = attrs_by_name(exporter)
    deep = spans["deep"]
    assert deep[semconv.USER_ID] == "outer-user"
    assert deep[semconv.SESSION_ID] == "s2"
    assert deep[semconv.TAGS] == ("a", "b")  # union, first-seen order, no duplicates
    assert deep["plaudit.metadata.region"] == "eu"
    assert deep["plaudit.metadata.tier"] == "paid"
    assert spans["override"][semconv.USER_ID] == "inner-user"
    after = spans["after-inner"]
    assert after[semconv.USER_ID] == "outer-user"
    assert semconv.SESSION_ID not in after
    assert after[semconv.TAGS] == ("a",)
    assert after["plaudit.metadata.tier"] == "free"


def test_context_reaches_async_tasks_and_generators(exporter: InMemorySpanExporter) -> None:
    @plaudit.trace
    async def child(i: int) -> int:
        await asyncio.sleep(0)
        return i

    @plaudit.trace
    async def tokens() -> Any:
        yield "t"

    async def main() -> asyncio.Task[int]:
        with plaudit.context(user_id="async-user", session_id="chat-9"):
            await asyncio.gather(child(1), child(2))
            _ = [t async for t in tokens()]
            late = asyncio.create_task(child(3))
        return late

    async def run() -> int:
        late = await main()
        return await late  # runs after the block closed, with the context it was created in

    assert asyncio.run(run()) == 3
    spans = exporter.get_finished_spans()
    assert len(spans) == 4
    for span in spans:
        assert span.attributes[semconv.USER_ID] == "async-user", span.name
        assert span.attributes[semconv.SESSION_ID] == "chat-9", span.name


def test_sync_generator_spans_get_the_context_of_their_first_step(exporter: InMemorySpanExporter) -> None:
    @plaudit.trace
    def words() -> Iterator[str]:
        yield "w"

    with plaudit.context(user_id="gen-user"):
        assert list(words()) == ["w"]
    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.USER_ID] == "gen-user"


def test_non_scalar_metadata_is_stringified(exporter: InMemorySpanExporter) -> None:
    with plaudit.context(metadata={"flags": ["x", "y"], "ratio": 0.5, "on": True}), plaudit.span("m"):
        pass
    (span,) = exporter.get_finished_spans()
    assert span.attributes["plaudit.metadata.flags"] == "['x', 'y']"
    assert span.attributes["plaudit.metadata.ratio"] == 0.5
    assert span.attributes["plaudit.metadata.on"] is True


def test_context_without_spans_is_harmless(exporter: InMemorySpanExporter) -> None:
    with plaudit.context(user_id="u"):
        assert plaudit.current_ref() is None
    assert exporter.get_finished_spans() == ()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"user_id": 42},
        {"session_id": ["s"]},
        {"tags": "single-string"},
        {"tags": ["ok", 3]},
        {"metadata": [("k", "v")]},
    ],
)
def test_wrong_argument_types_raise(kwargs: dict[str, Any]) -> None:
    with pytest.raises(TypeError), plaudit.context(**kwargs):
        pass


def test_context_with_positional_arguments_is_refused() -> None:
    with pytest.raises(TypeError), plaudit.context("u1"):  # type: ignore[misc]
        pass


def test_key_attributes_outlive_the_attribute_count_limit(exporter: InMemorySpanExporter) -> None:
    """OTel drops the oldest attributes past its limit (128); the grouping keys set first are put back on export,
    and only those: other early attributes stay dropped."""
    prompt = plaudit.Prompt("answer", "v7", "Q: {q}")
    with plaudit.context(user_id="u1", session_id="s1"):
        with plaudit.span("chat", kind="llm", model="m-big", prompt=prompt, variant="A", attributes={"early": 1}) as s:
            for i in range(400):
                s.set_attribute(f"llm.input_messages.{i}.message.content", "x")
        third_party = trace_api.get_tracer("elsewhere").start_span("db", attributes={"db.early": "x"})
        for i in range(400):
            third_party.set_attribute(f"db.row.{i}", i)
        third_party.end()
    chat, db = exporter.get_finished_spans()
    attrs, db_attrs = dict(chat.attributes or {}), dict(db.attributes or {})
    assert attrs[semconv.USER_ID] == "u1" and attrs[semconv.SESSION_ID] == "s1"
    assert (attrs[semconv.GEN_AI_REQUEST_MODEL], attrs[semconv.VARIANT], attrs[semconv.PROMPT_VERSION]) == (
        "m-big",
        "A",
        "v7",
    )
    assert attrs[semconv.SPAN_KIND] == "llm" and semconv.FINGERPRINT in attrs
    assert "early" not in attrs and attrs["llm.input_messages.399.message.content"] == "x"
    assert (db_attrs[semconv.USER_ID], db_attrs[semconv.SESSION_ID]) == ("u1", "s1")
    assert "db.early" not in db_attrs and db_attrs["db.row.399"] == 399


@plaudit.trace(variant="v2")
def with_static(question: str) -> str:
    with plaudit.span("inner"):
        trace_api.get_tracer("elsewhere").start_span("db").end()
    return question


@pytest.mark.parametrize("own_provider", [True, False], ids=["own-provider", "host-provider"])
def test_context_reaches_a_traced_call_with_static_attributes_and_everything_inside(own_provider: bool) -> None:
    """Plaudit's own provider takes the context attributes among a kept call's start attributes; a host provider
    has them stamped by the processor; either way every span inside gets them too."""
    settings: dict[str, Any] = {} if own_provider else {"tracer_provider": TracerProvider()}
    with capture_spans(**settings) as exporter:
        with plaudit.context(user_id="u1", tags=["beta"], metadata={"plan": "pro"}):
            with_static("q")
        with_static("after")
        spans = exporter.get_finished_spans()
    db, inner, call, *after = (dict(s.attributes or {}) for s in spans)
    for attrs in (db, inner, call):
        assert (attrs[semconv.USER_ID], attrs[semconv.TAGS], attrs["plaudit.metadata.plan"]) == ("u1", ("beta",), "pro")
    assert call[semconv.VARIANT] == "v2" and call[semconv.INPUT] == '{"question": "q"}'
    if own_provider:  # the order the processor gave them when it set them after the start attributes
        order = [key for key in call if key != semconv.OUTPUT]
        assert order[-4:] == [semconv.INPUT, semconv.USER_ID, semconv.TAGS, "plaudit.metadata.plan"]
    assert all(semconv.USER_ID not in attrs for attrs in after)
