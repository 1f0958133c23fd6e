"""Keep the host app running whatever goes wrong inside Plaudit."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

logger = logging.getLogger("plaudit")
logger.addHandler(logging.NullHandler())

RAISE_INTERNAL_ERRORS = False
"""Tests switch this on so internal errors surface instead of being logged."""

F = TypeVar("F", bound=Callable[..., Any])


def log_internal_error() -> None:
    """Log the exception being handled; re-raise it when the test flag is on."""
    if RAISE_INTERNAL_ERRORS:
        raise  # called only from inside an except block
    logger.exception("Internal error in Plaudit; your code should still be running fine")


class _HandleInternalErrors:
    """Swallow and log exceptions, as a ``with`` block or as a decorator."""

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        if exc is None or not isinstance(exc, Exception):
            return False
        if RAISE_INTERNAL_ERRORS:
            return False
        logger.error("Internal error in Plaudit; your code should still be running fine", exc_info=exc)
        return True

    def __call__(self, func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self:
                return func(*args, **kwargs)
            return None

        return wrapper  # type: ignore[return-value]


handle_internal_errors = _HandleInternalErrors()
