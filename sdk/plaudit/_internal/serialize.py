"""Turn arbitrary Python values into bounded JSON strings for span attributes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from plaudit.semconv import TRUNCATION_MARKER


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


def to_json(value: Any, limit: int) -> str:
    """Serialise ``value``; strings pass through. Never raises; cuts past ``limit`` with a marker."""
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, default=_fallback, ensure_ascii=False)
        except Exception:  # noqa: BLE001 - circular or hostile values get a safe repr
            fallback = f"<unserialisable {type(value).__name__}>"
            text = fallback if isinstance(value, (dict, list)) else str(_fallback(value))
    if len(text) > limit:
        text = text[: limit - len(TRUNCATION_MARKER)] + TRUNCATION_MARKER
    return text


def config_hash(config: Mapping[str, Any]) -> str:
    """A stable short hash of a config: same content gives the same hash in any process and key order."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), default=_fallback, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def config_attributes(config: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """Flatten a config dict into scalar span attributes under ``prefix``."""
    attrs: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, (bool, int, float, str)):
            attrs[prefix + str(key)] = value
        else:
            attrs[prefix + str(key)] = json.dumps(value, sort_keys=True, default=_fallback)
    return attrs
