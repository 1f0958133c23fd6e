"""A deterministic stand-in for a chat model: same question, same answer; no network."""

from __future__ import annotations

import hashlib

MODEL = "fake-chat-1"

_TIPS = (
    "open Settings, choose Account, then follow the steps on screen",
    "check the Billing page; every invoice is listed there with a download link",
    "sign out and back in; if that does not help, clear the app's cache",
    "use Export in the Data tab; you get a ZIP with one CSV per table",
)


def complete(question: str) -> tuple[str, int, int]:
    """(answer, input tokens, output tokens) for ``question``."""
    digest = hashlib.sha256(question.strip().lower().encode()).digest()
    tip = _TIPS[digest[0] % len(_TIPS)]
    answer = f"Good question! To sort that out, {tip}."
    return answer, len(question.split()) + 12, len(answer.split())
