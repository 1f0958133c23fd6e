"""What ends up in ``plaudit.input``/``plaudit.output``: on/off switches, truncation, hostile values."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import plaudit
from plaudit import semconv
from plaudit._internal.serialize import to_json
from plaudit.semconv import TRUNCATION_MARKER
from plaudit.testing import InMemorySpanExporter, capture_spans


@plaudit.trace(kind="llm", model="m1")
def echo(value: Any) -> Any:
    return value


def captured(exporter: InMemorySpanExporter) -> tuple[str | None, str | None]:
    (span,) = exporter.get_finished_spans()
    return span.attributes.get(semconv.INPUT), span.attributes.get(semconv.OUTPUT)  # type: ignore[return-value]


# --- switches ---------------------------------------------------------------------------------------------------


def assert_nothing_captured(exporter: InMemorySpanExporter) -> None:
    echo("secret")
    with plaudit.span("manual") as handle:
        handle.set_input("secret")
        handle.set_output("secret")
    traced, manual = exporter.get_finished_spans()
    for span in (traced, manual):
        assert semconv.INPUT not in span.attributes
        assert semconv.OUTPUT not in span.attributes
    assert traced.attributes[semconv.GEN_AI_REQUEST_MODEL] == "m1"  # the dimensions are still recorded
    assert traced.attributes[semconv.SPAN_KIND] == "llm"


def test_capture_content_false_via_configure() -> None:
    with capture_spans(capture_content=False) as exporter:
        assert_nothing_captured(exporter)


@pytest.mark.parametrize("raw", ["false", "0", "no", "OFF", " False "])
def test_capture_content_false_via_env(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("PLAUDIT_CAPTURE_CONTENT", raw)
    with capture_spans() as exporter:
        assert_nothing_captured(exporter)


def test_explicit_capture_content_beats_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAUDIT_CAPTURE_CONTENT", "false")
    with capture_spans(capture_content=True) as exporter:
        echo("visible")
        assert captured(exporter) == ('{"value": "visible"}', "visible")


def test_bad_capture_content_env_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAUDIT_CAPTURE_CONTENT", "sometimes")
    with pytest.raises(plaudit.PlauditConfigError, match="PLAUDIT_CAPTURE_CONTENT"):
        plaudit.configure(send=False)


# --- truncation -------------------------------------------------------------------------------------------------


def test_long_values_are_truncated_with_the_marker() -> None:
    with capture_spans(max_value_length=100) as exporter:
        echo("y" * 1000)
        inp, out = captured(exporter)
    assert inp is not None and out is not None
    assert len(out) == 100 and out.endswith(TRUNCATION_MARKER) and out.startswith("yyy")
    assert len(inp) == 100 and inp.endswith(TRUNCATION_MARKER) and inp.startswith('{"value": "yyy')


def test_short_values_are_not_truncated() -> None:
    with capture_spans(max_value_length=100) as exporter:
        echo("y" * 100)
        _, out = captured(exporter)
    assert out == "y" * 100


def test_max_value_length_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAUDIT_MAX_VALUE_LENGTH", "64")
    with capture_spans() as exporter:
        echo(list(range(1000)))
        _, out = captured(exporter)
    assert out is not None and len(out) == 64 and out.endswith(TRUNCATION_MARKER)


@pytest.mark.parametrize("bad", [0, 63, -1])
def test_too_small_max_value_length_is_refused(bad: int) -> None:
    with pytest.raises(plaudit.PlauditConfigError):
        plaudit.configure(max_value_length=bad, send=False)


def test_non_integer_max_value_length_env_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAUDIT_MAX_VALUE_LENGTH", "lots")
    with pytest.raises(plaudit.PlauditConfigError):
        plaudit.configure(send=False)


def test_generator_output_is_truncated_too() -> None:
    @plaudit.trace
    def stream() -> Any:
        for _ in range(50):
            yield "chunk "

    with capture_spans(max_value_length=64) as exporter:
        assert len(list(stream())) == 50
        _, out = captured(exporter)
    assert out is not None and len(out) == 64 and out.endswith(TRUNCATION_MARKER)


# --- values JSON cannot represent --------------------------------------------------------------------------------


class Thing:
    def __repr__(self) -> str:
        return "Thing(1)"


class BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("repr exploded")


class Hostile:
    """A proxy-like object whose every attribute lookup fails."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"no {name} for you")

    def __repr__(self) -> str:
        return "<Hostile>"


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Reply(pydantic.BaseModel):
    text: str
    score: float


def test_unserialisable_values_use_a_safe_repr(exporter: InMemorySpanExporter) -> None:
    when = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.timezone.utc)
    value = {
        "thing": Thing(),
        "bad": BadRepr(),
        "hostile": Hostile(),
        "point": Point(1, 2),
        "reply": Reply(text="hi", score=0.5),
        "blob": b"\x00\x01\x02",
        "when": when,
        "tags": ("a", "b"),
    }
    assert echo(value) is value  # the user's value is returned untouched

    inp, out = captured(exporter)
    assert inp is not None and out is not None
    decoded = json.loads(out)
    assert decoded == {
        "thing": "Thing(1)",
        "bad": "<unrepresentable BadRepr>",
        "hostile": "<Hostile>",
        "point": {"x": 1, "y": 2},
        "reply": {"text": "hi", "score": 0.5},
        "blob": "<3 bytes>",
        "when": repr(when),
        "tags": ["a", "b"],
    }
    assert json.loads(inp) == {"value": decoded}


@pytest.mark.parametrize(
    ("value", "expected"),
    [(BadRepr(), '"<unrepresentable BadRepr>"'), (Hostile(), '"<Hostile>"'), (Thing(), '"Thing(1)"')],
    ids=["bad-repr", "hostile", "thing"],
)
def test_unserialisable_top_level_values(exporter: InMemorySpanExporter, value: Any, expected: str) -> None:
    assert echo(value) is value
    inp, out = captured(exporter)
    assert out == expected
    assert inp == f'{{"value": {expected}}}'


def test_circular_structures_do_not_break_the_call(exporter: InMemorySpanExporter) -> None:
    loop: dict[str, Any] = {"name": "loop"}
    loop["self"] = loop
    assert echo(loop) is loop
    inp, out = captured(exporter)
    assert out == "<unserialisable dict>"
    assert inp == "<unserialisable dict>"


def test_strings_pass_through_unquoted(exporter: InMemorySpanExporter) -> None:
    echo("plain text")
    _, out = captured(exporter)
    assert out == "plain text"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=20,
)
odd_values = (
    json_values | st.builds(Thing) | st.builds(BadRepr) | st.builds(Hostile) | st.binary() | st.sets(st.integers())
)


@settings(max_examples=100, deadline=None, database=None, derandomize=True)
@given(value=st.lists(odd_values, max_size=5) | odd_values, limit=st.integers(64, 400))
def test_to_json_never_raises_and_respects_the_limit(value: Any, limit: int) -> None:
    text = to_json(value, limit)
    assert isinstance(text, str)
    assert len(text) <= limit
    full = to_json(value, 10**9)
    if full != text:  # cut: a prefix of the full text plus the marker
        assert text.endswith(TRUNCATION_MARKER)
        assert full.startswith(text[: -len(TRUNCATION_MARKER)])
