"""Seed a real collector with spans (OTLP/JSON over HTTP) and feedback (POST /v1/feedback) for the
analytics tests: ids are deterministic, start times and attributes are chosen by the test."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import httpx

DAY_NS = 86_400 * 10**9
BASE_NS = 1_767_225_600 * 10**9  # 2026-01-01T00:00:00Z, a Thursday


def _value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, (list, tuple)):
        return {"arrayValue": {"values": [_value(v) for v in value]}}
    return {"stringValue": str(value)}


@dataclass
class Seeder:
    """Builds spans and feedback, then sends them in batches through the collector's public routes."""

    http: httpx.Client
    spans: list[dict[str, Any]] = field(default_factory=list)
    feedback: list[dict[str, Any]] = field(default_factory=list)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def span(
        self,
        *,
        name: str = "chat",
        start_ns: int = BASE_NS,
        duration_ms: float = 100.0,
        error: bool = False,
        trace_id: str | None = None,
        parent_span_id: str | None = None,
        **attributes: Any,
    ) -> tuple[str, str]:
        """Queue one span; keyword attributes use their OTel keys with dots written as ``__``."""
        n = next(self._ids)
        trace_id = trace_id or f"{n:032x}"
        span_id = f"{n:016x}"
        attrs = {key.replace("__", "."): value for key, value in attributes.items() if value is not None}
        span: dict[str, Any] = {
            "traceId": trace_id,
            "spanId": span_id,
            "name": name,
            "kind": 1,
            "startTimeUnixNano": str(start_ns),
            "endTimeUnixNano": str(start_ns + int(duration_ms * 1e6)),
            "attributes": [{"key": k, "value": _value(v)} for k, v in attrs.items()],
            "status": {"code": 2, "message": "boom"} if error else {},
        }
        if parent_span_id:
            span["parentSpanId"] = parent_span_id
        self.spans.append(span)
        return trace_id, span_id

    def rate(self, ref: tuple[str, str | None], name: str, value: Any, **extra: Any) -> None:
        self.feedback.append({"trace_id": ref[0], "span_id": ref[1], "name": name, "value": value, **extra})

    def prefer(
        self, a: tuple[str, str], b: tuple[str, str], winner: str, name: str = "preference", **extra: Any
    ) -> None:
        self.feedback.append(
            {
                "trace_id": a[0],
                "span_id": a[1],
                "other_trace_id": b[0],
                "other_span_id": b[1],
                "name": name,
                "value": winner,
                **extra,
            }
        )

    def rate_session(self, session_id: str, name: str, value: Any, **extra: Any) -> None:
        self.feedback.append({"session_id": session_id, "name": name, "value": value, **extra})

    def send(self, batch: int = 1000) -> None:
        for start in range(0, len(self.spans), batch):
            body = {
                "resourceSpans": [
                    {
                        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "seed"}}]},
                        "scopeSpans": [{"scope": {"name": "seed"}, "spans": self.spans[start : start + batch]}],
                    }
                ]
            }
            response = self.http.post("/v1/traces", json=body)
            assert response.status_code == 200, response.text
        for start in range(0, len(self.feedback), batch):
            response = self.http.post("/v1/feedback", json={"items": self.feedback[start : start + batch]})
            assert response.status_code in (200, 201), response.text
        self.spans.clear()
        self.feedback.clear()
