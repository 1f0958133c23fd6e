"""The traced call's fast paths give exactly what the plain ones gave: the shared JSON encoder, the input joined
to the static attributes at span start, and no serialising for a call that is not recorded."""

from __future__ import annotations

import dataclasses
import enum
import json
import threading
from typing import Any

import pydantic
import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry import context as context_api
from opentelemetry import trace as trace_api
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.trace import Span, SpanLimits, TracerProvider
from opentelemetry.trace import NonRecordingSpan, SpanContext, StatusCode, TraceFlags

import plaudit
from plaudit import semconv
from plaudit._internal import errors
from plaudit._internal.serialize import SCALAR_JSON, _fallback, dumps, to_json
from plaudit._internal.span_common import end_with_error, set_text
from plaudit.testing import InMemorySpanExporter, capture_spans


@dataclasses.dataclass
class Point:
    x: int
    y: float


class Reply(pydantic.BaseModel):
    text: str


def _plain(value: Any) -> str:
    return json.dumps(value, default=_fallback, ensure_ascii=False, allow_nan=False)


@pytest.mark.parametrize(
    "value",
    [
        {"question": "How do I reset my password?", "top_k": 5},
        {"nested": {"list": [1, 2.5, None, True, False], "é": "ünïcödé ✓", "quote": 'a "b" \\ c\n'}},
        [1, 10**30, -0.0, 1e300, "x" * 2048],
        {1: "int key", 2.5: "float key", False: "bool key", None: "none key"},
        {"point": Point(1, 2.0), "reply": Reply(text="hi"), "blob": b"\x00\x01", "tags": ("a", "b"), "set": {3}},
        "a string",
        42,
        None,
        Point(3, 4.5),
    ],
    ids=["args", "nested", "numbers", "keys", "objects", "string", "int", "none", "dataclass"],
)
def test_the_shared_encoder_writes_what_json_dumps_writes(value: Any) -> None:
    assert dumps(value) == _plain(value)


def test_non_finite_floats_and_circular_values_keep_their_forms() -> None:
    assert dumps({"a": float("nan"), "b": [float("inf")]}) == '{"a": "nan", "b": ["inf"]}'
    loop: dict[str, Any] = {}
    loop["self"] = loop
    assert to_json(loop, 100) == "<unserialisable dict>"
    shared = {"k": [1, 2]}
    assert dumps({"a": shared, "b": shared}) == '{"a": {"k": [1, 2]}, "b": {"k": [1, 2]}}'  # a failure left no trace


def test_threads_share_the_encoder_without_mixing_their_values() -> None:
    errors: list[str] = []

    def work(n: int) -> None:
        shared = [n] * 3
        value = {"n": n, "items": [shared, shared, {"deep": [shared]}], "obj": Point(n, 0.5)}
        expected = _plain(value)
        for _ in range(300):
            got = dumps(value)
            if got != expected:
                errors.append(got)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def _attrs(exporter: InMemorySpanExporter) -> dict[str, Any]:
    (span,) = exporter.get_finished_spans()
    return dict(span.attributes or {})


def test_input_joins_the_static_attributes(exporter: InMemorySpanExporter) -> None:
    @plaudit.trace(prompt=plaudit.Prompt("greet", "2", "Hello {name}"), config={"temperature": 0.2}, variant="b")
    def greet(name: str, *, polite: bool = True) -> str:
        return f"Hello {name}"

    assert greet("Ada", polite=False) == "Hello Ada"
    attrs = _attrs(exporter)
    assert json.loads(attrs[semconv.INPUT]) == {"name": "Ada", "polite": False}
    assert attrs[semconv.OUTPUT] == "Hello Ada"
    assert attrs[semconv.PROMPT_NAME] == "greet" and attrs[semconv.VARIANT] == "b"
    assert attrs[semconv.CONFIG_PREFIX + "temperature"] == 0.2


def test_static_attributes_and_input_respect_capture_switches(exporter: InMemorySpanExporter) -> None:
    @plaudit.trace(variant="v", capture_input=False)
    def no_input(x: int) -> int:
        return x

    @plaudit.trace(variant="v")
    def plain(x: int) -> int:
        return x

    no_input(1)
    with plaudit.context(capture_content=False):
        plain(2)
    first, second = exporter.get_finished_spans()
    assert semconv.INPUT not in (first.attributes or {}) and (first.attributes or {})[semconv.OUTPUT] == "1"
    assert semconv.INPUT not in (second.attributes or {}) and semconv.OUTPUT not in (second.attributes or {})
    assert (second.attributes or {})[semconv.VARIANT] == "v"


