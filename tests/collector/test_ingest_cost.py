"""Estimated cost at ingest: the cached per-token rates give the price table's own answer, a producer's cost
wins, and spans the table cannot price keep no cost."""

from __future__ import annotations

import random
from datetime import datetime, timezone
from typing import Any

import httpx
import pytest
from genai_prices import Usage, calc_price

from plaudit_collector.ingest.prices import estimate_cost

MODELS = [
    ("openai", "gpt-4o"),
    ("openai", "gpt-4o-mini-2024-07-18"),
    ("openai", "o3-mini"),
    ("anthropic", "claude-3-5-sonnet-20241022"),
    ("anthropic", "claude-3-5-haiku-latest"),
    ("gcp.gemini", "gemini-1.5-pro"),  # tiered by context length: priced by the library itself
    ("mistral_ai", "mistral-large-latest"),
]
WHEN_NS = 1_767_225_600 * 10**9


@pytest.mark.parametrize(("provider", "model"), MODELS)
def test_the_rates_give_the_price_tables_answer(provider: str, model: str) -> None:
    rng = random.Random(7)
    aliases = {"gcp.gemini": "google", "mistral_ai": "mistral"}
    for _ in range(50):
        tokens_in = rng.randrange(0, 300_000)
        cached = rng.randrange(0, tokens_in + 1) if rng.random() < 0.5 else 0
        written = rng.randrange(0, tokens_in - cached + 1) if provider == "anthropic" and rng.random() < 0.5 else 0
        tokens_out = rng.randrange(0, 20_000)
        attrs: dict[str, Any] = {}
        usage: dict[str, int] = {"input_tokens": tokens_in, "output_tokens": tokens_out}
        if cached:
            attrs["gen_ai.usage.cache_read.input_tokens"] = cached
            usage["cache_read_tokens"] = cached
        if written:
            attrs["gen_ai.usage.cache_write.input_tokens"] = written
            usage["cache_write_tokens"] = written
        expected = calc_price(
            Usage(**usage),
            model,
            provider_id=aliases.get(provider, provider),
            genai_request_timestamp=datetime.fromtimestamp(WHEN_NS / 1e9, tz=timezone.utc),
        ).total_price
        got = estimate_cost(provider, model, tokens_in, tokens_out, attrs, WHEN_NS)
        assert got == pytest.approx(float(expected), rel=1e-9, abs=1e-12), (usage, got, expected)


def test_what_cannot_be_priced_has_no_cost() -> None:
    assert estimate_cost("openai", "no-such-model", 10, 10, {}, WHEN_NS) is None
    assert estimate_cost("no-such-provider", "gpt-4o", 10, 10, {}, WHEN_NS) is None
    assert estimate_cost(None, "gpt-4o", 10, 10, {}, WHEN_NS) is None
    assert estimate_cost("openai", "gpt-4o", None, None, {}, WHEN_NS) is None
    assert estimate_cost("openai", "gpt-4o", -5, 10, {}, WHEN_NS) is None
    assert estimate_cost("openai", "gpt-4o", 10, 10, {"gen_ai.usage.cache_read.input_tokens": 10**9}, WHEN_NS) > 0


def test_a_producers_cost_wins(http: httpx.Client, otlp: Any) -> None:
    usage = {"gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 1000}
    sent = otlp.span("priced", {**usage, "gen_ai.usage.cost": 0.5})
    estimated = otlp.span("estimated", usage)
    unknown = otlp.span("unknown", {**usage, "gen_ai.request.model": "in-house-model"})
    assert http.post("/v1/traces", json=otlp.request([sent, estimated, unknown])).status_code == 200
    spans = {}
    for span in (sent, estimated, unknown):
        (stored,) = http.get(f"/v1/traces/{span['traceId']}").json()["spans"]
        spans[stored["name"]] = (stored["cost"], stored["cost_estimated"])
    assert spans["priced"] == (0.5, False)
    assert spans["estimated"][0] == pytest.approx(1000 * 2.5e-6) and spans["estimated"][1] is True
    assert spans["unknown"] == (None, False)
