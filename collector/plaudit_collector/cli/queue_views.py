"""Review queues as :class:`~plaudit_collector.cli.output.View` tables: the list, one queue's progress overall
and per reviewer, and the one-row confirmations of ``create`` and ``submit``."""

from __future__ import annotations

from typing import Any

from plaudit_collector.cli.output import Column, View


def queue_list(queues: list[dict[str, Any]]) -> list[View]:
    """One row per queue; who reviews goes first when the terminal is narrow."""
    columns = [Column("id", "int"), Column("name", "group"), Column("kind", "text", hide=2)]
    columns += [Column("scores", "text"), Column("items", "int"), Column("overlap", "int", hide=3)]
    columns += [Column("progress", "percent"), Column("reviewers", "text", hide=1)]
    rows = [
        [
            q["id"],
            q["name"],
            q["kind"],
            ", ".join(q["scores"]),
            q["items"],
            q["overlap"],
            q["progress"].get("percent", 0) / 100,
            ", ".join(r["reviewer"] for r in q["progress"].get("reviewers", [])) or None,
        ]
        for q in queues
    ]
    notes = [] if queues else ["No review queue yet: `plaudit queues create NAME --score thumbs`."]
    return [View("Review queues", columns, rows, notes)]


def queue(q: dict[str, Any]) -> list[View]:
    """The queue's totals, then one row per reviewer."""
    p = q["progress"]
    columns = [Column("id", "int", hide=4), Column("name", "group"), Column("kind", "text", hide=3)]
    columns += [Column("scores", "text", hide=2), Column("ratings", "int"), Column("needed", "int", hide=1)]
    columns += [Column("items done", "int"), Column("items", "int", hide=1), Column("progress", "percent")]
    row = [q["id"], q["name"], q["kind"], ", ".join(q["scores"]), p["ratings"], p["needed"]]
    row += [p["completed_items"], p["items"], p["percent"] / 100]
    views = [View(f"Queue {q['id']}", columns, [row])]
    reviewers = p.get("reviewers", [])
    if reviewers:
        columns = [Column("reviewer", "group"), Column("done", "int"), Column("skipped", "int"), Column("held", "int")]
        rows = [[r["reviewer"], r["done"], r["skipped"], r["reserved"]] for r in reviewers]
        views.append(View("Reviewers", columns, rows))
    return views


def created(q: dict[str, Any]) -> list[View]:
    """The queue just created: its id (for ``next`` and ``submit``), size and overlap."""
    columns = [Column("id", "int"), Column("name", "group"), Column("kind", "text"), Column("items", "int")]
    columns += [Column("overlap", "int")]
    return [View("Queue created", columns, [[q["id"], q["name"], q["kind"], q["items"], q["overlap"]]])]


def submitted(result: dict[str, Any]) -> list[View]:
    """What became of the item: rated, judged or skipped, and how many feedback rows that stored."""
    columns = [Column("item", "int"), Column("state", "text"), Column("feedback stored", "int")]
    return [View("", columns, [[result["item_id"], result["state"], len(result.get("feedback_ids") or [])]])]
