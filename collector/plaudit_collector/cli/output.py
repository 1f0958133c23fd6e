"""How the CLI prints a result: a table fitted to the terminal, aligned plain text in a pipe, CSV or JSON.

Every command builds :class:`View` objects (columns, raw rows, notes) and hands them to :func:`show`, so one
set of rules holds everywhere: a group value is never cut (other columns are hidden first, and a group too
long for the screen folds onto the next line), numbers keep three significant digits, a missing group
prints as ``(none)`` and a missing number as ``–``. Piped output has no colours, boxes or wrapping, so
``grep`` and ``cut`` see whole rows; ``--format csv`` and ``--format json`` carry the raw values.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO, Any, Literal

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

FORMATS = ("table", "json", "csv")
NONE = "(none)"
"""How a missing group value (NULL: the span had no such attribute) prints in tables and plain text."""
MISSING = "–"
"""How a missing number prints."""

Kind = Literal["group", "text", "int", "number", "percent", "interval", "p", "id", "time"]
"""``id`` prints a long hex id's first :data:`SHORT_ID` characters and ``time`` an ISO timestamp to the
minute (``2026-01-05 13:04``); CSV and JSON carry both whole."""
SHORT_ID = 8
_LEFT = ("group", "text", "id", "time")
"""Kinds printed flush left (words and ids); numbers are flush right."""


@dataclass(frozen=True)
class Column:
    """One column: its header, how its values print, and when it may be hidden on a narrow terminal.

    ``hide`` 0 means always shown; on a terminal too narrow for every column, columns with the highest
    ``hide`` go first (the rightmost of equals first). Group columns are never hidden.
    """

    name: str
    kind: Kind = "number"
    hide: int = 0


@dataclass(frozen=True)
class Marked:
    """A group value with a mark shown after it in tables (the leader's star); CSV gets the value alone."""

    value: Any
    mark: str


@dataclass
class View:
    """A titled table of raw values, with lines printed after it (the verdict)."""

    title: str
    columns: list[Column]
    rows: list[list[Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def number(value: Any) -> str:
    """Three significant digits (trailing zeros kept, so a column lines up); integers and ≥ 100 as integers."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return MISSING if value is None else str(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int) or abs(value) >= 100:
        return f"{round(value):d}"
    return f"{value:#.3g}"


def group_value(value: Any) -> str:
    """A dimension value as printed: ``(none)`` for NULL, control characters escaped so a row stays a row."""
    if isinstance(value, Marked):
        return group_value(value.value) + value.mark
    if value is None:
        return NONE
    text = str(value)
    return text.translate(_CONTROL) if any(ord(c) < 32 for c in text) else text


def group_label(group: dict[str, Any]) -> str:
    """``dim=value, dim=value`` for a group given as a dict; ``(all)`` for the empty group."""
    return ", ".join(f"{k}={group_value(v)}" for k, v in group.items()) or "(all)"


_CONTROL = {i: f"\\x{i:02x}" for i in range(32)} | {10: "\\n", 9: "\\t", 13: "\\r"}


def cell(kind: Kind, value: Any) -> str:
    """A raw value as it prints in a table or plain text."""
    if kind == "group":
        return group_value(value)
    if kind == "interval":
        low, high = value if value is not None else (None, None)
        return MISSING if low is None or high is None else f"{number(low)}–{number(high)}"
    if value is None:
        return MISSING
    if kind == "id":
        return str(value)[:SHORT_ID]
    if kind == "time":
        day, _, clock = str(value).partition("T")
        return f"{day} {clock[:5]}" if clock else day
    if kind == "int":
        return str(round(value)) if isinstance(value, float) and math.isfinite(value) else str(value)
    if kind == "percent":
        return f"{value:.0%}" if value in (0, 1) or value >= 0.1 else f"{value:.1%}"
    if kind == "p":
        return f"{value:#.3g}"
    if kind == "text":
        return group_value(value)
    return number(value)


def show(views: Sequence[View], data: Any, fmt: str, out: Console) -> None:
    """Print ``views`` as ``fmt`` asks: ``json`` prints ``data`` (the whole reply), ``csv`` the first view's
    raw values, ``table`` a fitted Rich table on a terminal and aligned plain text elsewhere."""
    if fmt == "json":
        _write(out, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
    elif fmt == "csv":
        if views:
            write_csv(views[0], out.file)
    else:
        for view in views:
            if out.is_terminal:
                print_table(view, out)
            else:
                _write(out, plain(view))


def _write(out: Console, text: str) -> None:
    out.file.write(text)
    out.file.flush()


def write_csv(view: View, handle: IO[str]) -> None:
    """Raw values: full precision, an interval as two columns, a missing value as an empty cell."""
    writer = csv.writer(handle, lineterminator="\n")
    header: list[str] = []
    for column in view.columns:
        header += [f"{column.name} low", f"{column.name} high"] if column.kind == "interval" else [column.name]
    writer.writerow(header)
    for row in view.rows:
        values: list[Any] = []
        for column, value in zip(view.columns, row, strict=True):
            if isinstance(value, Marked):
                value = value.value
            if column.kind == "interval":
                values += list(value) if value is not None else [None, None]
            else:
                values.append(value)
        writer.writerow(["" if v is None else v for v in values])
    handle.flush()


def plain(view: View) -> str:
    """Aligned columns, two spaces apart, no colours, no boxes, no wrapping: one line per row."""
    cells = [[cell(c.kind, v) for c, v in zip(view.columns, row, strict=True)] for row in view.rows]
    widths = [max([len(c.name), *(len(r[i]) for r in cells)]) for i, c in enumerate(view.columns)]
    lines = [view.title] if view.title else []

    def line(values: list[str]) -> str:
        parts = [
            v.ljust(w) if c.kind in _LEFT else v.rjust(w) for c, v, w in zip(view.columns, values, widths, strict=True)
        ]
        return "  ".join(parts).rstrip()

    lines.append(line([c.name for c in view.columns]))
    lines += [line(r) for r in cells]
    lines += view.notes
    return "\n".join(lines) + "\n"


def print_table(view: View, out: Console) -> None:
    """A Rich table that fits ``out.width``: optional columns are hidden (and named below the table) before
    any value would be cut; group columns are never hidden and fold rather than truncate."""
    cells = [[cell(c.kind, v) for c, v in zip(view.columns, row, strict=True)] for row in view.rows]
    shown = list(range(len(view.columns)))
    need = [_min_width(c, [r[i] for r in cells]) for i, c in enumerate(view.columns)]
    hidden: list[int] = []
    for index in sorted(shown, key=lambda i: (-view.columns[i].hide, -i)):
        if sum(need[i] for i in shown) + _GAP * (len(shown) - 1) <= out.width or not view.columns[index].hide:
            break
        shown.remove(index)
        hidden.append(index)
    wide = _fold_widths(view, shown, need, out.width)
    table = Table(
        title=Text(view.title) if view.title else None,  # a title holds score and rater names: never markup
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
    )
    for i in shown:
        column = view.columns[i]
        left = column.kind in _LEFT
        table.add_column(
            Text(column.name),  # a header can be a dimension or a label's category
            justify="left" if left else "right",
            overflow="fold",
            min_width=need[i],
            # folding: every width fixed, so the numbers keep theirs and the groups take what is left
            width=wide.get(i, need[i]) if wide else None,
        )
    for row in cells:
        table.add_row(*(Text(row[i]) for i in shown))
    out.print(table)
    for note in view.notes:
        out.print(Text(note, style="italic"))
    if hidden:
        out.print(
            Text(
                f"(not shown at {out.width} columns: {', '.join(view.columns[i].name for i in sorted(hidden))}; "
                "--format csv has every column)"
            ),
            style="dim",
        )


_GAP = 2
"""Characters between two columns of :func:`print_table`'s tables (collapsed padding plus the box's blank rule)."""


def _fold_widths(view: View, shown: list[int], need: list[int], width: int) -> dict[int, int]:
    """When the columns that are always shown still do not fit, the group and text columns share what the
    others leave, and their values fold onto further lines (whole, never cut); numbers keep their width."""
    total = sum(need[i] for i in shown) + _GAP * (len(shown) - 1)
    texts = [i for i in shown if view.columns[i].kind in ("group", "text")]
    if total <= width or not texts:
        return {}
    spare = width - (total - sum(need[i] for i in texts))
    share = max(8, spare // len(texts))
    # a header folds between its words, never inside one
    return {i: min(need[i], max(share, *(len(w) for w in view.columns[i].name.split()))) for i in texts}


def _min_width(column: Column, values: list[str]) -> int:
    """The narrowest a column may get: every value and the header whole (Rich cuts a header it must wrap
    in a column narrower than it, so a header never wraps)."""
    return max([len(column.name), *(len(v) for v in values)])


def stdout_console() -> Console:
    """The console commands print to; its ``is_terminal`` decides table or plain text."""
    return Console(file=sys.stdout, highlight=False, markup=False)
