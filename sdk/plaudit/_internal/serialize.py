"""Turn arbitrary Python values into bounded JSON strings for span attributes."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping
from typing import Any

from plaudit.semconv import TRUNCATION_MARKER

REDACTION_FAILED = "[redaction failed]"
"""Put in place of a value whose redact hook raised: unredacted content never leaves the process."""


def _fallback(value: Any) -> Any:
    """Make anything JSON-friendly: pydantic models and dataclasses by their fields, the rest by repr."""
    try:
        dump = getattr(value, "model_dump", None)
        if callable(dump):
            return dump()
        fields = getattr(value, "__dataclass_fields__", None)
        if fields is not None:
            return {name: getattr(value, name, None) for name in fields}
    except Exception:  # noqa: BLE001 - a broken model_dump or a hostile __getattr__ falls back to repr
        pass
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    try:
        return repr(value)
    except Exception:  # noqa: BLE001 - even repr may fail on user objects
        return f"<unrepresentable {type(value).__name__}>"


def _finite(value: Any, depth: int = 0) -> Any:
    """A copy with NaN/Infinity floats as strings: they have no JSON form (RFC 8259) and break strict parsers."""
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if depth > 50:
        return value
    if isinstance(value, Mapping):
        return {k: _finite(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v, depth + 1) for v in value]
    return value


def dumps(value: Any, **kwargs: Any) -> str:
    """``json.dumps`` that never emits NaN/Infinity: non-finite floats become strings such as ``"nan"``."""
    try:
        return json.dumps(value, default=_fallback, ensure_ascii=False, allow_nan=False, **kwargs)
    except ValueError as exc:
        if "Out of range float" not in str(exc):
            raise
        return json.dumps(_finite(value), default=_fallback, ensure_ascii=False, allow_nan=False, **kwargs)


def truncate(text: str, limit: int) -> str:
    """Cut ``text`` to ``limit`` characters, ending with the truncation marker when cut."""
    if len(text) > limit:
        return text[: limit - len(TRUNCATION_MARKER)] + TRUNCATION_MARKER
    return text


def to_json(value: Any, limit: int) -> str:
    """Serialise ``value``; strings pass through. Never raises; cuts past ``limit`` with a marker."""
    if isinstance(value, str):
        text = value
    else:
        try:
            text = dumps(value)
        except Exception:  # noqa: BLE001 - circular or hostile values get a safe repr
            fallback = f"<unserialisable {type(value).__name__}>"
            text = fallback if isinstance(value, (dict, list)) else str(_fallback(value))
    return truncate(text, limit)


def redact_text(text: str, redact: Callable[[str], str]) -> str:
    """Apply the user's redact hook; a hook that fails or returns a non-string hides the whole value."""
    try:
        result = redact(text)
    except Exception:  # noqa: BLE001 - a broken hook must not leak the content nor break the call
        from plaudit._internal.errors import logger

        logger.warning("Plaudit's redact hook raised; the value was replaced by %r", REDACTION_FAILED, exc_info=True)
        return REDACTION_FAILED
    return result if isinstance(result, str) else REDACTION_FAILED


def capture_text(value: Any, limit: int, redact: Callable[[str], str] | None) -> str:
    """The text recorded for a captured value: JSON (or the string itself), redacted, then truncated.

    Redaction runs on the whole text before the cut, so a secret straddling the limit is still found;
    the serialised form is first bounded to a generous multiple of the limit to keep the hook's cost bounded.
    """
    if redact is None:
        return to_json(value, limit)
    text = to_json(value, max(limit * 4, limit + 4096))
    return truncate(redact_text(text, redact), limit)


def config_hash(config: Mapping[str, Any]) -> str:
    """A stable short hash of a config: same content gives the same hash in any process and key order."""
    canonical = dumps(config, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def config_attributes(config: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """Flatten a config dict into scalar span attributes under ``prefix``."""
    attrs: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, (bool, int, str)) or (isinstance(value, float) and math.isfinite(value)):
            attrs[prefix + str(key)] = value
        elif isinstance(value, float):
            attrs[prefix + str(key)] = str(value)
        else:
            attrs[prefix + str(key)] = dumps(value, sort_keys=True)
    return attrs
