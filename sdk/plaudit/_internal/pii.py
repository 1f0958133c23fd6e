"""A built-in redactor for ``configure(redact=...)``: personal data and the secrets people paste into prompts.

Each kind is a named pattern (see :data:`PATTERNS`) that can be switched off. Patterns are deliberately
conservative where a false match would hurt analysis: a card number must pass the Luhn check, an IBAN its
mod-97 check, an IP address must parse, and a phone number needs enough digits and a sign that it is one
(a ``+``, a trunk ``0``, brackets, separators), so ids, dates, versions and prices mostly survive.
"""

from __future__ import annotations

import ipaddress
import re
import threading
from collections.abc import Callable, Iterable

Replacement = str | Callable[[re.Match[str]], str]

# Separators people put in card numbers: space, NBSP and narrow/thin spaces, dash, dot, slash, underscore.
_SEP = "[ \u00a0\u2009\u202f._/-]"

_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_ANTHROPIC = re.compile(r"\bsk-ant-[A-Za-z0-9_-]{20,}")
_OPENAI = re.compile(r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}")
_GITHUB = re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})")
_AWS_ACCESS = re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b")
_AWS_SECRET = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
_EMAIL = re.compile(
    r"""(?:"(?:[^"\\\r\n]|\\.){1,64}"|(?<![\w.+'-])[\w.+'-]+)"""  # a quoted or a plain local part
    r"(?:@|\uff20|\ufe6b|%40)"  # @, fullwidth ＠, small ﹫, or URL-encoded
    r"(?:\[(?:IPv6:)?[0-9A-Fa-f:.]+\]|(?:[\w-]+\.)+(?:xn--[A-Za-z0-9-]+|[^\W\d_]{2,}))",  # an IP literal or a domain
)
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")
_CARD = re.compile(rf"(?<![\d-])\d(?:{_SEP}{{0,2}}\d){{12,18}}(?![\d-])")
_IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|\d{1,3}(?:\.\d{1,3}){3})?(?![\w:])")
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)")
_PHONE = re.compile(r"(?<![\w+])(?:\+|\(\+?)?\d[\d \u00a0().\-/]{5,24}\d(?![\w])")
_NOT_PHONE = re.compile(
    r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4}|\d{1,3}(?:\.\d{1,3}){3}"  # dates, IPv4
)


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


def _iban(match: re.Match[str]) -> str:
    text = match.group().replace(" ", "")
    if not 15 <= len(text) <= 34:
        return match.group()
    rearranged = text[4:] + text[:4]
    number = "".join(str(int(char, 36)) for char in rearranged)
    return "[IBAN]" if int(number) % 97 == 1 else match.group()


def _aws_secret(match: re.Match[str]) -> str:
    text = match.group()
    mixed = any(c.isupper() for c in text) and any(c.islower() for c in text) and any(c.isdigit() for c in text)
    return "[AWS_SECRET_KEY]" if mixed else text


def _ip(version: int) -> Callable[[re.Match[str]], str]:
    def replace(match: re.Match[str]) -> str:
        try:
            address = ipaddress.ip_address(match.group())
        except ValueError:
            return match.group()
        return "[IP]" if address.version == version else match.group()

    return replace


def _phone(match: re.Match[str]) -> str:
    text = match.group()
    digits = re.sub(r"\D", "", text)
    if not 7 <= len(digits) <= 15 or _NOT_PHONE.fullmatch(text) or re.search(r"[ \u00a0().\-/]{4,}", text):
        return text
    if set(re.sub(r"\d", "", text)) == {"."} and not text.startswith(("+", "0")):
        # Dots alone are prices (1.299.000) and versions (10.0.19041) unless in the 415.555.0132 shape.
        if not re.fullmatch(r"\d{2,4}\.\d{3,4}\.\d{3,4}", text):
            return text
    groups = len(re.findall(r"\d+", text))
    # Bare runs of digits are ids far more often than phone numbers: ask for a +, a 00 or trunk 0 with groups,
    # brackets, a separator between digits, or three groups.
    marked = (
        text.startswith(("+", "(+", "00"))
        or "(" in text
        or bool(re.search(r"\d[.\-/]\d|\d ?/ ?\d", text))
        or groups >= 3
        or (text.startswith("0") and groups >= 2 and len(digits) >= 9)
    )
    return "[PHONE]" if marked else text


