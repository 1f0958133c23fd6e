"""Privacy rules (global off wins, redact hook, NaN-free JSON), variant inheritance and fingerprints, thread fan-out."""

from __future__ import annotations

import asyncio
import functools
import json
import math

import pytest

import plaudit
from plaudit import semconv
from plaudit._internal.serialize import REDACTION_FAILED, config_attributes, config_hash, to_json
from plaudit.testing import InMemorySpanExporter, capture_spans


def by_name(exporter: InMemorySpanExporter) -> dict[str, object]:
    return {s.name.rsplit(".", 1)[-1]: s for s in exporter.get_finished_spans()}


# --- capture precedence -----------------------------------------------------------------------------------------


def test_global_capture_off_wins_over_capture_input_true() -> None:
    @plaudit.trace(capture_input=True, capture_output=True)
    def leak(secret: str) -> str:
        return secret

    with capture_spans(capture_content=False) as exporter:
        leak("password")
    (span,) = exporter.get_finished_spans()
    assert semconv.INPUT not in span.attributes
    assert semconv.OUTPUT not in span.attributes


def test_capture_content_false_on_a_span_covers_what_runs_inside(exporter: InMemorySpanExporter) -> None:
    @plaudit.trace
    def inner(text: str) -> str:
        return text

    @plaudit.trace(capture_content=False)
    def outer(text: str) -> str:
        return inner(text)

    outer("secret")
    with plaudit.span("block", capture_content=False) as handle:
        handle.set_output("secret")
        inner("secret")
    for span in exporter.get_finished_spans():
        assert semconv.INPUT not in span.attributes and semconv.OUTPUT not in span.attributes, span.name


def test_prompt_variables_follow_the_capture_rules() -> None:
    prompt = plaudit.Prompt("p", "1", "Hello {name}")

    @plaudit.trace
    def render() -> str:
        return prompt.format(name="Ada")

    with capture_spans(capture_content=False) as exporter:
        render()
    (span,) = exporter.get_finished_spans()
    assert semconv.PROMPT_VARIABLES not in span.attributes
    assert span.attributes[semconv.PROMPT_NAME] == "p"


# --- redact hook ------------------------------------------------------------------------------------------------


def test_redact_hook_runs_on_inputs_outputs_and_handles() -> None:
    @plaudit.trace
    def echo(email: str) -> str:
        return f"mail sent to {email}"

    with capture_spans(redact=lambda text: text.replace("ada@example.com", "<EMAIL>")) as exporter:
        echo("ada@example.com")
        with plaudit.span("manual") as handle:
            handle.set_input({"to": "ada@example.com"})
    captured = [
        span.attributes[key]  # type: ignore[index]
        for span in exporter.get_finished_spans()
        for key in (semconv.INPUT, semconv.OUTPUT)
        if key in span.attributes  # type: ignore[operator]
    ]
    assert len(captured) == 3  # echo's input and output, the manual span's input
    for value in captured:
        assert "ada@" not in value and "<EMAIL>" in value  # type: ignore[operator]


def test_a_failing_redact_hook_hides_the_value_and_never_breaks_the_call(caplog: pytest.LogCaptureFixture) -> None:
    def broken(text: str) -> str:
        raise RuntimeError("hook bug")

    @plaudit.trace
    def echo(value: str) -> str:
        return value

    with capture_spans(redact=broken) as exporter:
        assert echo("secret") == "secret"
    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.INPUT] == REDACTION_FAILED
    assert span.attributes[semconv.OUTPUT] == REDACTION_FAILED
    assert "redact hook raised" in caplog.text


def test_redact_runs_before_truncation() -> None:
    secret = "TOKEN-123"

    @plaudit.trace
    def echo(value: str) -> str:
        return value

    with capture_spans(redact=lambda t: t.replace(secret, "#"), max_value_length=64) as exporter:
        echo("x" * 58 + secret)  # the secret straddles the limit
    (span,) = exporter.get_finished_spans()
    assert "TOKEN" not in span.attributes[semconv.OUTPUT]  # type: ignore[operator]


def test_redact_must_be_callable() -> None:
    with pytest.raises(plaudit.PlauditConfigError, match="redact"):
        plaudit.configure(redact="no", send=False)  # type: ignore[arg-type]


# --- JSON without NaN -------------------------------------------------------------------------------------------


def test_non_finite_floats_never_reach_json() -> None:
    text = to_json({"score": math.nan, "hi": [math.inf, -math.inf, 1.5]}, 1000)
    assert json.loads(text) == {"score": "nan", "hi": ["inf", "-inf", 1.5]}
    assert "NaN" not in text and "Infinity" not in text
    config = {"temperature": math.nan, "nested": {"x": math.inf}}
    assert config_hash(config) == config_hash(dict(reversed(list(config.items()))))
    attrs = config_attributes(config, "p.")
    assert attrs == {"p.temperature": "nan", "p.nested": '{"x": "inf"}'}


