"""Feedback tokens: HMAC-signed, expiring grants that let a browser rate one target with named scores.

A token is ``pft1.<payload>.<signature>``, both parts base64url without padding. The payload is
compact JSON: project, target (trace/span or session), allowed score names, optional author,
expiry (unix seconds). The secret is ``PLAUDIT_SECRET`` when set, else one generated once and
kept in the database, so every collector process on that database accepts the others' tokens.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

PREFIX = "pft1"
MAX_TOKEN_CHARS = 8192


class TokenError(Exception):
    """A token that cannot be honoured: ``status`` 401 (forged, malformed, expired) or 403 (out of scope)."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field


@dataclass(frozen=True)
class TokenScope:
    """What a verified token allows."""

    project: str
    trace_id: str | None
    span_id: str | None
    session_id: str | None
    names: tuple[str, ...]
    author: str | None
    expires_at: int

    def to_payload(self) -> dict[str, Any]:
        return {
            "p": self.project,
            "t": self.trace_id,
            "s": self.span_id,
            "ss": self.session_id,
            "n": list(self.names),
            "a": self.author,
            "e": self.expires_at,
        }

    @classmethod
    def from_payload(cls, doc: Any) -> TokenScope:
        if not isinstance(doc, dict):
            raise ValueError("payload is not an object")
        names = doc["n"]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ValueError("names are not strings")
        for key in ("p", "t", "s", "ss", "a"):
            if doc.get(key) is not None and not isinstance(doc[key], str):
                raise ValueError(f"{key} is not a string")
        if not isinstance(doc["e"], int):
            raise ValueError("expiry is not an integer")
        return cls(doc["p"], doc.get("t"), doc.get("s"), doc.get("ss"), tuple(names), doc.get("a"), doc["e"])

    def check(self, field_prefix: str, item: dict[str, Any]) -> None:
        """Raise 403 unless ``item`` (a wire feedback item) is within this scope."""
        if item.get("name") not in self.names:
            allowed = ", ".join(self.names)
            raise TokenError(
                403,
                "out_of_scope",
                f"{field_prefix}name: not allowed by this feedback token (allowed: {allowed})",
                f"{field_prefix}name",
            )
        if self.session_id is not None:
            if item.get("session_id") != self.session_id or item.get("trace_id") is not None:
                raise TokenError(
                    403,
                    "out_of_scope",
                    f"{field_prefix}session_id: this token is for another target",
                    f"{field_prefix}session_id",
                )
        else:
            if item.get("trace_id") != self.trace_id:
                raise TokenError(
                    403,
                    "out_of_scope",
                    f"{field_prefix}trace_id: this token is for another trace",
                    f"{field_prefix}trace_id",
                )
            # A span token rates that span only; a trace token rates the trace and any of its spans.
            if self.span_id is not None and item.get("span_id") != self.span_id:
                raise TokenError(
                    403,
                    "out_of_scope",
                    f"{field_prefix}span_id: this token is for another span",
                    f"{field_prefix}span_id",
                )
        if item.get("other_trace_id") is not None:
            raise TokenError(
                403,
                "out_of_scope",
                f"{field_prefix}other_trace_id: a feedback token rates one target only",
                f"{field_prefix}other_trace_id",
            )
        if self.author is not None and item.get("author") not in (None, self.author):
            raise TokenError(
                403, "out_of_scope", f"{field_prefix}author: this token is for another author", f"{field_prefix}author"
            )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret: bytes, body: str) -> str:
    return _b64(hmac.new(secret, f"{PREFIX}.{body}".encode("ascii"), hashlib.sha256).digest())


def sign(scope: TokenScope, secret: bytes) -> str:
    """The token string for ``scope``."""
    body = _b64(json.dumps(scope.to_payload(), separators=(",", ":"), sort_keys=True).encode())
    return f"{PREFIX}.{body}.{_signature(secret, body)}"


def verify(token: str, secret: bytes, now: float | None = None) -> TokenScope:
    """The scope a genuine, unexpired token grants; :class:`TokenError` (401) otherwise."""
    invalid = TokenError(401, "invalid_token", "feedback token is invalid (malformed or not signed by this collector)")
    if len(token) > MAX_TOKEN_CHARS:
        raise invalid
    parts = token.strip().split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        raise invalid
    try:
        expected = _signature(secret, parts[1])
    except UnicodeEncodeError:
        raise invalid from None
    if not hmac.compare_digest(expected.encode(), parts[2].encode("ascii", "replace")):
        raise invalid
    try:
        scope = TokenScope.from_payload(json.loads(_unb64(parts[1])))
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise invalid from None
    if scope.expires_at <= (time.time() if now is None else now):
        raise TokenError(401, "token_expired", "feedback token has expired; ask the app for a new one")
    return scope
