"""What Plaudit tells a person: lost data and wrong configuration, said once and where it is seen.

A library's warnings on a logger with only a ``NullHandler`` are never seen, and a warning per failed
retry floods the console. So each notice has a key and is said at most once per ``every`` seconds (a
configuration problem once per process), on the ``plaudit`` logger when the app's logging would show it,
else on stderr as a :class:`PlauditWarning` through :mod:`warnings`. Either way one line, and silenced by
``logging.getLogger("plaudit").setLevel(logging.ERROR)`` or
``warnings.filterwarnings("ignore", category=plaudit.PlauditWarning)``.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import warnings
from urllib.parse import urlsplit

from plaudit._internal.errors import logger

ONCE = math.inf
"""``every=ONCE``: say it once per process (a configuration problem does not fix itself)."""


class PlauditWarning(UserWarning):
    """Plaudit lost spans or feedback, or the collector refused its configuration.

    Shown on stderr, one line per problem and rate-limited, when the app has not configured logging
    (otherwise the same line goes to the ``plaudit`` logger). Silence it with
    ``warnings.filterwarnings("ignore", category=plaudit.PlauditWarning)``.
    """


_lock = threading.Lock()
_last_said: dict[str, float] = {}


def _reaches_a_handler(log: logging.Logger) -> bool:
    """Whether a WARNING on ``log`` would be written somewhere (a handler other than a ``NullHandler``)."""
    current: logging.Logger | None = log
    while current is not None:
        for handler in current.handlers:
            if not isinstance(handler, logging.NullHandler) and handler.level <= logging.WARNING:
                return True
        if not current.propagate:
            return False
        current = current.parent
    return False


def notice(key: str, message: str, *args: object, every: float = 60.0) -> bool:
    """Say ``message % args`` unless the same ``key`` was said less than ``every`` seconds ago.

    Returns whether it was said. Never raises: under ``-W error`` the warning becomes a log record.
    """
    now = time.monotonic()
    with _lock:
        last = _last_said.get(key)
        if last is not None and (every == ONCE or now - last < every):
            return False
        _last_said[key] = now
    if not logger.isEnabledFor(logging.WARNING):
        return False
    if _reaches_a_handler(logger):
        logger.warning(message, *args)
        return True
    text = message % args if args else message
    try:
        # warn_explicit with no source line: one line on stderr, not the line of this module.
        warnings.warn_explicit(text, PlauditWarning, filename="plaudit", lineno=0, module="plaudit")
    except Exception:  # noqa: BLE001 - warnings turned into errors must not reach the host app
        logger.warning(message, *args)
    return True


def forget(prefix: str = "") -> None:
    """Let notices whose key starts with ``prefix`` be said again (a new configuration, a recovered collector)."""
    with _lock:
        for key in [k for k in _last_said if k.startswith(prefix)]:
            del _last_said[key]


def config_hint(status: int, url: str) -> str:
    """The likely reason a collector answers ``status`` (401, 403, 404, 405) to a well-formed request at ``url``."""
    if status in (401, 403):
        return "the API key is missing or not valid there (set PLAUDIT_API_KEY or configure(api_key=...))"
    base = url.rsplit("/v1/", 1)[0]
    parts = urlsplit(base)
    if parts.path.strip("/"):
        return (
            f"the endpoint has a path ({parts.path}) in it; configure the collector's base URL, "
            f"{parts.scheme}://{parts.netloc}"
        )
    return "no Plaudit collector answers at that address (is something else listening on that port?)"


def config_problem(status: int, url: str) -> None:
    """Say once per process, for spans and feedback alike, that the collector refuses the configuration."""
    notice(
        f"config-{status}",
        "Plaudit: the collector at %s answered HTTP %d: %s. Spans and feedback are kept (within the usual "
        "bounds) and retried every few minutes.",
        url,
        status,
        config_hint(status, url),
        every=ONCE,
    )
