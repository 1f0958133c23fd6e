"""A span's input and output are stored once: in the ``input`` and ``output`` columns, not again in the attributes.

Ingest copies the content a span carries (``plaudit.input``, ``input.value``, ``gen_ai.input.messages``, ...)
into the ``input``/``output`` columns, which search, judges, exports and analytics read. Keeping the attribute
too doubled every span's size, so :func:`lean` drops the attribute whose text is exactly the column's and notes
its key under :data:`CONTENT_KEYS`; :func:`full` puts it back when a span is read, so a client sees the
attributes it sent. Only a string equal to the column is dropped: a value the column holds in another form
(a list, a flattened message list) stays in the attributes as it came.
"""

from __future__ import annotations

from typing import Any

CONTENT_KEYS = "plaudit.content_keys"
"""The attribute that names which attribute keys hold the ``input`` and ``output`` columns' text:
``{"input": "<key>", "output": "<key>"}``. Reserved: a span that sends it has it replaced."""


def source_key(attrs: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    """The first of ``keys`` with a non-empty value: the one :func:`.conventions.normalise` took a column from."""
    for key in keys:
        value = attrs.get(key)
        if value is not None and value != "":
            return key
    return None


def lean(
    attrs: dict[str, Any], input_text: str | None, output_text: str | None, keys: tuple[str | None, str | None]
) -> dict[str, Any]:
    """``attrs`` less the attributes ``keys`` (input's, output's) whose value is the column's text, noted.

    ``keys`` are the attributes the columns were taken from (None when the column came from elsewhere)."""
    moved: dict[str, str] = {}
    for field, key, column in (("input", keys[0], input_text), ("output", keys[1], output_text)):
        if key is not None and column is not None and attrs.get(key) == column and isinstance(column, str):
            moved[field] = key
    if not moved and CONTENT_KEYS not in attrs:
        return attrs
    out = dict(attrs)  # a copy less a few keys keeps the others' order, at a fraction of a comprehension's cost
    for key in moved.values():
        out.pop(key, None)
    out.pop(CONTENT_KEYS, None)
    if moved:
        out[CONTENT_KEYS] = moved
    return out


def full(attrs: dict[str, Any] | None, input_text: str | None, output_text: str | None) -> dict[str, Any]:
    """The attributes as the span sent them: ``attrs`` with the content attributes :func:`lean` dropped."""
    if not attrs or CONTENT_KEYS not in attrs:
        return attrs or {}
    out = dict(attrs)
    moved = out.pop(CONTENT_KEYS)
    if isinstance(moved, dict):
        for field, column in (("input", input_text), ("output", output_text)):
            key = moved.get(field)
            if isinstance(key, str) and column is not None:
                out[key] = column
    return out
