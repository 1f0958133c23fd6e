"""How long store work (migrations, rebuilds, retention) says how far it is, without knowing who listens.

Store code takes a :data:`Report` and calls it as the work advances; the CLI hands in one that draws a bar on
a terminal or logs a line every few seconds (``cli/progress.py``), everything else gets :func:`silent`. A
callback keeps ``store`` free of any import of the CLI or of Rich.
"""

from __future__ import annotations

from typing import Protocol


class Report(Protocol):
    """``report(task, done, total)``: ``task`` names the step in words, ``done`` counts units finished so far
    (rows, spans, partitions), ``total`` is how many there will be, or None when unknown. Called with
    ``done == total`` (or once more with the final count) when the step ends."""

    def __call__(self, task: str, done: int, total: int | None) -> None: ...


def silent(task: str, done: int, total: int | None) -> None:
    """The report nobody listens to."""
