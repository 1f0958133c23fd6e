"""OTLP spans → span rows and the feedback they carry (pure: a decoded request in, an IngestBatch out).

Each span is checked (ids), normalised (:mod:`.conventions` maps the LLM attribute conventions to one set of
columns) and checked for carried feedback (:mod:`.carried_feedback`): a span that only carries feedback (a
post-hoc annotation span, a Logfire feedback span) becomes feedback items, not a row.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from plaudit import semconv
from plaudit_collector.ingest import carried_feedback, content, decode
from plaudit_collector.ingest.batch import IngestBatch
from plaudit_collector.ingest.conventions import normalise, without_content
from plaudit_collector.ingest.prices import estimate_cost

MAX_TIME_NS = 2**63 - 1
"""fixed64 on the wire, signed 64-bit in the database: absurd far-future times are clamped."""

_ZERO_TRACE = bytes(16)
_ZERO_SPAN = bytes(8)
_NO_EXPERIMENT = (None, None, None, None)
_NO_DIMENSIONS = (None, None, None)
MAX_DIMENSION_VALUE = 200


def dimension_text(value: Any) -> str | None:
    """An attribute value as a declared dimension keeps it: text, the way PostgreSQL's ``->>`` reads it
    (strings as they are, ``true``/``false``, numbers positional (``1e20`` is ``100000000000000000000``), lists
    and maps in JSON), the first 200 characters."""
    if value is None:
        return None
    if isinstance(value, str):
        return value[:MAX_DIMENSION_VALUE]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isfinite(value):  # positional, as PostgreSQL prints a JSON number
        return format(Decimal(repr(value)), "f")[:MAX_DIMENSION_VALUE]
    return json.dumps(value, ensure_ascii=False)[:MAX_DIMENSION_VALUE]


def _dimension_values(attrs: dict[str, Any], keys: tuple[str | None, ...]) -> tuple[str | None, ...]:
    return tuple(None if key is None else dimension_text(attrs.get(key)) for key in keys)


def _text(value: Any, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def _experiment(attrs: dict[str, Any]) -> tuple[str | None, str | None, float | None, str | None]:
    """(experiment, segment, probability, choice id) of a span an experiment's choice stamped.

    A probability outside (0, 1] cannot weigh an estimate, so it is kept in the attributes only."""
    probability = attrs.get(semconv.EXPERIMENT_PROBABILITY)
    if isinstance(probability, bool) or not isinstance(probability, (int, float)) or not 0 < probability <= 1:
        probability = None
    segment = attrs.get(semconv.EXPERIMENT_SEGMENT)
    return (
        _text(attrs.get(semconv.EXPERIMENT), 200),
        _text(segment if not isinstance(segment, (bool, int, float)) else str(segment), 200),
        None if probability is None else float(probability),
        _text(attrs.get(semconv.EXPERIMENT_CHOICE), 64),
    )


def _event_dicts(span: Any, store_content: bool) -> list[dict[str, Any]]:
    events = []
    for ev in span.events:
        attrs = decode.attributes(ev.attributes)
        if not store_content:
            attrs = without_content(attrs, event=True)
        events.append({"name": decode.text(ev.name), "time_ns": ev.time_unix_nano, "attributes": attrs})
    return events


def _link(link: Any, store_content: bool) -> dict[str, Any]:
    """A span link as stored: its ids, and its attributes unless the project stores no content."""
    ids = {"trace_id": link.trace_id.hex(), "span_id": link.span_id.hex()}
    return {**ids, **decode.attributes(link.attributes)} if store_content else ids


def build_batch(
    request: ExportTraceServiceRequest,
    project: str,
    *,
    received: Any,
    store_content: bool = True,
    dimensions: Sequence[str | None] = (),
) -> IngestBatch:
    """Turn a decoded OTLP request into span rows (tuples in ``SPAN_COLUMNS`` order) and feedback items.

    A span with malformed ids is rejected on its own (OTLP partial success); feedback carriers
    (OpenInference post-hoc annotations, Logfire annotation spans) become feedback, not spans.
    ``received`` is the ``received_at`` value every row carries, in the form the database wants;
    ``dimensions`` the attribute key of each declared slot (``store/dimensions.py``).
    """
    batch = IngestBatch(project)
    rows = batch.rows
    kind_names = decode.KIND_NAMES
    status_names = decode.STATUS_NAMES
    attributes = decode.attributes
    dumps = decode.dumps
    feedback_prefixes = carried_feedback.ANNOTATION_PREFIXES
    content_keys, lean = content.CONTENT_KEYS, content.lean
    logfire_feedback = carried_feedback.LOGFIRE_FEEDBACK_NAME
    experiment_key = semconv.EXPERIMENT
    text = decode.text
    declared = any(key is not None for key in dimensions)
    dim_keys = tuple(dimensions) + (None,) * (len(_NO_DIMENSIONS) - len(dimensions))
    for rs in request.resource_spans:
        resource = attributes(rs.resource.attributes)
        service = resource.get("service.name")
        service_name = str(service)[:200] if service not in (None, "") else None
        resource_json = dumps(resource)
        for ss in rs.scope_spans:
            scope = decode.text(ss.scope.name[:200]) or None
            for span in ss.spans:
                tid, sid, pid = span.trace_id, span.span_id, span.parent_span_id
                if len(tid) != 16 or tid == _ZERO_TRACE:
                    batch.reject(
                        f"span {span.name[:60]!r}: trace_id must be 16 non-zero bytes (32 hex characters)", "trace_id"
                    )
                    continue
                if len(sid) != 8 or sid == _ZERO_SPAN:
                    batch.reject(
                        f"span {span.name[:60]!r}: span_id must be 8 non-zero bytes (16 hex characters)", "span_id"
                    )
                    continue
                if pid and len(pid) != 8:
                    batch.reject(
                        f"span {span.name[:60]!r}: parent_span_id must be 8 bytes (16 hex characters)", "parent_span_id"
                    )
                    continue
                trace_id, span_id = tid.hex(), sid.hex()
                parent_id = pid.hex() if pid and pid != _ZERO_SPAN else None
                attrs = attributes(span.attributes)
                events = _event_dicts(span, store_content) if span.events else []
                links = [_link(link, store_content) for link in span.links] if span.links else []
                carries_feedback = bool(events) or logfire_feedback in attrs
                if not carries_feedback:
                    for key in attrs:  # a plain loop: cheaper than any() over a generator on the hot path
                        if key.startswith(feedback_prefixes):
                            carries_feedback = True
                            break
                if carries_feedback:
                    if _collect_feedback(batch, attrs, events, links, trace_id, span_id, parent_id):
                        continue  # a feedback carrier: its content is the feedback, not a span to analyse
                start = min(span.start_time_unix_nano, MAX_TIME_NS)
                end = min(span.end_time_unix_nano, MAX_TIME_NS)
                if end < start:
                    end = start
                norm = normalise(attrs)
                cost = norm["cost"]
                estimated = False
                if cost is None and norm["provider"] is not None:
                    model = norm["response_model"] or norm["model"]
                    cost = estimate_cost(
                        norm["provider"], model, norm["input_tokens"], norm["output_tokens"], attrs, start
                    )
                    estimated = cost is not None
                status = span.status
                status_message = text(status.message) or None
                if not store_content:
                    attrs = without_content(attrs)
                    norm["input"] = norm["output"] = status_message = None
                elif norm["input"] is not None or norm["output"] is not None or content_keys in attrs:
                    attrs = lean(attrs, norm["input"], norm["output"], (norm["input_key"], norm["output_key"]))
                rows.append(
                    (
                        project,
                        trace_id,
                        span_id,
                        parent_id,
                        text(span.name[:1000]) or "(unnamed)",
                        kind_names.get(span.kind, "INTERNAL"),
                        norm["span_kind"],
                        start,
                        end,
                        (end - start) / 1e6,
                        status_names.get(status.code, "UNSET"),
                        status_message,
                        service_name,
                        norm["model"],
                        norm["response_model"],
                        norm["provider"],
                        norm["input_tokens"],
                        norm["output_tokens"],
                        cost,
                        estimated,
                        norm["input"],
                        norm["output"],
                        norm["prompt_name"],
                        norm["prompt_version"],
                        norm["config_hash"],
                        norm["variant"],
                        norm["user_id"],
                        norm["session_id"],
                        *(_experiment(attrs) if experiment_key in attrs else _NO_EXPERIMENT),
                        dumps(attrs),
                        resource_json,
                        scope,
                        dumps(events) if events else "[]",
                        dumps(links) if links else "[]",
                        received,
                        *(_dimension_values(attrs, dim_keys) if declared else _NO_DIMENSIONS),
                    )
                )
    return batch


def _collect_feedback(
    batch: IngestBatch,
    attrs: dict[str, Any],
    events: list[dict[str, Any]],
    links: list[dict[str, Any]],
    trace_id: str,
    span_id: str,
    parent_id: str | None,
) -> bool:
    """Add the span's feedback to the batch; True when the span only carried feedback (not stored as a span)."""
    if carried_feedback.is_logfire_feedback(attrs):
        item = carried_feedback.logfire_item(attrs, trace_id=trace_id, span_id=span_id, parent_id=parent_id)
        if item is None:
            batch.note(f"span {span_id}: Logfire feedback without a usable name and value ignored")
        else:
            batch.feedback.append(item)
        return True
    evaluations = [ev for ev in events if ev["name"] == carried_feedback.EVALUATION_EVENT]
    annotated = carried_feedback.has_annotations(attrs)
    if not annotated and not evaluations:
        return False
    carrier = len(links) == 1
    link = (links[0]["trace_id"], links[0]["span_id"]) if carrier else None
    skipped = 0
    if annotated:
        items, skipped = carried_feedback.annotation_items(attrs, trace_id=trace_id, span_id=span_id, link=link)
        batch.feedback.extend(items)
    target_trace, target_span = link if link else (trace_id, span_id)
    for index, ev in enumerate(evaluations):
        item = carried_feedback.evaluation_event_item(
            ev["attributes"],
            target_trace=target_trace,
            target_span=target_span,
            key_parts=(trace_id, span_id, "event", index, ev["time_ns"]),
        )
        if item is None:
            skipped += 1
        else:
            batch.feedback.append(item)
    if skipped:
        batch.note(f"span {span_id}: {skipped} feedback object(s) without a name and a result ignored")
    return carrier
