"""Each judge call becomes a span in the judge project (``<project>-judges``), written through the same
ingest pipeline as any OTLP export: its tokens, cost, latency and failures show up in that project's
leaderboard and traces, apart from the application's own."""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any

from plaudit import semconv
from plaudit_collector.pipeline import ingest_traces
from plaudit_collector.store.db import Database
from plaudit_collector.store.judges import author, trace_project

log = logging.getLogger("plaudit_collector.judges")
SERVICE = "plaudit-judges"
MAX_BODY = 16 * 1024 * 1024


def _value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    return {"stringValue": str(value)}


def record_call(
    db: Database,
    judge: Any,
    *,
    target: tuple[str, str],
    messages: list[dict[str, str]],
    reply: Any,
    error: str | None,
    start_ns: int,
    end_ns: int,
) -> str | None:
    """Store the call as one span; returns its trace id (None if it could not be stored: logged, never raised,
    since a lost trace must not lose the rating)."""
    trace_id = secrets.token_hex(16)
    attrs: dict[str, Any] = {
        semconv.SPAN_KIND: "llm",
        semconv.GEN_AI_PROVIDER_NAME: judge.provider,
        semconv.GEN_AI_REQUEST_MODEL: judge.model,
        semconv.VARIANT: author(judge.name, judge.hash),
        semconv.INPUT: json.dumps(messages),
        "plaudit.judge.name": judge.name,
        "plaudit.judge.hash": judge.hash,
        "plaudit.judge.target": f"{target[0]}/{target[1]}",
    }
    if reply is not None:
        attrs[semconv.OUTPUT] = reply.text
        if reply.model:
            attrs[semconv.GEN_AI_RESPONSE_MODEL] = reply.model
        if reply.input_tokens is not None:
            attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] = int(reply.input_tokens)
        if reply.output_tokens is not None:
            attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] = int(reply.output_tokens)
        cost = _cost(judge, reply)
        if cost is not None:
            attrs["gen_ai.usage.cost"] = cost
    span = {
        "traceId": trace_id,
        "spanId": secrets.token_hex(8),
        "name": f"judge {judge.name}",
        "kind": 3,
        "startTimeUnixNano": str(start_ns),
        "endTimeUnixNano": str(max(end_ns, start_ns)),
        "attributes": [{"key": k, "value": _value(v)} for k, v in attrs.items()],
        "status": {"code": 2, "message": error[:500]} if error else {"code": 1},
    }
    doc = {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": SERVICE}}]},
                "scopeSpans": [{"scope": {"name": "plaudit_collector.judges"}, "spans": [span]}],
            }
        ]
    }
    try:
        ingest_traces(
            db,
            trace_project(judge.project),
            json.dumps(doc).encode(),
            content_type="application/json",
            encoding=None,
            limit=MAX_BODY,
        )
    except Exception:
        log.warning("could not store the trace of judge %s's call", judge.name, exc_info=True)
        return None
    return trace_id


def _cost(judge: Any, reply: Any) -> float | None:
    if judge.input_cost_per_mtok is None and judge.output_cost_per_mtok is None:
        return None
    total = 0.0
    if judge.input_cost_per_mtok is not None and reply.input_tokens is not None:
        total += judge.input_cost_per_mtok * reply.input_tokens / 1e6
    if judge.output_cost_per_mtok is not None and reply.output_tokens is not None:
        total += judge.output_cost_per_mtok * reply.output_tokens / 1e6
    return total
