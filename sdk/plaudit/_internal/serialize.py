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


_ENCODER = json.JSONEncoder(default=_fallback, ensure_ascii=False, allow_nan=False)
"""Built once: ``json.dumps`` with options builds an encoder per call, a tenth of a traced call's cost."""


def _c_encode() -> Callable[[Any], str] | None:
    """The C encoder behind ``_ENCODER.encode``, called without the Python set-up ``encode`` repeats per call.

    ``json.encoder.c_make_encoder`` is CPython's accelerator; where it is missing or takes other arguments,
    the probe below fails and ``_ENCODER.encode`` is used. Each call gets a fresh circular-reference record,
    so threads may share it and a failed call leaves nothing behind.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    basestring = getattr(json.encoder, "c_encode_basestring", None)
    if make is None or basestring is None:
        return None
    sep, item_sep = _ENCODER.key_separator, _ENCODER.item_separator

    def encode(value: Any) -> str:
        if isinstance(value, str):
            return basestring(value)  # type: ignore[no-any-return]
        return "".join(make({}, _fallback, basestring, None, sep, item_sep, False, False, False)(value, 0))

    probe: dict[str, Any] = {"a": [1, 2.5, None, True], "é": {"b": "\n"}, "c": {1, 2}}
    try:
        if encode(probe) == _ENCODER.encode(probe):
            return encode
    except Exception:  # noqa: BLE001 - another interpreter's accelerator: use the portable path
        pass
    return None


_ENCODE: Callable[[Any], str] = _c_encode() or _ENCODER.encode


def dumps(value: Any, **kwargs: Any) -> str:
    """``json.dumps`` that never emits NaN/Infinity: non-finite floats become strings such as ``"nan"``."""
    try:
        if not kwargs:
            return _ENCODE(value)
        return json.dumps(value, default=_fallback, ensure_ascii=False, allow_nan=False, **kwargs)
    except ValueError as exc:
        if "Out of range float" not in str(exc):
            raise
        return json.dumps(_finite(value), default=_fallback, ensure_ascii=False, allow_nan=False, **kwargs)


def _finite_float(value: float) -> str | None:
    return float.__repr__(value) if math.isfinite(value) else None


encode_string: Callable[[str], str] = json.encoder.encode_basestring  # type: ignore[attr-defined]
_CONTROL_TO_HIGH = bytes(byte | 0x80 if byte < 0x20 else byte for byte in range(256))
"""A translation table that marks control characters: they alone become non-ASCII."""
LONG_STRING = 256


def quoted_as_is(value: str) -> bool:
    """Whether a long string's JSON is the string itself in quotes: ASCII with nothing to escape (no quote,
    backslash, newline or other control character). The checks run in C at about a third of what the encoder's
    scan-then-copy costs for 2 KB; multi-line text, quotes and backslashes are found first (memchr)."""
    if value.isascii() and "\n" not in value and '"' not in value and "\\" not in value:
        return value.encode("ascii").translate(_CONTROL_TO_HIGH).isascii()  # a control character left a high byte
    return False


def _json_string(value: str) -> str:
    """A string's JSON as the encoder writes it: a long one that :func:`quoted_as_is` passes is only quoted;
    short and other strings go to the encoder."""
    if len(value) >= LONG_STRING and quoted_as_is(value):
        return f'"{value}"'
    return encode_string(value)


SCALAR_JSON: dict[type, Callable[[Any], str | None]] = {
    str: _json_string,
    int: int.__repr__,
    bool: {True: "true", False: "false"}.__getitem__,
    type(None): lambda _: "null",
    float: _finite_float,
}
"""The JSON of a plain scalar, written as the shared encoder writes it, keyed by exact type; None for a
non-finite float, which only :func:`to_json` knows how to write. Lets a call's arguments be written without
building a dict of them or setting up the encoder (a tenth of a traced call)."""


def json_key(name: str) -> str:
    """``"name": ``, the start of a member of a JSON object as the shared encoder writes it."""
    return encode_string(name) + _ENCODER.key_separator


ITEM_SEPARATOR: str = _ENCODER.item_separator


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
            try:
                text = _ENCODE(value)
            except ValueError:
                text = dumps(value)  # NaN or Infinity inside are written as strings; a circular value raises again
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
        if type(value) is str and len(value) <= limit:
            return value  # the common reply: nothing to serialise or cut
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