class _Counted:
    """Counts how often Plaudit serialises it (through ``repr``, its JSON fallback)."""

    calls = 0

    def __repr__(self) -> str:
        _Counted.calls += 1
        return "<counted>"


@pytest.mark.parametrize("static", [False, True], ids=["plain", "with-static-attributes"])
def test_a_call_that_is_not_recorded_serialises_nothing(static: bool) -> None:
    decorate = plaudit.trace(variant="v") if static else plaudit.trace
    echo = decorate(lambda value: value)
    value = _Counted()
    _Counted.calls = 0
    with capture_spans(sample_rate=0.0) as sampled_out:
        assert echo(value) is value
    assert sampled_out.get_finished_spans() == ()
    unsampled_parent = NonRecordingSpan(SpanContext(0x1F, 0x2F, is_remote=True, trace_flags=TraceFlags(0)))
    with capture_spans() as exporter, trace_api.use_span(unsampled_parent):
        assert echo(value) is value
    assert exporter.get_finished_spans() == ()
    assert _Counted.calls == 0
    with capture_spans() as kept:
        echo(value)
    assert _Counted.calls == 2  # input and output, once each
    assert _attrs(kept)[semconv.INPUT] == '{"value": "<counted>"}'


class Level(enum.IntEnum):
    HIGH = 1


class Name(str):
    """A str subclass: written by the encoder, not the scalar path."""


def takes(a: Any, b: Any = 1, *rest: Any, **extra: Any) -> None:
    return None


class Service:
    def handle(self, request: Any, *, retries: int = 0) -> None:
        return None


_ODD_TEXT = 'quote " backslash \\ newline \n tab \t control \x01 \x1f é ✓ \u2028 \U0001f600'


@pytest.mark.parametrize(
    ("args", "kwargs", "expected"),
    [
        (("x",), {}, {"a": "x"}),
        ((_ODD_TEXT,), {"b": _ODD_TEXT}, {"a": _ODD_TEXT, "b": _ODD_TEXT}),
        ((10**30, True), {}, {"a": 10**30, "b": True}),
        ((None, False), {}, {"a": None, "b": False}),
        ((-0.0, 1e300), {"c": 2.5e-8}, {"a": -0.0, "b": 1e300, "c": 2.5e-8}),
        ((float("nan"), float("inf")), {"c": float("-inf")}, {"a": "nan", "b": "inf", "c": "-inf"}),
        ((1, 2, 3, "four"), {}, {"a": 1, "b": 2, "*args": [3, "four"]}),
        ((1,), {"extra": "e", "more": None}, {"a": 1, "extra": "e", "more": None}),
        ((), {"b": 3, "a": "k"}, {"b": 3, "a": "k"}),
        ((1,), {"*args": "named so"}, {"a": 1, "*args": "named so"}),
        ((1, 2, 3), {"*args": "named so"}, {"a": 1, "b": 2, "*args": "named so"}),
        ((Level.HIGH, Name("n")), {"c": Level.HIGH}, {"a": Level.HIGH, "b": Name("n"), "c": Level.HIGH}),
        (([1, "two"], {"k": "v"}), {"c": (3,)}, {"a": [1, "two"], "b": {"k": "v"}, "c": (3,)}),
        (("s", Point(1, 2.0)), {}, {"a": "s", "b": Point(1, 2.0)}),
        (("x" * 2048, "y" * 300), {"c": "z" * 400}, {"a": "x" * 2048, "b": "y" * 300, "c": "z" * 400}),
        (
            ("x" * 300 + "\x01", "x" * 300 + '"'),
            {"c": "é" * 300},
            {"a": "x" * 300 + "\x01", "b": "x" * 300 + '"', "c": "é" * 300},
        ),
    ],
    ids=[
        "one",
        "escapes",
        "big-int-bool",
        "none-false",
        "floats",
        "non-finite",
        "extra-positional",
        "keywords",
        "keywords-only",
        "keyword-named-*args",
        "keyword-named-*args-and-extra",
        "subclasses",
        "containers",
        "object",
        "long-plain",
        "long-escaped",
    ],
)
def test_the_captured_input_is_the_encoded_argument_mapping(
    exporter: InMemorySpanExporter, args: tuple[Any, ...], kwargs: dict[str, Any], expected: dict[str, Any]
) -> None:
    """Plain scalar arguments are written without building the mapping; the text is the same either way."""
    plaudit.trace(takes)(*args, **kwargs)
    assert _attrs(exporter)[semconv.INPUT] == dumps(expected)


