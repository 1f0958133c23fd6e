"""Helpers for judge tests: a deterministic fake judge, definitions, OTLP spans, reading ratings back."""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

import httpx

KEY_ENV = "JUDGE_TEST_API_KEY"


def judge_answer(body: dict[str, Any]) -> str:
    """A deterministic judge: the score is the answer's length mod 5, plus 1; the reasoning names it."""
    text = json.dumps(body)
    match = re.search(r"ANSWER<<(.*?)>>", text)
    answer = match.group(1) if match else ""
    return json.dumps({"reasoning": f"the answer has {len(answer)} characters", "score": len(answer) % 5 + 1})


def expected_score(answer: str) -> int:
    return len(answer) % 5 + 1


def chat_calls(fake: Any) -> list[dict[str, Any]]:
    return [r for r in fake.requests if r["path"].endswith(("/chat/completions", "/v1/messages"))]


def definition(fake: Any, provider: str = "openai", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "score": "helpfulness",
        "score_config": {"type": "numeric", "min": 1, "max": 5},
        "prompt": "Question: {{input}}\nANSWER<<{{output}}>>\nRate {{score}} as {{scale}}.",
        "provider": provider,
        "model": "judge-model",
        "base_url": fake.openai_url if provider == "openai" else fake.anthropic_url,
        "api_key_env": KEY_ENV,
        "filter": {"span_kind": ["llm"]},
    }
    body.update(overrides)
    return body


def llm_span(answer: str, *, kind: str = "llm", variant: str = "v1", model: str = "app-model") -> dict[str, Any]:
    """One OTLP JSON span with the attributes the SDK writes."""
    attrs = {
        "plaudit.span.kind": kind,
        "plaudit.input": json.dumps({"question": "why?"}),
        "plaudit.output": answer,
        "plaudit.variant": variant,
        "gen_ai.request.model": model,
    }
    return {
        "traceId": secrets.token_hex(16),
        "spanId": secrets.token_hex(8),
        "name": "answer",
        "kind": 1,
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": "1700000000005000000",
        "attributes": [{"key": k, "value": {"stringValue": v}} for k, v in attrs.items()],
        "status": {"code": 0},
    }


def judge_feedback(client: httpx.Client, span: dict[str, Any]) -> list[dict[str, Any]]:
    trace = client.get(f"/v1/traces/{span['traceId']}").json()
    found = [s for s in trace["spans"] if s["span_id"] == span["spanId"]]
    return [f for f in found[0]["feedback"] if f["source"] == "llm_judge"] if found else []
