"""Review queues: create one from chosen items, list them, and report progress per reviewer.

Handing items out and taking the ratings back is in :mod:`.queue_work`; which spans a queue holds is chosen
before it reaches the store (``analytics.review_sample``), so a queue is a fixed list from its creation on.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, case, delete, func, insert, select

from plaudit_collector.errors import ApiError
from plaudit_collector.store.db import Database
from plaudit_collector.store.feedback_reads import iso_utc
from plaudit_collector.store.tables import ReviewClaim, ReviewItem, ReviewQueue, utcnow

QUEUES = ReviewQueue.__table__  # type: ignore[attr-defined]
ITEMS = ReviewItem.__table__  # type: ignore[attr-defined]
CLAIMS = ReviewClaim.__table__  # type: ignore[attr-defined]

Target = tuple[str, str | None, str | None, str | None]
"""(trace_id, span_id, other_trace_id, other_span_id): one item; the B side only in pairwise queues."""


@contextmanager
def transaction(db: Database) -> Iterator[Connection]:
    """A write transaction that holds the database's write lock from its first statement.

    SQLite: ``BEGIN IMMEDIATE`` (pysqlite would otherwise start with a read lock, and two collectors on one
    file could both read an item as free before either writes). PostgreSQL: an ordinary transaction; the
    callers lock the item rows they change.
    """
    with db.writing(), db.engine.connect() as conn:
        if not db.is_sqlite:
            with conn.begin():
                yield conn
            return
        conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.exec_driver_sql("ROLLBACK")
            raise
        conn.exec_driver_sql("COMMIT")


def create_queue(db: Database, project: str, spec: dict[str, Any], targets: Sequence[Target]) -> dict[str, Any]:
    """Store the queue and its items (in the given order) in one transaction; returns the queue's JSON form."""
    row = {
        "project": project,
        "name": spec["name"],
        "kind": spec.get("kind") or "single",
        "filter": spec.get("filter") or {},
        "scores": list(spec.get("scores") or []),
        "sample": spec.get("sample"),
        "overlap": int(spec.get("overlap") or 1),
        "item_order": spec.get("order") or "random",
        "reserve_seconds": int(spec.get("reserve_seconds") or 300),
        "item_count": len(targets),
        "description": spec.get("description"),
        "created_at": utcnow(),
    }
    with transaction(db) as conn:
        queue_id = conn.execute(insert(QUEUES).returning(QUEUES.c.id), row).scalar_one()
        rows = [
            {
                "queue_id": queue_id,
                "position": position,
                "trace_id": trace_id,
                "span_id": span_id,
                "other_trace_id": other_trace,
                "other_span_id": other_span,
                "done": 0,
            }
            for position, (trace_id, span_id, other_trace, other_span) in enumerate(targets)
        ]
        for start in range(0, len(rows), 1000):
            conn.execute(insert(ITEMS), rows[start : start + 1000])
        found = load_queue(conn, project, queue_id)
    assert found is not None
    return queue_dict(found, progress(conn_rows=[], queue=found, completed=0, ratings=0))


def load_queue(conn: Connection, project: str, queue_id: int) -> Any:
    return conn.execute(select(QUEUES).where(QUEUES.c.project == project, QUEUES.c.id == queue_id)).first()


def require_queue(conn: Connection, project: str, queue_id: int) -> Any:
    queue = load_queue(conn, project, queue_id)
    if queue is None:
        raise ApiError(404, "not_found", f"no review queue with id {queue_id}", "queue_id")
    return queue


def _item_totals(conn: Connection, queue_ids: Sequence[int], overlaps: dict[int, int]) -> dict[int, tuple[int, int]]:
    """Per queue: (items every needed reviewer has done, ratings that count toward the overlap)."""
    if not queue_ids:
        return {}
    out: dict[int, tuple[int, int]] = {}
    for queue_id in queue_ids:  # one grouped query per queue: the overlap differs per queue
        overlap = overlaps[queue_id]
        capped = case((ITEMS.c.done > overlap, overlap), else_=ITEMS.c.done)
        completed = func.sum(case((ITEMS.c.done >= overlap, 1), else_=0))
        row = conn.execute(select(completed, func.sum(capped)).where(ITEMS.c.queue_id == queue_id)).one()
        out[queue_id] = (int(row[0] or 0), int(row[1] or 0))
    return out


