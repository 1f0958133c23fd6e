"""Reading the vocabulary: the terms a question takes, the close matches of an unknown name, the
declaration as JSON (``GET /v1/query-model``) and as the README's table."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

from plaudit_collector.vocabulary.model import Term
from plaudit_collector.vocabulary.terms import ATTRIBUTE_DIMENSION, DIMENSIONS, QUESTIONS, SOURCES, TERMS


def terms_for(question: str) -> tuple[Term, ...]:
    """The terms ``question`` accepts, one per name."""
    if question not in QUESTIONS:
        raise KeyError(question)
    return tuple(term for term in TERMS if question in term.questions)


def term(question: str, name: str) -> Term:
    for candidate in terms_for(question):
        if candidate.name == name:
            return candidate
    raise KeyError(f"{question}: {name}")


def close_matches(name: str, known: Iterable[str]) -> list[str]:
    """Known names that look like ``name`` (a typo, another door's spelling, a part of a name), best first."""
    known = list(known)
    found = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    parts = [k for k in known if name in k.replace(".", "_").split("_") and k not in found]
    return (found + parts)[:3]


def unknown_message(kind: str, name: str, known: Iterable[str]) -> str:
    """``unknown query parameter 'by'; did you mean group_by?`` (or the accepted names when nothing is close)."""
    known = sorted(set(known))
    matches = close_matches(name, known)
    shown = name if len(name) <= 60 else name[:57] + "..."
    if matches:
        return f"unknown {kind} {shown!r}; did you mean {' or '.join(matches)}?"
    return f"unknown {kind} {shown!r}; accepted: {', '.join(known)}"


def served() -> dict[str, Any]:
    """The declaration as JSON (``GET /v1/query-model``): what the dashboard builds its controls from."""
    return {
        "questions": list(QUESTIONS),
        "dimensions": [asdict(d) for d in DIMENSIONS]
        + [{"name": ATTRIBUTE_DIMENSION, "column": None, "help": "any span attribute"}],
        "sources": list(SOURCES),
        "terms": [
            {
                "name": t.name,
                "kind": t.kind,
                "type": t.type,
                "help": t.help,
                "questions": list(t.questions),
                "choices": list(t.choices),
                "required_in": list(t.required_in),
                "repeatable": t.repeatable,
                "minimum": t.minimum,
                "maximum": t.maximum,
                "default": t.default,
                "client": t.client_name,
                "cli": list(t.cli_flags),
            }
            for t in TERMS
        ],
    }


def markdown_table() -> str:
    """The vocabulary as the README's table (a test keeps the README's copy equal to this)."""
    short = {
        "export_spans": "export spans",
        "export_finetune": "export finetune",
        "export_preferences": "export preferences",
        "judge_report": "judge report",
    }
    lines = ["| parameter | `plaudit.Client` | CLI | questions | meaning |", "| --- | --- | --- | --- | --- |"]
    seen: set[tuple[str, str]] = set()
    for t in TERMS:
        if set(t.questions) == set(QUESTIONS):
            where = "all"
        else:
            where = ", ".join(short.get(q, q) for q in t.questions)
        if (t.name, where) in seen:
            continue
        seen.add((t.name, where))
        text = t.help.replace("|", "\\|")
        if t.choices:
            text += " (" + ", ".join(t.choices) + ")"
        flags = " ".join(f"`{f}`" for f in t.cli_flags)
        lines.append(f"| `{t.name}` | `{t.client_name}` | {flags} | {where} | {text} |")
    return "\n".join(lines) + "\n"
