"""Prompts and configs: the dimensions the leaderboard groups by must be stable everywhere."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys

import pytest

import plaudit
from plaudit import semconv
from plaudit.testing import InMemorySpanExporter

TEMPLATE = "Answer the question using the context.\nContext: {context}\nQuestion: {question}"
CONFIG = {"temperature": 0.2, "max_tokens": 256, "stop": ["\n\n"], "model": "gpt-4o-mini", "seed": None}
REORDERED = dict(reversed(list(CONFIG.items())))


def test_prompt_identity() -> None:
    prompt = plaudit.Prompt("rag-answer", "v3", TEMPLATE)
    assert prompt.template_hash == hashlib.sha256(TEMPLATE.encode()).hexdigest()[:16]
    assert prompt.template_hash == plaudit.Prompt("other-name", "v9", TEMPLATE).template_hash
    assert prompt.template_hash != plaudit.Prompt("rag-answer", "v3", TEMPLATE + " ").template_hash
    assert prompt.variables == ["context", "question"]
    assert prompt.attributes() == {
        semconv.PROMPT_NAME: "rag-answer",
        semconv.PROMPT_VERSION: "v3",
        semconv.PROMPT_TEMPLATE_HASH: prompt.template_hash,
    }
    assert prompt == plaudit.Prompt("rag-answer", "v3", TEMPLATE)  # a value: comparable and hashable
    assert len({prompt, plaudit.Prompt("rag-answer", "v3", TEMPLATE)}) == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        prompt.version = "v4"  # type: ignore[misc]


def test_prompt_integer_version_is_stored_as_text() -> None:
    assert plaudit.Prompt("p", 2).version == "2"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("args", "error"),
    [(("", "v1"), TypeError), ((None, "v1"), TypeError), (("p", ""), TypeError), (("p", "v1", 5), TypeError)],
)
def test_invalid_prompt_arguments(args: tuple[object, ...], error: type[Exception]) -> None:
    with pytest.raises(error):
        plaudit.Prompt(*args)  # type: ignore[arg-type]


def test_format_stamps_the_current_span(exporter: InMemorySpanExporter) -> None:
    prompt = plaudit.Prompt("rag-answer", "v3", TEMPLATE)

    @plaudit.trace(kind="llm")
    def answer(question: str) -> str:
        return prompt.format(context="Paris is in France.", question=question)

    text = answer("Where is Paris?")
    assert text == TEMPLATE.format(context="Paris is in France.", question="Where is Paris?")
    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.PROMPT_NAME] == "rag-answer"
    assert span.attributes[semconv.PROMPT_VERSION] == "v3"
    assert span.attributes[semconv.PROMPT_TEMPLATE_HASH] == prompt.template_hash
    assert json.loads(span.attributes[semconv.PROMPT_VARIABLES]) == {
        "context": "Paris is in France.",
        "question": "Where is Paris?",
    }


def test_format_outside_a_span_just_renders(exporter: InMemorySpanExporter) -> None:
    assert plaudit.Prompt("greet", "1", "Hi {name}").format(name="Ada") == "Hi Ada"
    assert exporter.get_finished_spans() == ()


def test_format_with_a_missing_variable_raises_the_users_error(exporter: InMemorySpanExporter) -> None:
    with pytest.raises(KeyError), plaudit.span("s"):
        plaudit.Prompt("greet", "1", "Hi {name}").format()


def config_attrs(exporter: InMemorySpanExporter, config: dict[str, object]) -> dict[str, object]:
    exporter.clear()

    @plaudit.trace(config=config)
    def call() -> None:
        return None

    call()
    (span,) = exporter.get_finished_spans()
    return {k: v for k, v in span.attributes.items() if k.startswith(semconv.CONFIG_PREFIX)}


def test_config_attributes_and_hash(exporter: InMemorySpanExporter) -> None:
    attrs = config_attrs(exporter, CONFIG)
    assert attrs["plaudit.config.temperature"] == 0.2
    assert attrs["plaudit.config.max_tokens"] == 256
    assert attrs["plaudit.config.model"] == "gpt-4o-mini"
    assert json.loads(attrs["plaudit.config.stop"]) == ["\n\n"]  # type: ignore[arg-type]
    assert attrs["plaudit.config.seed"] == "null"  # OTel attributes cannot be None
    assert isinstance(attrs[semconv.CONFIG_HASH], str) and len(attrs[semconv.CONFIG_HASH]) == 16

    assert config_attrs(exporter, REORDERED)[semconv.CONFIG_HASH] == attrs[semconv.CONFIG_HASH]
    changed = config_attrs(exporter, {**CONFIG, "temperature": 0.3})
    assert changed[semconv.CONFIG_HASH] != attrs[semconv.CONFIG_HASH]
    nested = config_attrs(exporter, {"a": {"y": 1, "x": 2}})[semconv.CONFIG_HASH]
    assert config_attrs(exporter, {"a": {"x": 2, "y": 1}})[semconv.CONFIG_HASH] == nested  # nested key order too


_CHILD = """
import json, sys
import plaudit
from plaudit.testing import capture_spans

config = json.loads(sys.argv[1])
with capture_spans() as exporter:
    @plaudit.trace(config=config, prompt=plaudit.Prompt("p", "1", sys.argv[2]))
    def call():
        return None
    call()
    (span,) = exporter.get_finished_spans()
    print(json.dumps([span.attributes["plaudit.config.hash"], span.attributes["plaudit.prompt.template_hash"]]))
"""


def test_hashes_are_stable_across_processes(exporter: InMemorySpanExporter) -> None:
    """Two app processes (different hash seeds, different key order) must land in one leaderboard row."""
    parent = config_attrs(exporter, CONFIG)[semconv.CONFIG_HASH]
    prompt_hash = plaudit.Prompt("p", "1", TEMPLATE).template_hash
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLAUDIT_", "OTEL_"))}
    env["PYTHONHASHSEED"] = "12345"
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(REORDERED), TEMPLATE],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=60,
    )
    assert json.loads(out.stdout) == [parent, prompt_hash]
