"""The judge ledger: one row per (definition hash, span), claimed with a lease, finished in the same
transaction as the feedback it writes.

Why it cannot double-score: a span is queued once per judge definition (a unique key); a claim is a conditional
UPDATE that only one worker wins; the feedback's idempotency key is derived from the same (name, hash, span), so
even a worker whose lease ran out while its call was in flight writes the row that is already there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError

from plaudit_collector.store.db import Database
from plaudit_collector.store.feedback_writes import FeedbackRejected, prepare, store_items
from plaudit_collector.store.judges import JUDGE, RUNS, USAGE
from plaudit_collector.store.tables import utcnow

__all__ = ["Claim", "FeedbackRejected", "claim", "complete", "dead_letters", "enqueue", "fail", "retry_dead"]


@dataclass(frozen=True)
class Claim:
    """A run this worker owns until ``lease_until``, with what the call needs."""

    run_id: int
    project: str
    judge_name: str
    judge_hash: str
    trace_id: str
    span_id: str
    attempts: int


def idempotency_key(name: str, judge_hash: str, trace_id: str, span_id: str) -> str:
    return f"judge:{name}@{judge_hash}:{trace_id}:{span_id}"


def enqueue(
    db: Database, project: str, name: str, judge_hash: str, targets: Sequence[tuple[str, str]], now: float
) -> int:
    """Queue spans for a definition; spans already queued (in any state) are left alone. Returns how many
    were new."""
    if not targets:
        return 0
    stamp = utcnow()
    rows = [
        {
            "project": project,
            "judge_name": name,
            "judge_hash": judge_hash,
            "trace_id": trace_id,
            "span_id": span_id,
            "status": "pending",
            "attempts": 0,
            "due_at": now,
            "created_at": stamp,
            "updated_at": stamp,
        }
        for trace_id, span_id in dict.fromkeys(targets)
    ]
    added = 0
    with db.writing(), db.engine.begin() as conn:
        for start in range(0, len(rows), 500):
            stmt = db.insert(RUNS).values(rows[start : start + 500])
            stmt = stmt.on_conflict_do_nothing(
                index_elements=["project", "judge_name", "judge_hash", "trace_id", "span_id"]
            )
            added += len(conn.execute(stmt.returning(RUNS.c.id)).all())
    return added


def _due(now: float) -> Any:
    return or_(
        and_(RUNS.c.status == "pending", RUNS.c.due_at <= now),
        and_(RUNS.c.status == "running", RUNS.c.lease_until < now),
    )


def _take_budget(conn: Any, db: Database, project: str, name: str, budget: int | None, hour: int) -> bool:
    """Count one call against the judge's hour; False when the hour's budget is spent."""
    conn.execute(
        db.insert(USAGE)
        .values(project=project, judge_name=name, hour=hour, calls=0)
        .on_conflict_do_nothing(index_elements=["project", "judge_name", "hour"])
    )
    terms = [USAGE.c.project == project, USAGE.c.judge_name == name, USAGE.c.hour == hour]
    if budget is not None:
        terms.append(USAGE.c.calls < budget)
    return bool(conn.execute(update(USAGE).where(*terms).values(calls=USAGE.c.calls + 1)).rowcount)


def claim(
    db: Database,
    worker: str,
    limit: int,
    now: float,
    *,
    lease: float,
    project: str | None = None,
    name: str | None = None,
) -> list[Claim]:
    """Take up to ``limit`` due runs of enabled judges whose definition is unchanged and whose hourly budget
    has room. A run queued under an older definition is moved to the dead letters (its rubric is gone)."""
    judge_terms = [JUDGE.c.enabled.is_(True)]
    if project is not None:
        judge_terms.append(JUDGE.c.project == project)
    if name is not None:
        judge_terms.append(JUDGE.c.name == name)
    query = (
        select(RUNS.c.id, RUNS.c.project, RUNS.c.judge_name, RUNS.c.judge_hash, RUNS.c.trace_id, RUNS.c.span_id)
        .add_columns(RUNS.c.attempts, JUDGE.c.hash.label("current_hash"), JUDGE.c.budget_per_hour)
        .select_from(RUNS.join(JUDGE, and_(JUDGE.c.project == RUNS.c.project, JUDGE.c.name == RUNS.c.judge_name)))
        .where(_due(now), *judge_terms)
        .order_by(RUNS.c.due_at, RUNS.c.id)
        .limit(limit * 4)
    )
    hour = int(now // 3600)
    claims: list[Claim] = []
    spent: set[tuple[str, str]] = set()
    with db.writing(), db.engine.begin() as conn:
        for row in conn.execute(query).all():
            if len(claims) >= limit:
                break
            if row.judge_hash != row.current_hash:
                conn.execute(
                    update(RUNS)
                    .where(RUNS.c.id == row.id, _due(now))
                    .values(status="dead", last_error="the judge's definition changed", updated_at=utcnow())
                )
                continue
            if (row.project, row.judge_name) in spent:
                continue
            won = conn.execute(
                update(RUNS)
                .where(RUNS.c.id == row.id, _due(now))
                .values(
                    status="running",
                    lease_until=now + lease,
                    worker=worker[:100],
                    attempts=RUNS.c.attempts + 1,
                    updated_at=utcnow(),
                )
            ).rowcount
            if not won:
                continue  # another worker took it
            if not _take_budget(conn, db, row.project, row.judge_name, row.budget_per_hour, hour):
                spent.add((row.project, row.judge_name))
                conn.execute(
                    update(RUNS)
                    .where(RUNS.c.id == row.id)
                    .values(status="pending", lease_until=None, worker=None, attempts=RUNS.c.attempts - 1)
                )
                continue
            claims.append(
                Claim(row.id, row.project, row.judge_name, row.judge_hash, row.trace_id, row.span_id, row.attempts + 1)
            )
    return claims


def complete(db: Database, claim_: Claim, item: dict[str, Any]) -> int:
    """Store the judge's feedback and close the run, in one transaction; returns the feedback id.

    Raises:
        FeedbackRejected: the value breaks the project's strict score config (nothing stored).
    """
    item = {
        **item,
        "idempotency_key": idempotency_key(claim_.judge_name, claim_.judge_hash, claim_.trace_id, claim_.span_id),
    }
    prepared = [prepare(item)]
    for _attempt in range(3):
        try:
            with db.writing(), db.engine.begin() as conn:
                row = store_items(conn, claim_.project, prepared, lock=not db.is_sqlite)[0]
                conn.execute(
                    update(RUNS)
                    .where(RUNS.c.id == claim_.run_id)
                    .values(status="done", feedback_id=row.id, lease_until=None, last_error=None, updated_at=utcnow())
                )
            return int(row.id)
        except IntegrityError:  # another writer stored the same key first: look again
            continue
    raise RuntimeError("judge feedback kept conflicting")


def fail(db: Database, claim_: Claim, error: str, *, retry_at: float | None) -> str:
    """Record a failed attempt: due again at ``retry_at``, or a dead letter when it is None. Returns the status."""
    status = "dead" if retry_at is None else "pending"
    with db.writing(), db.engine.begin() as conn:
        conn.execute(
            update(RUNS)
            .where(RUNS.c.id == claim_.run_id, RUNS.c.status == "running")
            .values(
                status=status,
                due_at=retry_at if retry_at is not None else RUNS.c.due_at,
                lease_until=None,
                last_error=error[:2000],
                updated_at=utcnow(),
            )
        )
    return status


def release(db: Database, claims: Sequence[Claim]) -> None:
    """Hand back runs never started (a stopping worker), without counting the attempt."""
    if not claims:
        return
    with db.writing(), db.engine.begin() as conn:
        conn.execute(
            update(RUNS)
            .where(RUNS.c.id.in_([c.run_id for c in claims]), RUNS.c.status == "running")
            .values(status="pending", lease_until=None, worker=None, attempts=RUNS.c.attempts - 1)
        )


def dead_letters(db: Database, project: str, name: str, limit: int = 100) -> dict[str, Any]:
    query = (
        select(RUNS)
        .where(RUNS.c.project == project, RUNS.c.judge_name == name, RUNS.c.status == "dead")
        .order_by(RUNS.c.updated_at.desc(), RUNS.c.id.desc())
        .limit(limit)
    )
    with db.read_engine.connect() as conn:
        rows = conn.execute(query).all()
    data = [
        {
            "trace_id": r.trace_id,
            "span_id": r.span_id,
            "judge_hash": r.judge_hash,
            "attempts": r.attempts,
            "error": r.last_error,
        }
        for r in rows
    ]
    return {"data": data, "count": len(data)}


def retry_dead(db: Database, project: str, name: str, current_hash: str, now: float) -> int:
    """Put the dead letters of the current definition back in the queue with fresh attempts."""
    with db.writing(), db.engine.begin() as conn:
        return int(
            conn.execute(
                update(RUNS)
                .where(
                    RUNS.c.project == project,
                    RUNS.c.judge_name == name,
                    RUNS.c.judge_hash == current_hash,
                    RUNS.c.status == "dead",
                )
                .values(status="pending", attempts=0, due_at=now, last_error=None, updated_at=utcnow())
            ).rowcount
            or 0
        )
