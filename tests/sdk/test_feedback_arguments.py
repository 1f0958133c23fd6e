"""``plaudit.feedback``/``afeedback`` reject wrong arguments at the call site, before anything is queued."""

from __future__ import annotations

import asyncio
import math
import uuid
from typing import Any

import pytest

import plaudit
from plaudit._internal.feedback.items import MAX_COMMENT, build_item
from plaudit.testing import InMemorySpanExporter

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
REF = plaudit.SpanRef(TRACE, SPAN)

BAD_CALLS: list[tuple[dict[str, Any], type[Exception]]] = [
    ({"name": ""}, ValueError),
    ({"name": "   "}, ValueError),
    ({"name": "x" * 201}, ValueError),
    ({"name": 5}, ValueError),
    ({"value": math.nan}, ValueError),
    ({"value": math.inf}, ValueError),
    ({"value": -math.inf}, ValueError),
    ({"value": object()}, TypeError),
    ({"value": [1, 2]}, TypeError),
    ({"value": {"score": 1}}, TypeError),
    ({"value": None}, ValueError),  # nothing to record
    ({"source": "robot"}, ValueError),
    ({"source": "HUMAN"}, ValueError),
    ({"comment": "c" * (MAX_COMMENT + 1)}, ValueError),
    ({"correction": "c" * (MAX_COMMENT + 1)}, ValueError),
    ({"comment": 12}, ValueError),
    ({"author": 7}, TypeError),
    ({"metadata": ["k", "v"]}, TypeError),
    ({"ref": "not-a-ref"}, ValueError),
    ({"ref": f"00-{TRACE}-{SPAN}"}, ValueError),
    ({"ref": 1234}, TypeError),
    ({"ref": (TRACE, SPAN)}, TypeError),
]


def call_kwargs(overrides: dict[str, Any]) -> dict[str, Any]:
    return {"ref": REF, "name": "thumbs", "value": True, **overrides}


@pytest.mark.parametrize(("overrides", "error"), BAD_CALLS)
def test_feedback_rejects_wrong_arguments(overrides: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        plaudit.feedback(**call_kwargs(overrides))


@pytest.mark.parametrize(("overrides", "error"), BAD_CALLS)
def test_afeedback_rejects_wrong_arguments(overrides: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        asyncio.run(plaudit.afeedback(**call_kwargs(overrides)))


def test_feedback_without_ref_outside_a_span_raises(exporter: InMemorySpanExporter) -> None:
    with pytest.raises(ValueError, match="no span is active"):
        plaudit.feedback(None, "thumbs", True)
    with pytest.raises(ValueError, match="no span is active"):
        asyncio.run(plaudit.afeedback(None, "thumbs", True))


def test_wire_item_has_the_documented_shape() -> None:
    item = build_item(REF, "thumbs", True)
    assert item == {
        "trace_id": TRACE,
        "span_id": SPAN,
        "name": "thumbs",
        "value": True,
        "comment": None,
        "correction": None,
        "source": "human",
        "author": None,
        "metadata": None,
        "idempotency_key": item["idempotency_key"],
    }
    assert item["value"] is True  # a bool stays a bool, not the int 1
    uuid.UUID(hex=item["idempotency_key"])  # generated client-side so retries are idempotent
    assert build_item(REF, "thumbs", True)["idempotency_key"] != item["idempotency_key"]


@pytest.mark.parametrize("ref", [str(REF), str(REF).upper(), f" {REF} "])
def test_ref_strings_are_accepted(ref: str) -> None:
    item = build_item(ref, "thumbs", False)
    assert (item["trace_id"], item["span_id"]) == (TRACE, SPAN)


def test_trace_only_ref_targets_the_whole_trace() -> None:
    item = build_item(str(plaudit.SpanRef(TRACE)), "overall", 4.5)
    assert (item["trace_id"], item["span_id"], item["value"]) == (TRACE, None, 4.5)


@pytest.mark.parametrize("source", ["human", "end_user", "annotator", "llm_judge", "code"])
def test_every_known_source_is_accepted(source: str) -> None:
    assert build_item(REF, "score", 3, source=source)["source"] == source


def test_optional_fields_are_carried() -> None:
    item = build_item(
        REF,
        "quality",
        "helpful",
        comment="c" * MAX_COMMENT,
        correction="better answer",
        source="annotator",
        author="ada",
        metadata={"queue": "weekly"},
        idempotency_key="key-1",
    )
    assert item["value"] == "helpful"
    assert len(item["comment"]) == MAX_COMMENT
    assert item["correction"] == "better answer"
    assert item["author"] == "ada"
    assert item["metadata"] == {"queue": "weekly"}
    assert item["idempotency_key"] == "key-1"


def test_comment_alone_is_valid_feedback() -> None:
    assert build_item(REF, "note", None, comment="looks off")["value"] is None
