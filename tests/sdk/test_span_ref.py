"""``SpanRef``: the string an app hands its frontend so feedback finds the span later."""

from __future__ import annotations

import urllib.parse

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import plaudit
from plaudit.testing import InMemorySpanExporter

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"


def test_str_is_a_w3c_traceparent_and_parses_back() -> None:
    ref = plaudit.SpanRef(TRACE, SPAN)
    text = str(ref)
    assert text == f"00-{TRACE}-{SPAN}-01"
    assert urllib.parse.quote(text, safe="") == text  # URL-safe as is
    assert plaudit.SpanRef.parse(text) == ref


def test_trace_only_ref_round_trips() -> None:
    ref = plaudit.SpanRef(TRACE)
    assert ref.span_id is None
    assert str(ref) == f"00-{TRACE}-0000000000000000-01"
    assert plaudit.SpanRef.parse(str(ref)) == ref


def test_parse_is_lenient_about_case_whitespace_and_flags() -> None:
    assert plaudit.SpanRef.parse(f"  00-{TRACE.upper()}-{SPAN.upper()}-00\n") == plaudit.SpanRef(TRACE, SPAN)


def test_refs_are_values() -> None:
    assert plaudit.SpanRef(TRACE, SPAN) == plaudit.SpanRef(TRACE, SPAN)
    assert len({plaudit.SpanRef(TRACE, SPAN), plaudit.SpanRef(TRACE, SPAN), plaudit.SpanRef(TRACE)}) == 2


@pytest.mark.parametrize(
    ("trace_id", "span_id"),
    [
        (TRACE.upper(), SPAN),  # DESIGN: lowercase hex, like OTLP JSON
        (TRACE[:-1], SPAN),
        (TRACE + "0", SPAN),
        ("0" * 32, SPAN),
        ("g" * 32, SPAN),
        (TRACE, SPAN[:-1]),
        (TRACE, "0" * 16),
        (TRACE, SPAN.upper()),
        (TRACE, ""),
        (int(TRACE, 16), SPAN),
        (TRACE, int(SPAN, 16)),
    ],
)
def test_bad_ids_raise_value_error(trace_id: object, span_id: object) -> None:
    with pytest.raises(ValueError):
        plaudit.SpanRef(trace_id, span_id)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "garbage",
        TRACE,
        f"{TRACE}-{SPAN}",
        f"01-{TRACE}-{SPAN}-01",  # unknown version
        f"00-{TRACE}-{SPAN}-01-extra",
        f"00-{TRACE}-{SPAN}-1",
        f"00-{'0' * 32}-{SPAN}-01",
        f"00-{TRACE}-xyz-01",
    ],
)
def test_parse_rejects_malformed_strings(text: str) -> None:
    with pytest.raises(ValueError):
        plaudit.SpanRef.parse(text)


def test_parse_rejects_non_strings() -> None:
    with pytest.raises(TypeError):
        plaudit.SpanRef.parse(b"00-" + TRACE.encode())  # type: ignore[arg-type]


@settings(max_examples=100, database=None, derandomize=True)
@given(trace_id=st.integers(1, 2**128 - 1), span_id=st.integers(0, 2**64 - 1))
def test_from_ids_round_trips_any_otel_ids(trace_id: int, span_id: int) -> None:
    ref = plaudit.SpanRef.from_ids(trace_id, span_id)
    assert int(ref.trace_id, 16) == trace_id
    assert ref.span_id == (format(span_id, "016x") if span_id else None)
    assert plaudit.SpanRef.parse(str(ref)) == ref


def test_current_ref_is_none_outside_spans_and_matches_inside(exporter: InMemorySpanExporter) -> None:
    assert plaudit.current_ref() is None
    with plaudit.span("outer") as outer:
        outer_ref = plaudit.current_ref()
        with plaudit.span("inner") as inner:
            inner_ref = plaudit.current_ref()
        assert plaudit.current_ref() == outer_ref
    assert plaudit.current_ref() is None

    assert outer_ref == outer.ref and inner_ref == inner.ref
    assert inner_ref is not None and outer_ref is not None
    assert inner_ref.trace_id == outer_ref.trace_id and inner_ref.span_id != outer_ref.span_id
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert inner_ref == plaudit.SpanRef.from_ids(spans["inner"].context.trace_id, spans["inner"].context.span_id)
