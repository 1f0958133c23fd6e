"""The traced call's fast paths give exactly what the plain ones gave: the shared JSON encoder, the input joined
to the static attributes at span start, and no serialising for a call that is not recorded."""

from __future__ import annotations

import dataclasses
import json
import threading
from typing import Any

import pydantic
import pytest
from opentelemetry import trace as trace_api
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

import plaudit
from plaudit import semconv
from plaudit._internal.serialize import _fallback, dumps, to_json
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
