"""Rebuilding what ingest derives from the spans (the rollup, the feedback's span copies, on PostgreSQL the
days of each trace), one project at a time so that a large database shows how far it has got."""

from __future__ import annotations

from sqlalchemy import select

from plaudit_collector.store import copies, dimensions, rollup, score_rollup, trace_days
from plaudit_collector.store.db import Database
from plaudit_collector.store.progress import Report, silent


def rebuild(db: Database, progress: Report = silent) -> tuple[int, int, int]:
    """Fill in the projects' declared attribute dimensions, then recompute the rollup, the span copies, the
    score rollup and (PostgreSQL) the days of each trace from the stored rows, in one transaction (readers
    see the old figures until it commits); returns (rollup cells, feedback rows credited, score rollup
    cells)."""
    span = copies.SPAN
    with db.engine.connect() as conn:
        declaring = dimensions.projects_declaring(conn)
    filled = [dimensions.backfill(db, project, progress, finish=False) for project in declaring]
    with db.writing(), db.engine.begin() as conn:
        if not db.is_sqlite:  # spans an older collector stored are not hidden from reads by trace id
            progress("noting the days of each trace", 0, 1)
            trace_days.refill(conn)
            progress("noting the days of each trace", 1, 1)
        projects = sorted({row[0] for row in conn.execute(select(span.c.project).distinct())})
        rated = {row[0] for row in conn.execute(select(copies.FEEDBACK.c.project).distinct())}
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
