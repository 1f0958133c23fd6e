"""CLI options built from the query vocabulary, so every analytics command takes what its REST route takes.

``@vocabulary_options("leaderboard")`` appends one typer option per term the question accepts to the
command's own parameters (endpoint, API key, ...), and hands the command the given values as
``asked``: ``plaudit.Client`` keyword arguments (``--from`` → ``start``, ``--where k=v`` → ``where={k: v}``).
An unknown option is click's usage error, which names it and the close matches.
"""

from __future__ import annotations

import enum
import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar

import typer

from plaudit_collector import vocabulary
from plaudit_collector.vocabulary import Term

F = TypeVar("F", bound=Callable[..., Any])


def py_name(name: str) -> str:
    """A term's name as a Python parameter (``from`` → ``from_``)."""
    return name + "_" if name in ("from", "format") else name


def _option(term: Term, required: bool) -> tuple[Any, Any]:
    """(annotation, default) of the typer parameter for ``term``."""
    kwargs: dict[str, Any] = {"help": term.help}
    if term.minimum is not None and term.type in ("int", "float"):
        kwargs["min"] = term.minimum
    if term.maximum is not None and term.type in ("int", "float"):
        kwargs["max"] = term.maximum
    base: Any = {"int": int, "float": float, "bool": bool}.get(term.type, str)
    if term.type in ("choice", "choices"):  # typer validates and lists an Enum's values
        base = enum.Enum(term.name, {c: c for c in term.choices}, type=str)  # type: ignore[misc]
    if term.repeatable:
        base = list[base]  # type: ignore[valid-type]
    annotation = Annotated[base if required else base | None, typer.Option(*term.cli_flags, **kwargs)]
    return annotation, (inspect.Parameter.empty if required else None)


def _pairs(term: Term, values: Sequence[str]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected key=value, got {item!r}", param_hint=term.cli_flags[0])
        out[key] = value or None
    return out


def client_value(term: Term, value: Any) -> Any:
    """A CLI value as the ``plaudit.Client`` keyword takes it (None: not given)."""
    if value is None or (term.repeatable and not value):
        return None
    if term.type == "pairs":
        return _pairs(term, value)
    if term.type in ("choice", "choices"):
        return [v.value for v in value] if term.repeatable else value.value
    return list(value) if term.repeatable else value


def vocabulary_options(*questions: str) -> Callable[[F], F]:
    """Give a command every term its questions accept; it receives them as ``asked`` (Client keywords)."""
    terms: dict[str, Term] = {}
    for question in questions:
        for term in vocabulary.terms_for(question):
            terms.setdefault(term.name, term)
    required = {name for name, t in terms.items() if all(t.required(q) for q in questions if q in t.questions)}
    required &= {name for name, t in terms.items() if t.required_in}

    def decorate(command: F) -> F:
        signature = inspect.signature(command, eval_str=True)
        own = [p for p in signature.parameters.values() if p.name != "asked"]
        params = list(own)
        for name, term in terms.items():
            annotation, default = _option(term, name in required)
            params.append(
                inspect.Parameter(py_name(name), inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
            )

        @functools.wraps(command)
        def wrapper(**kwargs: Any) -> Any:
            asked: dict[str, Any] = {}
            for name, term in terms.items():
                value = client_value(term, kwargs.pop(py_name(name)))
                if value is not None:
                    asked[term.client_name] = value
            return command(**kwargs, asked=asked)

        del wrapper.__wrapped__  # typer must read the generated signature, not the command's
        wrapper.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in params}
        return wrapper  # type: ignore[return-value]

    return decorate