def _reviewer_rows(conn: Connection, queue_id: int, now: datetime) -> list[Any]:
    active = case((CLAIMS.c.state != "reserved", 1), (CLAIMS.c.reserved_until > now, 1), else_=0)
    return list(
        conn.execute(
            select(CLAIMS.c.reviewer, CLAIMS.c.state, func.count(), func.max(CLAIMS.c.updated_at))
            .where(CLAIMS.c.queue_id == queue_id, active == 1)
            .group_by(CLAIMS.c.reviewer, CLAIMS.c.state)
        )
    )


def progress(*, conn_rows: Sequence[Any], queue: Any, completed: int, ratings: int) -> dict[str, Any]:
    """The queue's progress: items completed (rated by ``overlap`` reviewers), ratings against ratings
    needed, the percentage, and per reviewer what they did (from ``conn_rows``: reviewer, state, count, last)."""
    needed = queue.item_count * queue.overlap
    reviewers: dict[str, dict[str, Any]] = {}
    for reviewer, state, count, last in conn_rows:
        entry = reviewers.setdefault(reviewer, {"reviewer": reviewer, "done": 0, "skipped": 0, "reserved": 0})
        entry[state] = int(count)
        entry["last_active"] = max(filter(None, [entry.get("last_active"), iso_utc(last)]), default=None)
    return {
        "items": queue.item_count,
        "completed_items": completed,
        "ratings": ratings,
        "needed": needed,
        "percent": round(100.0 * ratings / needed, 1) if needed else 100.0,
        "reviewers": sorted(reviewers.values(), key=lambda r: (-r["done"], r["reviewer"])),
    }


def queue_dict(queue: Any, progress_: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": queue.id,
        "name": queue.name,
        "kind": queue.kind,
        "filter": queue.filter,
        "scores": queue.scores,
        "sample": queue.sample,
        "overlap": queue.overlap,
        "order": queue.item_order,
        "reserve_seconds": queue.reserve_seconds,
        "description": queue.description,
        "created_at": iso_utc(queue.created_at),
        "items": queue.item_count,
        "progress": progress_,
    }


def get_queue(db: Database, project: str, queue_id: int) -> dict[str, Any] | None:
    """The queue with its progress and, per reviewer, items done, skipped and held now."""
    with db.read_engine.connect() as conn:
        queue = load_queue(conn, project, queue_id)
        if queue is None:
            return None
        completed, ratings = _item_totals(conn, [queue.id], {queue.id: queue.overlap})[queue.id]
        rows = _reviewer_rows(conn, queue.id, utcnow())
    return queue_dict(queue, progress(conn_rows=rows, queue=queue, completed=completed, ratings=ratings))


def list_queues(db: Database, project: str, limit: int = 200) -> dict[str, Any]:
    """The project's queues, newest first, each with its progress."""
    with db.read_engine.connect() as conn:
        queues = list(
            conn.execute(select(QUEUES).where(QUEUES.c.project == project).order_by(QUEUES.c.id.desc()).limit(limit))
        )
        totals = _item_totals(conn, [q.id for q in queues], {q.id: q.overlap for q in queues})
        now = utcnow()
        out = []
        for queue in queues:
            completed, ratings = totals[queue.id]
            rows = _reviewer_rows(conn, queue.id, now)
            out.append(queue_dict(queue, progress(conn_rows=rows, queue=queue, completed=completed, ratings=ratings)))
    return {"queues": out}


def delete_queue(db: Database, project: str, queue_id: int) -> bool:
    """Remove the queue, its items and claims; the feedback its reviewers gave stays (it is ordinary feedback)."""
    with transaction(db) as conn:
        if load_queue(conn, project, queue_id) is None:
            return False
        conn.execute(delete(CLAIMS).where(CLAIMS.c.queue_id == queue_id))
        conn.execute(delete(ITEMS).where(ITEMS.c.queue_id == queue_id))
        conn.execute(delete(QUEUES).where(QUEUES.c.id == queue_id))
    return True
