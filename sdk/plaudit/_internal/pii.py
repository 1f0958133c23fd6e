"""A built-in redactor for ``configure(redact=...)``: emails, phone numbers and payment card numbers.

Applied to captured input and output before a span leaves the process. Patterns are deliberately
conservative: a card number must pass the Luhn check and a phone number needs enough digits, so ids,
dates and prices mostly survive. Add your own with ``redact_pii.add_pattern(regex, replacement)``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
# 13-19 digits, optionally grouped by single spaces or dashes (4-4-4-4, 4-6-5, ...).
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
# An optional +country code, then 7-15 digits grouped by spaces, dots, dashes or one pair of parentheses.
_PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]?\d{2,4}){1,4}(?![\w])")

_DATE_OR_IP = re.compile(r"\d{4}[-.]\d{2}[-.]\d{2}|\d{1,3}(?:\.\d{1,3}){3}")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    return "[CARD]" if 13 <= len(digits) <= 19 and _luhn_ok(digits) else match.group()


def _phone(match: re.Match[str]) -> str:
    text = match.group()
    digits = re.sub(r"\D", "", text)
    groups = len(re.findall(r"\d+", text))
    # Bare runs of digits are ids far more often than phone numbers: ask for a +, parentheses, a dash or
    # dot, or three space-separated groups; dates and IPv4 addresses are left alone.
    marked = text.startswith("+") or "(" in text or bool(re.search(r"\d[.-]\d", text)) or groups >= 3
    not_phone = _DATE_OR_IP.fullmatch(text) is not None
    return "[PHONE]" if 7 <= len(digits) <= 15 and marked and not not_phone else text


class PiiRedactor:
    """Redact personal data from captured text: ``plaudit.configure(redact=plaudit.redact_pii)``.

    Calling it replaces emails, payment card numbers (13-19 digits passing the Luhn check) and phone
    numbers with ``[EMAIL]``, ``[CARD]`` and ``[PHONE]``, after the patterns added with
    :meth:`add_pattern` (which run first). Thread-safe.

    Example:
        >>> plaudit.redact_pii("mail ada@example.com or call +44 20 7946 0958")
        'mail [EMAIL] or call [PHONE]'
        >>> plaudit.redact_pii.add_pattern(r"\\bACCT-\\d+", "[ACCOUNT]")
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._extra: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = []

    def __call__(self, text: str) -> str:
        if not isinstance(text, str):
            raise TypeError(f"redact_pii needs a string, got {type(text).__name__}")
        with self._lock:
            extra = list(self._extra)
        for pattern, replacement in extra:  # the user's patterns first: they are the more specific ones
            text = pattern.sub(replacement, text)
        text = _EMAIL.sub("[EMAIL]", text)
        text = _CARD.sub(_card, text)
        return _PHONE.sub(_phone, text)

    def add_pattern(self, pattern: str | re.Pattern[str], replacement: str | Callable[[re.Match[str]], str]) -> None:
        """Also redact ``pattern`` (a regex), before the built-in ones, with ``replacement`` (``re.sub`` rules)."""
        compiled = re.compile(pattern) if isinstance(pattern, str) else pattern
        with self._lock:
            self._extra.append((compiled, replacement))

    def clear_patterns(self) -> None:
        """Forget the patterns added with :meth:`add_pattern`; the built-in ones stay."""
        with self._lock:
            self._extra.clear()


redact_pii = PiiRedactor()
