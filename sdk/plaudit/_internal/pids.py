"""Whether the process that claimed a spool file still runs: a claim left by a dead process is taken over."""

from __future__ import annotations

import os


def alive(pid: int) -> bool:
    """True unless ``pid`` is known to be gone (where there is no cheap check, a claim is trusted)."""
    if os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True
