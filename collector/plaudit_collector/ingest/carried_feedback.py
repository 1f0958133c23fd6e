"""Feedback that arrives as telemetry, turned into feedback items (the POST /v1/feedback wire shape).

Three producers are understood:

- OpenInference annotations and evaluations: ``[trace.|session.]annotations.<i>.annotation.<field>`` (and the
  ``evaluations.<i>.evaluation.<field>`` twin), inline on the target span or on a post-hoc "carrier" span whose
  single span link names the target (spec/annotations.md);
- Logfire ``record_feedback``: a span with ``logfire.span_type = "annotation"`` and ``logfire.feedback.name``
  whose parent is the target;
- the OTel GenAI ``gen_ai.evaluation.result`` event, on a span or as an OTLP log record.

Idempotency keys are derived from the carrying span (or log record) and the item's position, so a re-sent
batch stores nothing new.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from pydantic import ValidationError

from plaudit_collector.schemas import MAX_TEXT, FeedbackIn

ANNOTATION_PREFIXES = (
    "annotations.",
    "evaluations.",
    "trace.annotations.",
    "trace.evaluations.",
    "session.annotations.",
    "session.evaluations.",
)
EVALUATION_EVENT = "gen_ai.evaluation.result"
LOGFIRE_SPAN_TYPE = "logfire.span_type"
LOGFIRE_FEEDBACK_NAME = "logfire.feedback.name"
LOGFIRE_FEEDBACK_COMMENT = "logfire.feedback.comment"

_ANNOTATION_KEY = re.compile(
    r"^(?:(trace|session)\.)?(annotations|evaluations)\.(\d+)\.(?:annotation|evaluation)\.([a-z_]+)$"
)
_SOURCES = {"HUMAN": "human", "LLM": "llm_judge", "CODE": "code"}
_LOGFIRE_NOISE = ("logfire.", "code.")


def has_annotations(attrs: dict[str, Any]) -> bool:
    return any(key.startswith(ANNOTATION_PREFIXES) for key in attrs)


def is_logfire_feedback(attrs: dict[str, Any]) -> bool:
    return attrs.get(LOGFIRE_SPAN_TYPE) == "annotation" and LOGFIRE_FEEDBACK_NAME in attrs


def idempotency_key(*parts: Any) -> str:
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()
    return f"otlp-{digest[:48]}"


def _score(value: Any) -> float | int | None:
    """Annotation scores are numbers; a producer that stringified them (Langfuse re-exports) is forgiven."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _metadata(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str) and raw.startswith("{"):
        try:
            doc = json.loads(raw)
        except ValueError:
            return {"metadata": raw}
        return doc if isinstance(doc, dict) else {"metadata": raw}
    return {} if raw is None else {"metadata": raw}


def _item(
    *,
    trace_id: str | None,
    span_id: str | None,
    session_id: str | None = None,
    name: Any,
    score: Any,
    label: Any,
    comment: Any,
    source: str,
    author: Any,
    metadata: dict[str, Any],
    key: str,
) -> dict[str, Any] | None:
    """A validated wire item, or None when the producer left out what feedback needs."""
    number = _score(score)
    text_label = label if isinstance(label, str) and label else None
    value: Any = number if number is not None else text_label
    if number is not None and text_label is not None:
        metadata = {**metadata, "label": text_label}
    if isinstance(comment, str):
        comment = comment[:MAX_TEXT]
    else:
        comment = None
    fields = {
        "trace_id": trace_id,
        "span_id": span_id,
        "session_id": session_id,
        "name": str(name)[:200] if name is not None else "",
        "value": value,
        "comment": comment,
        "source": source,
        "author": str(author)[:200] if author else None,
        "metadata": metadata or None,
        "idempotency_key": key,
    }
    try:
        item = FeedbackIn.model_validate(fields)
    except ValidationError:
        return None
    if item.is_empty():
        return None
    return item.model_dump()


def annotation_items(
    attrs: dict[str, Any],
    *,
    trace_id: str,
    span_id: str,
    link: tuple[str, str] | None,
) -> tuple[list[dict[str, Any]], int]:
    """Items from OpenInference annotation/evaluation attributes, and how many objects were unusable.

    ``link`` is the carrier's single span link (post-hoc feedback); without it the carrying span is the target.
    """
    groups: dict[tuple[str, str, int], dict[str, Any]] = {}
    for key, value in attrs.items():
        if not key.startswith(ANNOTATION_PREFIXES):
            continue
        match = _ANNOTATION_KEY.match(key)
        if match:
            scope, form, index, field = match.groups()
            groups.setdefault((scope or "span", form, int(index)), {})[field] = value
    target_trace, target_span = link if link else (trace_id, span_id)
    session_id = attrs.get("session.id")
    items: list[dict[str, Any]] = []
    skipped = 0
    for (scope, form, index), fields in sorted(groups.items()):
        metadata = _metadata(fields.get("metadata"))
        metadata.update(convention=f"openinference.{form}", scope=scope)
        for extra in ("annotator_kind", "identifier"):
            if fields.get(extra) is not None:
                metadata[extra] = fields[extra]
        item_trace: str | None = target_trace
        item_span = target_span if scope == "span" else None
        item_session = None
        if scope == "session":  # the session named by the carrying span, not its trace
            if not session_id:
                skipped += 1
                continue
            item_trace, item_session = None, str(session_id)[:200]
        item = _item(
            trace_id=item_trace,
            span_id=item_span,
            session_id=item_session,
            name=fields.get("name"),
            score=fields.get("score"),
            label=fields.get("label"),
            comment=fields.get("explanation"),
            source=_SOURCES.get(str(fields.get("annotator_kind", "")).upper(), "code"),
            author=fields.get("identifier"),
            metadata=metadata,
            key=idempotency_key(trace_id, span_id, scope, form, index, fields.get("name")),
        )
        if item is None:
            skipped += 1
            continue
        items.append(item)
    return items, skipped


def evaluation_event_item(
    attrs: dict[str, Any], *, target_trace: str, target_span: str | None, key_parts: tuple[Any, ...]
) -> dict[str, Any] | None:
    """One item from a ``gen_ai.evaluation.result`` event's attributes."""
    metadata: dict[str, Any] = {"convention": EVALUATION_EVENT}
    for extra in ("gen_ai.response.id", "gen_ai.evaluation.annotator_kind", "annotator_kind", "identifier"):
        if attrs.get(extra) is not None:
            metadata[extra.rsplit(".", 1)[-1] if extra.startswith("gen_ai.evaluation.") else extra] = attrs[extra]
    kind = attrs.get("gen_ai.evaluation.annotator_kind", attrs.get("annotator_kind"))
    return _item(
        trace_id=target_trace,
        span_id=target_span,
        name=attrs.get("gen_ai.evaluation.name"),
        score=attrs.get("gen_ai.evaluation.score.value"),
        label=attrs.get("gen_ai.evaluation.score.label"),
        comment=attrs.get("gen_ai.evaluation.explanation"),
        source=_SOURCES.get(str(kind).upper(), "llm_judge") if kind else "llm_judge",
        author=attrs.get("identifier"),
        metadata=metadata,
        key=idempotency_key(*key_parts),
    )


def logfire_item(attrs: dict[str, Any], *, trace_id: str, span_id: str, parent_id: str | None) -> dict[str, Any] | None:
    """The item a Logfire ``record_feedback`` span carries; its parent span is the target."""
    name = attrs.get(LOGFIRE_FEEDBACK_NAME)
    value = attrs.get(name) if isinstance(name, str) else None
    metadata = {
        key: val
        for key, val in attrs.items()
        if key != name and not key.startswith(_LOGFIRE_NOISE) and not key.startswith(ANNOTATION_PREFIXES)
    }
    metadata["convention"] = "logfire.feedback"
    fields = {
        "trace_id": trace_id,
        "span_id": parent_id,
        "name": str(name)[:200] if name is not None else "",
        "value": value if isinstance(value, (bool, int, float, str)) else None,
        "comment": attrs.get(LOGFIRE_FEEDBACK_COMMENT),
        "source": "human",
        "metadata": metadata,
        "idempotency_key": idempotency_key(trace_id, span_id, "logfire", name),
    }
    try:
        item = FeedbackIn.model_validate(fields)
    except ValidationError:
        return None
    return None if item.is_empty() else item.model_dump()
