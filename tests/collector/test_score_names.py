"""The score names a project uses (``GET /v1/scores``, which every workspace page loads for its pickers): counts
and each name's newest kind, read in one pass over the (project, name, is_current, kind) index; only a name with
items of several kinds looks for its newest item (a lookup that sorts all of that name's items: 0.1 s for a name
of 500,000 ratings on SQLite). On SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from plaudit_collector.store import feedback_writes, score_names
from plaudit_collector.store.db import Database


def _rate(db: Database, name: str, values: list[Any], first: int) -> None:
    items = [
        {"trace_id": f"{first + i:032x}", "span_id": f"{first + i:016x}", "name": name, "value": value}
        for i, value in enumerate(values)
    ]
    feedback_writes.insert_feedback(db, "default", items)


def test_counts_and_newest_kinds_without_a_lookup_per_name(db: Database) -> None:
    _rate(db, "old", [True], 0)  # rated once, before everything else
    _rate(db, "mixed", [4, 5], 10)  # numeric, then a thumb: its newest kind is boolean
    _rate(db, "thumbs", [True, False] * 150, 100)
    _rate(db, "mixed", [True], 1000)
    _rate(db, "tone", ["curt", "kind"], 2000)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(db.read_engine, "before_cursor_execute", seen)
    try:
        listed = score_names.list_scores(db, "default")["scores"]
    finally:
        event.remove(db.read_engine, "before_cursor_execute", seen)
    assert [(row["name"], row["count"], row["kind"]) for row in listed] == [
        ("thumbs", 300, "boolean"),
        ("mixed", 3, "boolean"),
        ("tone", 2, "categorical"),
        ("old", 1, "boolean"),
    ]
    newest_lookups = [statement for statement in statements if "ORDER BY feedback.id DESC" in statement]
    assert len(newest_lookups) == 1, statements  # "mixed" alone
