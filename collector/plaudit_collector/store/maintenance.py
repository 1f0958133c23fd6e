"""Rebuilding what ingest derives from the spans (the rollup, the feedback's span copies), one project at a
time so that a large database shows how far it has got."""

from __future__ import annotations

from sqlalchemy import distinct, select

from plaudit_collector.store import copies, dimensions, rollup, score_rollup
from plaudit_collector.store.db import Database
from plaudit_collector.store.progress import Report, silent


def rebuild(db: Database, progress: Report = silent) -> tuple[int, int, int]:
    """Fill in the projects' declared attribute dimensions, then recompute the rollup, the span copies and
    the score rollup from the stored rows, in one transaction (readers see the old figures until it
    commits); returns (rollup cells, feedback rows credited, score
    rollup cells)."""
    span = copies.SPAN
    with db.engine.connect() as conn:
        declaring = dimensions.projects_declaring(conn)
    filled = [dimensions.backfill(db, project, progress, finish=False) for project in declaring]
    with db.writing(), db.engine.begin() as conn:
        projects = sorted({row[0] for row in conn.execute(select(distinct(span.c.project)))})
        rated = {row[0] for row in conn.execute(select(distinct(copies.FEEDBACK.c.project)))}
        projects += sorted(rated - set(projects))
        task = "crediting feedback to spans"
        progress(task, 0, len(projects))
        copies.forget_missing(conn, 2**63 - 1)
        resolved = 0
        for done, project in enumerate(projects, start=1):
            resolved += copies.resolve_all(conn, project, scores=False)
            progress(task, done, len(projects))
        conn.execute(rollup.ROLLUP.delete())
        task, cells = "rebuilding the rollup", 0
        progress(task, 0, len(projects))
        for done, project in enumerate(projects, start=1):
            cells += rollup.rebuild(conn, db.dialect, project)
            progress(task, done, len(projects))
        task, score_cells = "rebuilding the score rollup", 0
        progress(task, 0, len(projects))
        for done, project in enumerate(projects, start=1):
            score_cells += score_rollup.rebuild(conn, db.dialect, project)
            progress(task, done, len(projects))
        for project, state in zip(declaring, filled, strict=True):
            dimensions.mark_ready(conn, project, state)
    return cells, resolved, score_cells
