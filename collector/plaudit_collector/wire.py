"""What client-sent text and JSON must be before it is stored: one policy, applied where data comes in.

PostgreSQL text cannot hold NUL (``\\x00``), and a lone surrogate (``"\\ud800"``, which JSON escapes can
produce) cannot be encoded as UTF-8, so a row holding one breaks every later read of it. Hence:

* **Text content** (span names, attribute keys and values, inputs and outputs, comments, corrections,
  descriptions, metadata values): each NUL or lone surrogate is replaced by U+FFFD, the Unicode replacement
  character. Telemetry is never refused for its characters.
* **Names, ids and keys sent to the JSON API** (feedback names, labels, authors, sources, session ids,
  idempotency keys, metadata keys, token and score-config fields) and **every query and path parameter**:
  a NUL or a lone surrogate is refused with a 422 naming the field.
* **JSON bodies**: at most :data:`MAX_DEPTH` levels of nesting; numbers finite; NaN and Infinity refused.

docs/input.md states the same rules for users. Pure functions: no web framework, no database.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from plaudit_collector.errors import ApiError

REPLACEMENT = "\ufffd"
MAX_DEPTH = 64
"""Levels of nesting a JSON body (feedback, tokens, score configs) may have."""
INT64 = 2**63

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def clean(text: str) -> str:
    """``text`` with every NUL and lone surrogate replaced by U+FFFD (the same object when there are none)."""
    return _UNSTORABLE.sub(REPLACEMENT, text) if _UNSTORABLE.search(text) else text


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be a name, id or key (None when it can)."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "must not contain a NUL character (\\u0000)"
    return "must not contain a lone surrogate (invalid Unicode)"


def clean_tree(doc: Any) -> Any:
    """A JSON document with every string (keys included) passed through :func:`clean`.

    Iterative, so no nesting depth can exhaust the stack.
    """
    root: list[Any] = [doc]
    stack: list[tuple[Any, Any]] = [(root, 0)]
    while stack:
        container, key = stack.pop()
        value = container[key]
        if isinstance(value, str):
            container[key] = clean(value)
        elif isinstance(value, list):
            stack.extend((value, index) for index in range(len(value)))
        elif isinstance(value, dict):
            if any(isinstance(k, str) and _UNSTORABLE.search(k) for k in value):
                value = {clean(k) if isinstance(k, str) else k: v for k, v in value.items()}
                container[key] = value
            stack.extend((value, k) for k in value)
    return root[0]


def check_tree(doc: Any, name: str, *, max_depth: int = MAX_DEPTH) -> tuple[Any, str | None]:
    """Validate a free-form JSON value (metadata) called ``name``: returns ``(cleaned, problem)``.

    Keys may not hold NUL or lone surrogates, numbers must be finite and integers fit in 64 bits (JSON
    encoders such as orjson refuse larger ones), nesting stays within ``max_depth``. String values are
    cleaned. ``problem`` is ``"<path>: <why>"`` for the first rule broken, else None.
    """
    root: list[Any] = [doc]
    stack: list[tuple[Any, Any, str, int]] = [(root, 0, name, 0)]
    while stack:
        container, key, path, depth = stack.pop()
        value = container[key]
        if isinstance(value, str):
            container[key] = clean(value)
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, int):
            if not -INT64 <= value < INT64:
                return doc, f"{path}: integers must fit in 64 bits"
        elif isinstance(value, float):
            if not math.isfinite(value):
                return doc, f"{path}: numbers must be finite (no NaN or Infinity)"
        elif isinstance(value, list):
            if depth >= max_depth:
                return doc, f"{path}: nested deeper than {max_depth} levels"
            stack.extend((value, i, f"{path}[{i}]", depth + 1) for i in range(len(value)))
        elif isinstance(value, dict):
            if depth >= max_depth:
                return doc, f"{path}: nested deeper than {max_depth} levels"
            for k in value:
                problem = text_problem(k) if isinstance(k, str) else None
                if problem is not None:
                    return doc, f"{path}: a key {problem}"
            stack.extend((value, k, f"{path}.{k}", depth + 1) for k in value)
    return root[0], None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a valid JSON number")


def depth_of(doc: Any) -> int:
    """Nesting depth of a decoded JSON value (a scalar is 0), computed without recursion."""
    if not isinstance(doc, (list, dict)):
        return 0
    deepest = 0
    stack: list[tuple[Any, int]] = [(doc, 1)]  # containers only: a batch's many scalars are never pushed
    while stack:
        value, depth = stack.pop()
        deepest = max(deepest, depth)
        children = value.values() if isinstance(value, dict) else value
        stack.extend((v, depth + 1) for v in children if isinstance(v, (list, dict)))
    return deepest


def load_json(body: bytes, *, max_depth: int | None = MAX_DEPTH) -> Any:
    """Decode a JSON request body under the rules above.

    Raises:
        ApiError: 400 ``invalid_json`` for malformed JSON, NaN or Infinity literals, or nesting past
            ``max_depth`` (None: only as deep as the decoder itself can go).
    """
    try:
        doc = json.loads(body, parse_constant=_reject_constant)
    except RecursionError:
        raise ApiError(400, "invalid_json", "body is nested too deeply", "body") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "invalid_json", f"body is not valid JSON: {exc}", "body") from None
    if max_depth is not None and depth_of(doc) > max_depth:
        raise ApiError(400, "invalid_json", f"body is nested deeper than {max_depth} levels", "body")
    return doc
