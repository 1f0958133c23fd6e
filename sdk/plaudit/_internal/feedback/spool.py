"""Feedback items on disk under ``<spool_dir>/feedback/``: written whole, read back by one process, or set aside.

A file is JSON lines (one item per line), written under a temporary name and renamed, so a reader never
sees half a file. Items are validated when given, and a file is written with ``allow_nan=False``, so the
SDK never writes what it cannot read back. A file is claimed by renaming it to ``*.claimed-<pid>`` before
it is read, so two processes sharing the directory never send it twice; claims left by a process that
died are taken over. A file that cannot be read back (corrupt, unreadable, a directory in its place) is
renamed once to ``*.corrupt`` and never retried, so it cannot stop the files behind it.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

from plaudit._internal.errors import logger
from plaudit._internal.notices import notice
from plaudit._internal.pids import alive

SUFFIX = ".jsonl"
QUARANTINE = ".corrupt"
_CLAIM = ".claimed-"


def write(directory: Path, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Write ``items`` to a new file, atomically; returns the items that could not be kept (all of them on error)."""
    lines: list[str] = []
    unfit: list[dict[str, Any]] = []
    for item in items:
        try:
            lines.append(json.dumps(item, allow_nan=False))
        except (TypeError, ValueError, RecursionError):
            unfit.append(item)
    if not lines:
        return unfit
    try:
        directory.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp = directory / f".{name}.tmp"
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        os.replace(tmp, directory / f"{name}{SUFFIX}")
    except OSError as exc:
        notice(
            "feedback-spool-write",
            "Plaudit could not write the feedback spool at %s (%s): check that the directory is writable, or set "
            "PLAUDIT_SPOOL_DIR elsewhere",
            directory,
            exc,
        )
        return items
    return unfit


def _owner(path: Path) -> int | None:
    try:
        return int(path.name.rsplit(_CLAIM, 1)[1])
    except (IndexError, ValueError):
        return None


def candidates(directory: Path) -> list[Path]:
    """Files waiting to be sent, oldest first: unclaimed ones and those claimed by a process that died."""
    try:
        waiting = list(directory.glob(f"*{SUFFIX}"))
        for claimed in directory.glob(f"*{_CLAIM}*"):
            owner = _owner(claimed)
            if owner is not None and owner != os.getpid() and not alive(owner):
                waiting.append(claimed)
    except OSError:
        return []
    return sorted(waiting, key=lambda path: path.name)


def quarantine(path: Path, why: object) -> None:
    """Set an unreadable file (or a directory where a file should be) aside, once, and say so."""
    base = path.name.split(SUFFIX)[0]
    target = path.with_name(f"{base}{SUFFIX}{QUARANTINE}")
    try:
        path.rename(target)
    except OSError:
        target = path
    notice(
        "feedback-spool-corrupt",
        "Plaudit set aside an unreadable feedback spool file as %s (%s): the files behind it are sent; look at it "
        "or delete it",
        target,
        why,
    )


def claim(path: Path) -> Path | None:
    """Rename ``path`` to this process's claim; None when another process got there first."""
    claimed = path.with_name(f"{path.name.split(SUFFIX)[0]}{SUFFIX}{_CLAIM}{os.getpid()}")
    try:
        os.replace(path, claimed)
    except OSError:
        return None
    return claimed


def read(claimed: Path) -> list[dict[str, Any]] | None:
    """The items of a claimed file, or None after quarantining a file that cannot be read back (or when the
    claim is gone: nothing is there to read or set aside)."""
    if not claimed.exists():
        return None
    if not claimed.is_file():
        quarantine(claimed, "not a regular file")
        return None
    try:
        items = [json.loads(line) for line in claimed.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, ValueError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        quarantine(claimed, exc)
        return None
    if not all(isinstance(item, dict) for item in items):
        quarantine(claimed, "a line is not a feedback item")
        return None
    return items


def unclaim(claimed: Path) -> None:
    """Give a claimed file back (no room to queue it now), under its waiting name."""
    try:
        os.replace(claimed, claimed.with_name(claimed.name.split(_CLAIM)[0]))
    except OSError:
        logger.debug("Plaudit could not release the feedback spool file %s", claimed, exc_info=True)
