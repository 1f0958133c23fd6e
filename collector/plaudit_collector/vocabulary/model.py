"""What the vocabulary is made of: a dimension spans can be grouped by, and a term (one query parameter,
the same in every door)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Dimension:
    """A name spans can be grouped or filtered by, and the span column it reads."""

    name: str
    column: str
    help: str


@dataclass(frozen=True)
class Term:
    """One query parameter, the same in every door.

    ``type``: ``text``, ``texts`` (repeatable), ``time`` (ISO 8601 or unix seconds), ``pairs`` (repeatable
    ``key=value``; a dict in the Client), ``choice``, ``choices`` (repeatable), ``int``, ``float`` or ``bool``.
    """

    name: str
    kind: str
    type: str
    help: str
    questions: tuple[str, ...]
    choices: tuple[str, ...] = ()
    required_in: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    max_length: int = 200
    client: str = ""
    """The ``plaudit.Client`` keyword (defaults to ``name``)."""
    cli: tuple[str, ...] = ()
    """CLI flags, first the canonical one (defaults to ``--name-with-dashes``)."""
    default: Any = None
    """The default the question applies when the term is not given (documentation only); a dict when it
    differs between questions."""

    @property
    def client_name(self) -> str:
        return self.client or self.name

    @property
    def cli_flags(self) -> tuple[str, ...]:
        return self.cli or ("--" + self.name.replace("_", "-"),)

    @property
    def repeatable(self) -> bool:
        return self.type in ("texts", "pairs", "choices")

    def required(self, question: str) -> bool:
        return question in self.required_in


def declare(name: str, kind: str, type_: str, help_: str, questions: Iterable[str], **more: Any) -> Term:
    """A :class:`Term`, written the way the table reads best."""
    return Term(name, kind, type_, help_, tuple(questions), **more)