def test_an_argument_given_twice_is_captured_as_the_mapping_keeps_it(exporter: InMemorySpanExporter) -> None:
    with pytest.raises(TypeError):
        plaudit.trace(takes)("by position", a="by name")  # type: ignore[misc]
    assert _attrs(exporter)[semconv.INPUT] == '{"a": "by name"}'


def test_a_method_call_is_captured_without_self(exporter: InMemorySpanExporter) -> None:
    handle = plaudit.trace(Service.handle)
    handle(Service(), "hi", retries=2)
    assert _attrs(exporter)[semconv.INPUT] == '{"request": "hi", "retries": 2}'


def test_scalar_input_is_redacted_then_truncated() -> None:
    with capture_spans(max_value_length=64, redact=lambda text: text.replace("secret", "[x]")) as exporter:
        plaudit.trace(takes)("my secret " + "y" * 100, b=2)
    captured = _attrs(exporter)[semconv.INPUT]
    assert captured.startswith('{"a": "my [x] yyy') and captured.endswith(semconv.TRUNCATION_MARKER)
    assert len(captured) == 64


_LINE = "A long single line of plain ASCII, the kind a pasted paragraph is; " * 8


@pytest.mark.parametrize(
    "text",
    [
        "",
        "short",
        _LINE,
        _LINE + "\n" + _LINE,
        _LINE + "\t",
        _LINE + "\r",
        _LINE + "\x00",
        _LINE + "\x1f",
        _LINE + "\x7f",
        _LINE + '"',
        _LINE + "\\",
        _LINE + "é",
        _LINE + "\u2028",
        "x" * 2048,
    ],
    ids=[
        "empty",
        "short",
        "line",
        "newline",
        "tab",
        "cr",
        "nul",
        "unit-sep",
        "del",
        "quote",
        "backslash",
        "e-acute",
        "ls",
        "2kb",
    ],
)
def test_strings_are_written_as_the_encoder_writes_them(text: str) -> None:
    assert SCALAR_JSON[str](text) == _plain(text)


@given(head=st.text(max_size=20), tail=st.text(max_size=20), middle=st.sampled_from(["", _LINE]))
def test_any_string_is_written_as_the_encoder_writes_it(head: str, middle: str, tail: str) -> None:
    text = head + middle + tail
    assert SCALAR_JSON[str](text) == _plain(text)


def _host_provider(limits: SpanLimits, exporter: InMemorySpanExporter) -> TracerProvider:
    host = TracerProvider(span_limits=limits)
    plaudit.configure(tracer_provider=host, _span_exporter=exporter, _simple_processor=True, send=False)
    return host


def test_input_and_output_are_stored_as_set_attribute_would_store_them(exporter: InMemorySpanExporter) -> None:
    """Captured text skips OpenTelemetry's checks only where they could not change it; the span is the same. The
    input, serialised as the call starts, is written with the output as it ends (after the body's attributes)."""

    @plaudit.trace
    def answer(question: str, top_k: int = 3) -> str:
        trace_api.get_current_span().set_attribute("app.step", "retrieve")
        return question.upper()

    assert answer("why?", top_k=5) == "WHY?"
    (span,) = exporter.get_finished_spans()
    assert list(span.attributes or {}) == ["app.step", semconv.INPUT, semconv.OUTPUT]
    assert json.loads((span.attributes or {})[semconv.INPUT]) == {"question": "why?", "top_k": 5}
    assert (span.attributes or {})[semconv.OUTPUT] == "WHY?" and span.dropped_attributes == 0


def test_with_static_attributes_the_input_joins_them_at_span_start(exporter: InMemorySpanExporter) -> None:
    @plaudit.trace(kind="chain")
    def answer(question: str) -> str:
        trace_api.get_current_span().set_attribute("app.step", "retrieve")
        return question.upper()

    assert answer("why?") == "WHY?"
    (span,) = exporter.get_finished_spans()
    attrs = span.attributes or {}
    assert list(attrs) == [semconv.SPAN_KIND, semconv.INPUT, "app.step", semconv.OUTPUT]
    assert attrs[semconv.INPUT] == '{"question": "why?"}' and attrs[semconv.OUTPUT] == "WHY?"


def test_the_input_is_the_arguments_as_the_call_began(exporter: InMemorySpanExporter) -> None:
    @plaudit.trace
    def grows(items: list[int]) -> int:
        items.append(3)
        return len(items)

    assert grows([1, 2]) == 3
    assert _attrs(exporter)[semconv.INPUT] == '{"items": [1, 2]}'


