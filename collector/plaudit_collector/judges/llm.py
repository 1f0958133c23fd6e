"""One judge call through the real ``openai`` or ``anthropic`` client (any OpenAI-compatible chat API, or
Anthropic's Messages API), with the errors sorted into "retry later" and "give up".

The clients' own retries are off (``max_retries=0``): retries belong to the durable ledger, so a restart
neither loses nor repeats them. Clients are cached per endpoint and key, reusing their connection pools.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Any

from plaudit_collector.store.judges import key_env

RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 529})


@dataclass(frozen=True)
class Reply:
    """What the model answered, with usage and timing for the judge's own trace."""

    text: str
    model: str | None
    input_tokens: int | None
    output_tokens: int | None


class CallError(Exception):
    """A failed call: ``retryable`` (rate limit, overload, network) or not; ``retry_after`` from the provider."""

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


_clients: dict[tuple[str, str | None, str], Any] = {}
_lock = threading.Lock()


def _client(provider: str, base_url: str | None, key: str, timeout: float) -> Any:
    cache_key = (provider, base_url, key)
    with _lock:
        client = _clients.get(cache_key)
        if client is None:
            if provider == "anthropic":
                import anthropic

                client = anthropic.Anthropic(api_key=key, base_url=base_url, max_retries=0, timeout=timeout)
            else:
                import openai

                client = openai.OpenAI(api_key=key, base_url=base_url, max_retries=0, timeout=timeout)
            _clients[cache_key] = client
    return client


def call(judge: Any, system: str, user: str, *, timeout: float = 60.0) -> Reply:
    """Ask the judge's model; raises :class:`CallError`."""
    env = key_env(judge)
    key = os.environ.get(env)
    if not key:
        if judge.base_url is None:
            raise CallError(f"no API key: set ${env} where the judge runs", retryable=False)
        key = "unused"  # a local OpenAI-compatible server often takes none
    client = _client(judge.provider, judge.base_url, key, timeout)
    try:
        if judge.provider == "anthropic":
            return _anthropic(client, judge, system, user)
        return _openai(client, judge, system, user)
    except CallError:
        raise
    except Exception as exc:
        raise _classify(exc) from exc


def _openai(client: Any, judge: Any, system: str, user: str) -> Reply:
    kwargs: dict[str, Any] = {}
    if judge.temperature is not None:
        kwargs["temperature"] = judge.temperature
    response = client.chat.completions.create(
        model=judge.model,
        messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
        max_tokens=judge.max_tokens,
        **kwargs,
    )
    choice = response.choices[0] if response.choices else None
    text = (choice.message.content or "") if choice is not None else ""
    usage = response.usage
    return Reply(
        text=text,
        model=response.model,
        input_tokens=getattr(usage, "prompt_tokens", None),
        output_tokens=getattr(usage, "completion_tokens", None),
    )


def _anthropic(client: Any, judge: Any, system: str, user: str) -> Reply:
    kwargs: dict[str, Any] = {}
    if judge.temperature is not None:
        # not a typed parameter of the current client (newer models fix it), still accepted by the API
        kwargs["extra_body"] = {"temperature": min(float(judge.temperature), 1.0)}
    response = client.messages.create(
        model=judge.model,
        system=system,
        messages=[{"role": "user", "content": user}],
        max_tokens=judge.max_tokens,
        **kwargs,
    )
    text = "".join(getattr(block, "text", "") for block in response.content if getattr(block, "type", "") == "text")
    usage = response.usage
    return Reply(
        text=text,
        model=response.model,
        input_tokens=getattr(usage, "input_tokens", None),
        output_tokens=getattr(usage, "output_tokens", None),
    )


def _classify(exc: Exception) -> CallError:
    status = getattr(exc, "status_code", None)
    name = type(exc).__name__
    if status is None:
        # connection errors and timeouts (APIConnectionError, APITimeoutError) have no status
        retryable = "Connection" in name or "Timeout" in name
        return CallError(f"{name}: {str(exc)[:500]}", retryable=retryable)
    retry_after = None
    response = getattr(exc, "response", None)
    header = response.headers.get("retry-after") if response is not None else None
    if header:
        try:
            retry_after = max(0.0, float(header))
        except ValueError:
            retry_after = None
    return CallError(f"HTTP {status}: {str(exc)[:500]}", retryable=status in RETRYABLE_STATUS, retry_after=retry_after)


def now_ns() -> int:
    return time.time_ns()
