"""Plaudit's own OpenAI and Anthropic spans, sent to a real collector, get a cost estimated from the price
table at ingest (marked as estimated), which the leaderboard then reports per group."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest
from fake_provider import INPUT_TOKENS, OUTPUT_TOKENS, FakeProvider
from genai_prices import Usage, calc_price

import plaudit
from plaudit._internal import errors


@pytest.fixture
def configured(collector: Any) -> Iterator[Any]:
    errors.RAISE_INTERNAL_ERRORS = True
    plaudit.configure(endpoint=collector.url, service_name="cost-tests")
    try:
        yield collector
    finally:
        plaudit.shutdown()


def _llm_spans(http: httpx.Client, provider: str) -> list[dict[str, Any]]:
    found = []
    for trace in http.get("/v1/traces", params={"limit": 500}).json()["traces"]:
        spans = http.get(f"/v1/traces/{trace['trace_id']}").json()["spans"]
        found += [s for s in spans if s["provider"] == provider]
    return found


def test_openai_spans_carry_an_estimated_cost(configured: Any, fake: FakeProvider) -> None:
    handle = plaudit.instrument_openai()
    try:
        client = openai.OpenAI(api_key="k", base_url=fake.openai_url, max_retries=0)
        for variant in ("a", "b"):
            for _ in range(3):
                with plaudit.span("answer", variant=variant) as span:
                    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
                    plaudit.feedback(span.ref, "thumbs", variant == "a")
    finally:
        handle.uninstrument()
    assert plaudit.flush()
    with httpx.Client(base_url=configured.url) as http:
        spans = _llm_spans(http, "openai")
        assert len(spans) == 6
        expected = calc_price(
            Usage(input_tokens=INPUT_TOKENS, output_tokens=OUTPUT_TOKENS, cache_read_tokens=2),
            "gpt-4o-mini-2024-07-18",
            provider_id="openai",
        ).total_price
        for span in spans:
            assert span["cost_estimated"] is True
            assert span["cost"] == pytest.approx(float(expected), rel=1e-9)
        board = http.get("/v1/analytics/leaderboard", params={"score": "thumbs", "min_count": 1}).json()
        rows = {row["group"]["variant"]: row for row in board["rows"]}
        assert rows["a"]["cost_mean"] == pytest.approx(float(expected))
        assert rows["a"]["score_per_dollar"] == pytest.approx(1.0 / float(expected))
        assert rows["b"]["score_per_dollar"] == 0.0


def test_anthropic_spans_carry_an_estimated_cost(configured: Any, fake: FakeProvider) -> None:
    handle = plaudit.instrument_anthropic()
    try:
        client = anthropic.Anthropic(api_key="k", base_url=fake.anthropic_url, max_retries=0)
        client.messages.create(
            model="claude-3-5-haiku-latest", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
        )
    finally:
        handle.uninstrument()
    assert plaudit.flush()
    with httpx.Client(base_url=configured.url) as http:
        (span,) = _llm_spans(http, "anthropic")
    assert span["cost_estimated"] is True and span["cost"] > 0