# --- names ------------------------------------------------------------------------------------------------------


def test_partial_default_name_has_no_memory_address(exporter: InMemorySpanExporter) -> None:
    def add(a: int, b: int) -> int:
        return a + b

    traced = plaudit.trace(functools.partial(add, 1))
    assert traced(2) == 3
    (span,) = exporter.get_finished_spans()
    assert span.name.endswith("add")
    assert "0x" not in span.name
    assert json.loads(span.attributes[semconv.INPUT]) == {"b": 2}  # type: ignore[arg-type]


# --- variants ---------------------------------------------------------------------------------------------------


def test_llm_spans_inherit_prompt_config_variant_other_spans_do_not(exporter: InMemorySpanExporter) -> None:
    @plaudit.trace(kind="llm", model="m1")
    def call_model() -> str:
        return "ok"

    @plaudit.trace(kind="tool")
    def lookup() -> str:
        return "data"

    @plaudit.trace(prompt=plaudit.Prompt("qa", "2", "t"), config={"k": 3})
    def pipeline() -> None:
        lookup()
        with plaudit.span("variant-block", variant="B"):
            call_model()

    pipeline()
    spans = by_name(exporter)
    llm, tool, outer = spans["call_model"], spans["lookup"], spans["pipeline"]
    assert llm.attributes[semconv.PROMPT_NAME] == "qa"  # type: ignore[attr-defined]
    assert llm.attributes[semconv.CONFIG_HASH] == outer.attributes[semconv.CONFIG_HASH]  # type: ignore[attr-defined]
    assert llm.attributes[semconv.VARIANT] == "B"  # type: ignore[attr-defined]
    assert semconv.PROMPT_NAME not in tool.attributes  # type: ignore[attr-defined]
    assert llm.attributes[semconv.FINGERPRINT] != outer.attributes[semconv.FINGERPRINT]  # type: ignore[attr-defined]


def test_own_attributes_win_over_inherited_ones(exporter: InMemorySpanExporter) -> None:
    @plaudit.trace(kind="llm", variant="inner")
    def call_model() -> None:
        return None

    with plaudit.span("outer", variant="outer"):
        call_model()
    assert by_name(exporter)["call_model"].attributes[semconv.VARIANT] == "inner"  # type: ignore[attr-defined]


def test_fingerprint_is_stable_and_changes_with_the_variant() -> None:
    def fp(**kwargs: object) -> str:
        with capture_spans() as exporter, plaudit.span("s", **kwargs):  # type: ignore[arg-type]
            pass
        return exporter.get_finished_spans()[0].attributes[semconv.FINGERPRINT]  # type: ignore[return-value]

    prompt = plaudit.Prompt("p", "1", "t")
    base = fp(prompt=prompt, config={"a": 1, "b": 2}, model="m")
    assert base == fp(prompt=prompt, config={"b": 2, "a": 1}, model="m")
    assert base != fp(prompt=prompt, config={"a": 1, "b": 2}, model="other")
    assert base != fp(prompt=plaudit.Prompt("p", "2", "t"), config={"a": 1, "b": 2}, model="m")


def test_hash_code_adds_the_code_to_the_fingerprint(exporter: InMemorySpanExporter) -> None:
    @plaudit.trace(hash_code=True, variant="v")
    def first() -> int:
        return 1

    @plaudit.trace(hash_code=True, variant="v")
    def second() -> int:
        return 2

    first()
    second()
    spans = by_name(exporter)
    a, b = spans["first"].attributes, spans["second"].attributes  # type: ignore[attr-defined]
    assert len(a[semconv.CODE_HASH]) == 16
    assert a[semconv.CODE_HASH] != b[semconv.CODE_HASH]
    assert a[semconv.FINGERPRINT] != b[semconv.FINGERPRINT]


# --- crossing threads and tasks ---------------------------------------------------------------------------------


def test_to_thread_and_gather_keep_parentage(exporter: InMemorySpanExporter) -> None:
    @plaudit.trace
    def blocking(i: int) -> int:
        return i

    @plaudit.trace
    async def handler() -> list[int]:
        return list(await asyncio.gather(*(asyncio.to_thread(blocking, i) for i in range(3))))

    assert asyncio.run(handler()) == [0, 1, 2]
    spans = exporter.get_finished_spans()
    (root,) = [s for s in spans if s.name.endswith("handler")]
    assert sorted(s.parent.span_id for s in spans if s.name.endswith("blocking")) == [root.context.span_id] * 3  # type: ignore[union-attr]
