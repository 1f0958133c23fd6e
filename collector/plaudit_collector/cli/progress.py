"""Progress of long commands: a bar with rate and time left on a terminal, a log line every few seconds
otherwise (a pipe, a container's log, CI), always on stderr so that stdout stays the command's output.

Store code reports through :class:`plaudit_collector.store.progress.Report`; :func:`reporting` hands one
out for the length of a command. Rich is imported when there is something to draw: ``plaudit serve`` on a
database already at head reports nothing and starts without it.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any, TextIO

from plaudit_collector.store.progress import Report

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import ProgressColumn

LOG_EVERY_SECONDS = float(os.environ.get("PLAUDIT_PROGRESS_SECONDS", "5"))
"""How often a log line is written when nobody watches a terminal."""


def _rate() -> ProgressColumn:
    """A column of units per second, as Rich measures them over the last moments."""
    from rich.progress import ProgressColumn, Task
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text("" if speed is None else f"{_count(speed)}/s", style="progress.data.speed")

    return Rate()


def _count(n: float) -> str:
    if n >= 1e6:
        return f"{n / 1e6:.1f}M"
    if n >= 1e4:
        return f"{n / 1e3:.1f}k"
    return f"{n:.0f}" if n >= 10 else f"{n:.1f}"


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s"


class BarReport:
    """Draws one bar per task on a terminal (Rich Progress); a total of None shows a count and a rate."""

    def __init__(self, console: Console) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            _rate(),
            TimeElapsedColumn(),
            TextColumn("left"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._tasks: dict[str, Any] = {}

    def __call__(self, task: str, done: int, total: int | None) -> None:
        if task not in self._tasks:
            self._tasks[task] = self._progress.add_task(task, total=total)
        self._progress.update(self._tasks[task], completed=done, total=total)

    def __enter__(self) -> BarReport:
        self._progress.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._progress.stop()


class LineReport:
    """One line when a task starts, one every ``every`` seconds while it runs and one when it ends."""

    def __init__(self, stream: TextIO | None = None, every: float = LOG_EVERY_SECONDS, prefix: str = "plaudit") -> None:
        self._stream = stream
        self._every = every
        self._prefix = prefix
        self._started: dict[str, float] = {}
        self._logged: dict[str, float] = {}
        self._ended: set[str] = set()

    def __call__(self, task: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        first = task not in self._started
        if first:
            self._started[task] = now
        finished = total is not None and done >= total
        if finished and task in self._ended:
            return
        if not (first or finished or now - self._logged.get(task, now) >= self._every):
            return
        self._logged[task] = now
        if finished:
            self._ended.add(task)
        self.write(self._line(task, done, total, now - self._started[task], finished))

    def _line(self, task: str, done: int, total: int | None, elapsed: float, finished: bool) -> str:
        rate = done / elapsed if elapsed > 0 else None
        parts = [f"{done}/{total}" if total is not None else f"{done}"]
        if total:
            parts[0] += f" ({100 * done / total:.0f}%)"
        if rate:
            parts.append(f"{_count(rate)}/s")
        if finished:
            parts.append(f"done in {_duration(elapsed)}")
        elif rate and total is not None:
            parts.append(f"{_duration((total - done) / rate)} left")
        return f"{self._prefix}: {task}: {', '.join(parts)}"

    def write(self, line: str) -> None:
        stream = self._stream or sys.stderr
        stream.write(line + "\n")
        stream.flush()


@contextmanager
def reporting(console: Console | None = None) -> Iterator[Report]:
    """The report for this command: a bar when stderr is a terminal, log lines when it is not; chosen (and
    Rich imported) at the first report, and closed with the command."""
    with ExitStack() as stack:
        chosen: list[Report] = []

        def report(task: str, done: int, total: int | None) -> None:
            if not chosen:
                chosen.append(stack.enter_context(_chosen(console)))
            chosen[0](task, done, total)

        yield report


@contextmanager
def _chosen(console: Console | None) -> Iterator[Report]:
    if console is None:
        from rich.console import Console

        console = Console(stderr=True)
    if console.is_terminal:
        with BarReport(console) as bar:
            yield bar
        return
    yield LineReport()