def test_an_input_the_body_sets_itself_is_kept(exporter: InMemorySpanExporter) -> None:
    @plaudit.trace
    def rewrites(question: str) -> str:
        trace_api.get_current_span().set_attribute(semconv.INPUT, "the body's own input")
        return question

    rewrites("asked")
    attrs = _attrs(exporter)
    assert attrs[semconv.INPUT] == "the body's own input" and attrs[semconv.OUTPUT] == "asked"


def test_a_value_length_limit_on_the_provider_still_cuts_input_and_output() -> None:
    exporter = InMemorySpanExporter()
    host = _host_provider(SpanLimits(max_span_attribute_length=8), exporter)
    try:
        plaudit.trace(lambda text: text + "!")("a long question")
        (span,) = exporter.get_finished_spans()
        attrs = span.attributes or {}
        assert attrs[semconv.INPUT] == '{"text":' and attrs[semconv.OUTPUT] == "a long q"
    finally:
        plaudit.shutdown()
        host.shutdown()


def test_an_attribute_count_limit_on_the_provider_drops_the_oldest() -> None:
    exporter = InMemorySpanExporter()
    host = _host_provider(SpanLimits(max_span_attributes=2), exporter)
    try:

        @plaudit.trace
        def busy(x: int) -> int:
            span = trace_api.get_current_span()
            span.set_attribute("app.a", 1)
            span.set_attribute("app.b", 2)  # the limit reached
            return x

        busy(7)
        (span,) = exporter.get_finished_spans()
        # input and output are written last, as the call ends: the body's attributes, older, are dropped
        assert dict(span.attributes or {}) == {semconv.INPUT: '{"x": 7}', semconv.OUTPUT: "7"}
        assert span.dropped_attributes == 2
    finally:
        plaudit.shutdown()
        host.shutdown()


def test_a_span_ended_inside_the_call_is_left_as_it_was_ended(exporter: InMemorySpanExporter) -> None:
    """Input and output are written as the call ends: a span the body ended itself gets neither, and the call
    still returns its value."""

    @plaudit.trace
    def ends_its_span(x: int) -> int:
        trace_api.get_current_span().end()
        return x

    assert ends_its_span(3) == 3
    (span,) = exporter.get_finished_spans()
    assert semconv.OUTPUT not in (span.attributes or {}) and semconv.INPUT not in (span.attributes or {})


class _Audited(Span):
    """A host SDK's span that watches its own attributes."""

    seen: list[str] = []

    def set_attribute(self, key: str, value: Any) -> None:
        _Audited.seen.append(key)
        super().set_attribute(key, value)


def test_a_span_class_with_its_own_set_attribute_is_called(exporter: InMemorySpanExporter) -> None:
    span = _Audited("audited", context=None)
    span.start()
    set_text(span, semconv.OUTPUT, "reply")
    span.end()
    assert _Audited.seen == [semconv.OUTPUT] and (span.attributes or {})[semconv.OUTPUT] == "reply"


class _Refusing(Span):
    """A host SDK's span whose set_attribute fails."""

    def set_attribute(self, key: str, value: Any) -> None:
        raise RuntimeError("no attributes here")


def test_an_input_that_cannot_be_written_still_lets_the_error_span_end(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(errors, "RAISE_INTERNAL_ERRORS", False)  # as in production: logged, not raised
    span = _Refusing("refusing", context=None)
    span.start()
    token = context_api.attach(trace_api.set_span_in_context(span))
    end_with_error(span, token, ValueError("the user's"), '{"x": 1}')
    assert span.end_time is not None and span.status.status_code is StatusCode.ERROR
    assert semconv.INPUT not in (span.attributes or {}) and span.events[0].name == "exception"
    assert trace_api.get_current_span() is not span  # the context was left


class _WatchedAttributes(BoundedAttributes):
    """Another attribute map than the one the SDK builds: it sees every value stored in it."""

    seen: list[str] = []

    def __setitem__(self, key: str, value: Any) -> None:
        _WatchedAttributes.seen.append(key)
        super().__setitem__(key, value)


def test_an_attribute_map_of_another_kind_is_written_through_its_own_methods(exporter: InMemorySpanExporter) -> None:
    span = TracerProvider().get_tracer("host").start_span("watched")
    span._attributes = _WatchedAttributes(maxlen=128, immutable=False)  # type: ignore[attr-defined]
    set_text(span, semconv.INPUT, "question")
    span.end()
    assert _WatchedAttributes.seen == [semconv.INPUT] and (span.attributes or {})[semconv.INPUT] == "question"
