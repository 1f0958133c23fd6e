"""Client-library instrumentations: one module per library, each imported only when asked for.

Every ``instrument_x()`` is idempotent (a second call returns the live handle) and returns an
:class:`Instrumentation` whose ``uninstrument()`` undoes it; ``plaudit.instrument()`` instruments every
supported library that is installed.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable
from types import TracebackType

from plaudit.exceptions import PlauditConfigError

_LOCK = threading.Lock()
_ACTIVE: dict[str, Instrumentation] = {}


class Instrumentation:
    """Handle on an instrumented library: ``uninstrument()`` (or leaving a ``with`` block) undoes it."""

    def __init__(self, library: str, undo: Callable[[], None]) -> None:
        self.library = library
        self._undo: Callable[[], None] | None = undo

    @property
    def active(self) -> bool:
        """Whether the library is still instrumented by this handle."""
        return self._undo is not None

    def uninstrument(self) -> None:
        """Restore the library's original methods. Safe to call more than once."""
        with _LOCK:
            undo, self._undo = self._undo, None
            if _ACTIVE.get(self.library) is self:
                del _ACTIVE[self.library]
        if undo is not None:
            undo()

    def __enter__(self) -> Instrumentation:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.uninstrument()

    def __repr__(self) -> str:
        return f"<plaudit.Instrumentation {self.library} {'active' if self.active else 'undone'}>"


class Instrumentations(Instrumentation):
    """Several handles as one, returned by :func:`instrument`."""

    def __init__(self, handles: list[Instrumentation]) -> None:
        super().__init__(",".join(h.library for h in handles), self._undo_all)
        self.handles = handles

    def _undo_all(self) -> None:
        for handle in self.handles:
            handle.uninstrument()


def activate(library: str, apply: Callable[[], Callable[[], None]]) -> Instrumentation:
    """Run ``apply`` (which patches and returns its undo) once per library; later calls get the same handle."""
    with _LOCK:
        handle = _ACTIVE.get(library)
        if handle is None:
            handle = Instrumentation(library, apply())
            _ACTIVE[library] = handle
        return handle


def require(module: str, extra: str) -> None:
    """Raise a config error with the install hint when the library to instrument is missing."""
    if importlib.util.find_spec(module) is None:
        raise PlauditConfigError(f"{module} is not installed; run: pip install 'plaudit[{extra}]'")


def instrument_openai() -> Instrumentation:
    """Trace every ``chat.completions.create`` and ``responses.create`` call of the ``openai`` library (sync,
    async, streaming, the ``.stream()`` helpers) as a GenAI ``chat`` span, and likewise the structured-output
    ``chat.completions.parse`` and ``responses.parse``; ``embeddings.create`` becomes an ``embeddings`` span.

    Methods an older ``openai`` lacks are skipped, so one call covers whatever the installed version offers.

    Returns:
        The handle; ``.uninstrument()`` restores the library.

    Raises:
        PlauditConfigError: when ``openai`` is not installed.

    Example:
        >>> handle = plaudit.instrument_openai()  # doctest: +SKIP
    """
    require("openai", "openai")
    from plaudit._internal.instrumentations import openai as module

    return activate("openai", module.apply)


def instrument_anthropic() -> Instrumentation:
    """Route the ``anthropic`` library's own OpenTelemetry spans through Plaudit, with content and finish reasons.

    Returns:
        The handle; ``.uninstrument()`` restores the library.

    Raises:
        PlauditConfigError: when ``anthropic`` is missing or too old to have built-in tracing.

    Example:
        >>> handle = plaudit.instrument_anthropic()  # doctest: +SKIP
    """
    require("anthropic", "anthropic")
    from plaudit._internal.instrumentations import anthropic as module

    return activate("anthropic", module.apply)


_INSTRUMENTERS: dict[str, Callable[[], Instrumentation]] = {
    "anthropic": instrument_anthropic,
    "openai": instrument_openai,
}


def instrument(*libraries: str) -> Instrumentations:
    """Instrument the named libraries, or every supported one that is installed when none is named.

    Args:
        *libraries: any of ``"openai"``, ``"anthropic"``.

    Returns:
        One handle whose ``.uninstrument()`` undoes them all.

    Raises:
        PlauditConfigError: for an unknown name, or a named library that is not installed.

    Example:
        >>> plaudit.instrument("openai", "anthropic")  # doctest: +SKIP
    """
    for name in libraries:
        if name not in _INSTRUMENTERS:
            raise PlauditConfigError(f"cannot instrument {name!r}; supported: {', '.join(sorted(_INSTRUMENTERS))}")
    names = libraries or tuple(n for n in sorted(_INSTRUMENTERS) if importlib.util.find_spec(n) is not None)
    return Instrumentations([_INSTRUMENTERS[name]() for name in names])