PATTERNS: dict[str, tuple[re.Pattern[str], Replacement]] = {
    "jwt": (_JWT, "[JWT]"),
    "anthropic_key": (_ANTHROPIC, "[ANTHROPIC_KEY]"),
    "openai_key": (_OPENAI, "[OPENAI_KEY]"),
    "github_token": (_GITHUB, "[GITHUB_TOKEN]"),
    "aws_access_key": (_AWS_ACCESS, "[AWS_ACCESS_KEY]"),
    "aws_secret_key": (_AWS_SECRET, _aws_secret),
    "email": (_EMAIL, "[EMAIL]"),
    "iban": (_IBAN, _iban),
    "card": (_CARD, _card),
    "ipv6": (_IPV6, _ip(6)),
    "ipv4": (_IPV4, _ip(4)),
    "phone": (_PHONE, _phone),
}
"""The built-in patterns by name, in the order they run (secrets first, phone numbers last):

* ``jwt``: JSON Web Tokens (``eyJ...``.``eyJ...``.signature) → ``[JWT]``
* ``anthropic_key``: Anthropic API keys (``sk-ant-...``) → ``[ANTHROPIC_KEY]``
* ``openai_key``: OpenAI API keys (``sk-...``, ``sk-proj-...``) → ``[OPENAI_KEY]``
* ``github_token``: GitHub tokens (``ghp_``, ``gho_``, ``ghs_``, ``github_pat_``, ...) → ``[GITHUB_TOKEN]``
* ``aws_access_key``: AWS access key ids (``AKIA...``, ``ASIA...``) → ``[AWS_ACCESS_KEY]``
* ``aws_secret_key``: 40-character AWS secret access keys (mixed case and digits) → ``[AWS_SECRET_KEY]``
* ``email``: addresses, internationalised domains, quoted local parts, IP literals, ``%40`` and ``＠`` → ``[EMAIL]``
* ``iban``: IBANs passing the mod-97 check, grouped or not → ``[IBAN]``
* ``card``: 13-19 digit card numbers passing the Luhn check, with any of `` -./_`` or NBSP between digits → ``[CARD]``
* ``ipv6``, ``ipv4``: addresses that parse → ``[IP]``
* ``phone``: 7-15 digit numbers written like phone numbers (international, national with a trunk 0, with
  brackets, dashes, dots or slashes, German and US styles) → ``[PHONE]``
"""


class PiiRedactor:
    """Redact personal data and secrets from captured text: ``plaudit.configure(redact=plaudit.redact_pii)``.

    Calling it replaces each match of the enabled built-in patterns (:data:`PATTERNS`: ``email``, ``card``,
    ``phone``, ``iban``, ``ipv4``, ``ipv6``, ``jwt``, ``openai_key``, ``anthropic_key``, ``github_token``,
    ``aws_access_key``, ``aws_secret_key``) with a marker such as ``[EMAIL]``, after the patterns added with
    :meth:`add_pattern` (which run first). Thread-safe.

    Example:
        >>> plaudit.redact_pii("mail ada@example.com or call +44 20 7946 0958")
        'mail [EMAIL] or call [PHONE]'
        >>> plaudit.redact_pii.add_pattern(r"\\bACCT-\\d+", "[ACCOUNT]")
        >>> plaudit.redact_pii.disable("ipv4", "ipv6")  # keep IP addresses
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._extra: list[tuple[re.Pattern[str], Replacement]] = []
        self._off: set[str] = set()

    def __call__(self, text: str) -> str:
        if not isinstance(text, str):
            raise TypeError(f"redact_pii needs a string, got {type(text).__name__}")
        with self._lock:
            extra, off = list(self._extra), set(self._off)
        for pattern, replacement in extra:  # the user's patterns first: they are the more specific ones
            text = pattern.sub(replacement, text)
        for name, (pattern, replacement) in PATTERNS.items():
            if name not in off:
                text = pattern.sub(replacement, text)
        return text

    @property
    def enabled(self) -> tuple[str, ...]:
        """The names of the built-in patterns in use, in the order they run."""
        with self._lock:
            return tuple(name for name in PATTERNS if name not in self._off)

    def disable(self, *names: str) -> None:
        """Stop redacting the named built-in patterns (``"ipv4"``, ``"phone"``, ...); ValueError for an unknown name."""
        self._check(names)
        with self._lock:
            self._off.update(names)

    def enable(self, *names: str) -> None:
        """Redact the named built-in patterns again (all are on by default)."""
        self._check(names)
        with self._lock:
            self._off.difference_update(names)

    @staticmethod
    def _check(names: Iterable[str]) -> None:
        unknown = [name for name in names if name not in PATTERNS]
        if unknown:
            raise ValueError(f"unknown pattern {', '.join(unknown)}; known: {', '.join(PATTERNS)}")

    def add_pattern(self, pattern: str | re.Pattern[str], replacement: Replacement) -> None:
        """Also redact ``pattern`` (a regex), before the built-in ones, with ``replacement`` (``re.sub`` rules)."""
        compiled = re.compile(pattern) if isinstance(pattern, str) else pattern
        with self._lock:
            self._extra.append((compiled, replacement))

    def clear_patterns(self) -> None:
        """Forget the patterns added with :meth:`add_pattern`; the built-in ones stay."""
        with self._lock:
            self._extra.clear()


redact_pii = PiiRedactor()
