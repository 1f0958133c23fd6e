"""The judge's side of the conversation: the answer format it is asked for, and reading its reply.

The judge is asked for one JSON object ``{"reasoning": "...", "score": ...}``. Replies are read leniently
(a JSON object anywhere in the text, else a ``score: N`` line) and checked strictly against the scale:
a value off the scale is a failed attempt, never a stored rating.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_REASONING = 8000
_SCORE_LINE = re.compile(r"score\"?\s*[:=]\s*\"?([A-Za-z0-9_.+-]+)", re.IGNORECASE)


class ReplyError(ValueError):
    """The reply holds no usable score."""


def scale_text(config: dict[str, Any]) -> str:
    """The scale in words, for the instructions and the ``{{scale}}`` placeholder."""
    kind = config.get("type")
    if kind == "boolean":
        return "true or false"
    if kind == "categorical":
        return "one of " + ", ".join(json.dumps(c) for c in config.get("categories") or [])
    low, high = config.get("min"), config.get("max")
    if low is not None and high is not None:
        integer = float(low).is_integer() and float(high).is_integer()
        return f"{'an integer' if integer else 'a number'} from {low:g} to {high:g}"
    return "a number"


def instructions(score: str, config: dict[str, Any]) -> str:
    """The system message: who the judge is and the exact answer format."""
    return (
        f"You are an evaluator. Rate the response for '{score}' on this scale: {scale_text(config)}. "
        'Answer with one JSON object and nothing else: {"reasoning": "<one short paragraph>", "score": <value>}.'
    )


def parse_reply(text: str, config: dict[str, Any]) -> tuple[Any, str | None]:
    """(value on the scale, reasoning) from the judge's reply.

    Raises:
        ReplyError: no score in the reply, or a score off the scale.
    """
    raw, reasoning = _find(text)
    return _on_scale(raw, config), (reasoning[:MAX_REASONING] if reasoning else None)


def _find(text: str) -> tuple[Any, str | None]:
    decoder = json.JSONDecoder()
    for start in [m.start() for m in re.finditer(r"\{", text)]:
        try:
            obj, _end = decoder.raw_decode(text, start)
        except ValueError:
            continue
        if isinstance(obj, dict) and "score" in obj:
            reasoning = obj.get("reasoning") or obj.get("explanation")
            return obj["score"], str(reasoning) if reasoning is not None else None
    match = _SCORE_LINE.search(text)
    if match:
        return match.group(1), text.strip() or None
    raise ReplyError(f"no score in the reply: {text[:200]!r}")


def _on_scale(raw: Any, config: dict[str, Any]) -> Any:
    kind = config.get("type", "numeric")
    if kind == "boolean":
        if isinstance(raw, bool):
            return raw
        word = str(raw).strip().lower()
        if word in ("true", "yes", "1", "pass"):
            return True
        if word in ("false", "no", "0", "fail"):
            return False
        raise ReplyError(f"score {raw!r} is not true or false")
    if kind == "categorical":
        categories = config.get("categories") or []
        if isinstance(raw, str) and raw in categories:
            return raw
        raise ReplyError(f"score {raw!r} is not one of {categories}")
    if isinstance(raw, bool):
        raise ReplyError(f"score {raw!r} is not a number")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ReplyError(f"score {raw!r} is not a number") from None
    if not math.isfinite(value):
        raise ReplyError(f"score {raw!r} is not a finite number")
    low, high = config.get("min"), config.get("max")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ReplyError(f"score {raw!r} is off the scale ({scale_text(config)})")
    return int(value) if value.is_integer() and abs(value) < 2**53 else value
