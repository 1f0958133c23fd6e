"""Estimated cost of an LLM span from ``genai-prices`` (pydantic's maintained price database).

A span that names its provider and model and reports token counts, but no cost, gets the cost those tokens
had on the day the span started: input tokens at the input price, cached input at the cache-read and
cache-write prices, output tokens (which include reasoning tokens, as OpenTelemetry counts them) at the
output price. A cost the producer sent always wins.

Speed: the library's general calculation costs about 0.1 ms, too much for every span of a busy ingest, so
for each price set (a model's prices in force on a date) it is asked once per kind of token and the result
kept as per-token rates; a price set with tiers (price by context length) goes through the library every
time. ``tests/collector/test_ingest_cost.py`` checks the rates give the library's own answer.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

from plaudit import semconv

logger = logging.getLogger("plaudit_collector.ingest")

CACHE_READ_KEYS = (semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, "gen_ai.usage.cache_read_input_tokens")
CACHE_WRITE_KEYS = ("gen_ai.usage.cache_write.input_tokens", "gen_ai.usage.cache_creation_input_tokens")
PROVIDER_ALIASES = {"x_ai": "x-ai", "xai": "x-ai", "mistral_ai": "mistral", "az.ai.openai": "azure"}
"""OpenTelemetry ``gen_ai.provider.name`` values the price database spells differently."""
_UNIT = 1_000_000
_MISSING: Any = object()

_models: dict[tuple[str, str], Any] = {}
"""(provider, model) → (provider, model info) from the database, or None when it has no such model."""
_rates: dict[int, tuple[Any, tuple[float, float, float, float] | None]] = {}
"""id(price set) → (the price set, per-token rates for input, cache read, cache write, output; None: tiered)."""
_fixed: dict[tuple[str, str], tuple[float, float, float, float]] = {}
"""(provider, model) → its rates, for a model with one untiered price set whatever the date (most models):
those spans need neither the lookup nor the date."""


def _lookup(provider: str, model: str) -> Any:
    key = (provider, model)
    found = _models.get(key, _MISSING)
    if found is _MISSING:
        from genai_prices import data_snapshot

        try:
            found = data_snapshot.get_snapshot().find_provider_model(
                model, None, PROVIDER_ALIASES.get(provider.lower(), provider), None
            )
        except LookupError:
            found = None
        if len(_models) < 10_000:  # bounded: model names come from the network
            _models[key] = found
    return found


def _price(info: Any, usage: dict[str, int], when: datetime) -> float | None:
    from genai_prices import Usage

    provider, model = info
    result = model.calc_price(Usage(**usage), provider, genai_request_timestamp=when)
    return float(result.total_price)


def _rates_for(info: Any, when: datetime) -> tuple[float, float, float, float] | None:
    from genai_prices.types import TieredPrices

    prices = info[1].get_prices(when)
    cached = _rates.get(id(prices))
    if cached is not None and cached[0] is prices:
        return cached[1]
    if any(isinstance(value, TieredPrices) for value in vars(prices).values()):
        rates = None
    else:
        rates = (
            _price(info, {"input_tokens": _UNIT}, when) / _UNIT,
            _price(info, {"input_tokens": _UNIT, "cache_read_tokens": _UNIT}, when) / _UNIT,
            _price(info, {"input_tokens": _UNIT, "cache_write_tokens": _UNIT}, when) / _UNIT,
            _price(info, {"output_tokens": _UNIT}, when) / _UNIT,
        )
    _rates[id(prices)] = (prices, rates)
    return rates


def _dateless(info: Any) -> bool:
    """True when the model has one price set, not prices that change on a date or at a time of day."""
    from genai_prices.types import ModelPrice

    return isinstance(info[1].prices, ModelPrice)


def _count(attrs: dict[str, Any], keys: tuple[str, ...]) -> int:
    for key in keys:
        value = attrs.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return 0


def estimate_cost(
    provider: str | None,
    model: str | None,
    input_tokens: int | None,
    output_tokens: int | None,
    attrs: dict[str, Any],
    start_ns: int,
) -> float | None:
    """The span's cost in USD from the price table, or None when it cannot be priced."""
    if not provider or not model or (input_tokens is None and output_tokens is None):
        return None
    tokens_in, tokens_out = input_tokens or 0, output_tokens or 0
    if tokens_in < 0 or tokens_out < 0:
        return None
    try:
        cache_read = min(_count(attrs, CACHE_READ_KEYS), tokens_in)
        cache_write = min(_count(attrs, CACHE_WRITE_KEYS), tokens_in - cache_read)
        rates = _fixed.get((provider, model))
        if rates is None:
            info = _lookup(provider, model)
            if info is None:
                return None
            when = datetime.fromtimestamp(start_ns / 1e9, tz=timezone.utc)
            rates = _rates_for(info, when)
            if rates is None:
                usage = {"input_tokens": tokens_in, "output_tokens": tokens_out}
                usage.update(
                    {k: v for k, v in (("cache_read_tokens", cache_read), ("cache_write_tokens", cache_write)) if v}
                )
                return _price(info, usage, when)
            if _dateless(info) and len(_fixed) < 10_000:
                _fixed[(provider, model)] = rates
        rate_in, rate_read, rate_write, rate_out = rates
        plain = tokens_in - cache_read - cache_write
        return plain * rate_in + cache_read * rate_read + cache_write * rate_write + tokens_out * rate_out
    except Exception:
        logger.debug("no price for %s/%s", provider, model, exc_info=True)
        return None
