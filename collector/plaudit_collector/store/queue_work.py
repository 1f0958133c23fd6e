"""Working a review queue: hand a reviewer the next item (reserved for a while), take the ratings back.

Reservation rules, for ``overlap`` k:

* an item is handed to a reviewer who has neither rated nor skipped it, while the reviewers who rated it
  plus those holding it now (reservation not expired) are fewer than k;
* items nobody holds come first, then the queue's order: two reviewers asking at once get different items
  whenever there are enough;
* a reviewer asking again while holding an item gets the same item back (a reload loses nothing).

Concurrency: every change to an item's claims happens with the item row locked (``FOR UPDATE``; the next-item
search takes ``SKIP LOCKED`` so concurrent reviewers pass over each other's rows) on PostgreSQL, and inside
one ``BEGIN IMMEDIATE`` transaction on SQLite. Each submission is ordinary feedback (``source="annotator"``,
``author`` = the reviewer), stored in the same transaction as the claim it completes.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, exists, func, insert, select, update

from plaudit_collector.errors import ApiError
from plaudit_collector.ingest.content import full as full_attributes
from plaudit_collector.store import feedback_writes, trace_days
from plaudit_collector.store.db import Database
from plaudit_collector.store.feedback_reads import iso_utc
from plaudit_collector.store.queues import CLAIMS, ITEMS, require_queue, transaction
from plaudit_collector.store.score_configs import FeedbackRejected, score_config_dict
from plaudit_collector.store.tables import ScoreConfig, Span, utcnow

SPAN = Span.__table__  # type: ignore[attr-defined]
CONFIGS = ScoreConfig.__table__  # type: ignore[attr-defined]
MAX_ATTEMPTS = 50
SPAN_FIELDS = (
    "span_id", "parent_span_id", "name", "span_kind", "duration_ms", "status_code", "status_message", "model",
    "provider", "input_tokens", "output_tokens", "cost", "input", "output", "prompt_name", "prompt_version",
    "config_hash", "variant", "user_id", "session_id", "attributes",
)  # fmt: skip


def next_item(db: Database, project: str, queue_id: int, reviewer: str) -> dict[str, Any] | None:
    """Reserve the next item for ``reviewer`` and return it with its content; None when none is left for them."""
    with transaction(db) as conn:
        queue = require_queue(conn, project, queue_id)
        now = utcnow()
        until = now + timedelta(seconds=queue.reserve_seconds)
        held = conn.execute(
            select(ITEMS, CLAIMS.c.swapped)
            .join(CLAIMS, CLAIMS.c.item_id == ITEMS.c.id)
            .where(
                CLAIMS.c.queue_id == queue_id,
                CLAIMS.c.reviewer == reviewer,
                CLAIMS.c.state == "reserved",
                CLAIMS.c.reserved_until > now,
            )
            .order_by(ITEMS.c.position)
            .limit(1)
        ).first()
        if held is not None:
            _lock(conn, db, held.id)
            _claim(conn, queue_id, held.id, reviewer, "reserved", until, swapped=held.swapped)
            return _item_dict(conn, project, queue, held, bool(held.swapped), until)
        tried: list[int] = []
        for _attempt in range(MAX_ATTEMPTS):
            item = _candidate(conn, db, queue, reviewer, now, tried)
            if item is None:
                return None
            # PostgreSQL: the search read claims as of its start; with the row now locked, look again.
            if not db.is_sqlite and not _still_open(conn, queue, item.id, reviewer, now):
                tried.append(item.id)
                continue
            swapped = queue.kind == "pairwise" and random.random() < 0.5
            _claim(conn, queue_id, item.id, reviewer, "reserved", until, swapped=swapped)
            return _item_dict(conn, project, queue, item, swapped, until)
    return None


def _others_holding(item_id: Any, reviewer: str, now: datetime) -> Any:
    return (
        select(func.count())
        .where(
            CLAIMS.c.item_id == item_id,
            CLAIMS.c.state == "reserved",
            CLAIMS.c.reserved_until > now,
            CLAIMS.c.reviewer != reviewer,
        )
        .scalar_subquery()
    )


def _finished_by(item_id: Any, reviewer: str) -> Any:
    return exists().where(
        CLAIMS.c.item_id == item_id, CLAIMS.c.reviewer == reviewer, CLAIMS.c.state.in_(("done", "skipped"))
    )


def _candidate(conn: Connection, db: Database, queue: Any, reviewer: str, now: datetime, tried: list[int]) -> Any:
    holding = _others_holding(ITEMS.c.id, reviewer, now)
    query = (
        select(ITEMS)
        .where(
            ITEMS.c.queue_id == queue.id,
            ITEMS.c.done < queue.overlap,
            ~_finished_by(ITEMS.c.id, reviewer),
            ITEMS.c.done + holding < queue.overlap,
        )
        .order_by(holding, ITEMS.c.position)
        .limit(1)
    )
    if tried:
        query = query.where(ITEMS.c.id.not_in(tried))
    if not db.is_sqlite:
        query = query.with_for_update(skip_locked=True, of=ITEMS)
    return conn.execute(query).first()


def _still_open(conn: Connection, queue: Any, item_id: int, reviewer: str, now: datetime) -> bool:
    row = conn.execute(
        select(ITEMS.c.done, _others_holding(item_id, reviewer, now), _finished_by(item_id, reviewer)).where(
            ITEMS.c.id == item_id
        )
    ).one()
    return bool(row[0] + row[1] < queue.overlap and not row[2])


def _lock(conn: Connection, db: Database, item_id: int) -> Any:
    query = select(ITEMS).where(ITEMS.c.id == item_id)
    if not db.is_sqlite:
        query = query.with_for_update(of=ITEMS)
    return conn.execute(query).first()


def _claim(
    conn: Connection, queue_id: int, item_id: int, reviewer: str, state: str, until: datetime, *, swapped: bool
) -> None:
    """Insert or update the reviewer's one claim on the item (the caller holds the item's lock)."""
    values = {"state": state, "reserved_until": until, "updated_at": utcnow(), "swapped": swapped}
    changed = conn.execute(
        update(CLAIMS).where(CLAIMS.c.item_id == item_id, CLAIMS.c.reviewer == reviewer).values(values)
    ).rowcount
    if not changed:
        conn.execute(insert(CLAIMS).values(queue_id=queue_id, item_id=item_id, reviewer=reviewer, **values))


def _item_dict(conn: Connection, project: str, queue: Any, item: Any, swapped: bool, until: datetime) -> dict[str, Any]:
    configs = {
        row.name: score_config_dict(row)
        for row in conn.execute(select(CONFIGS).where(CONFIGS.c.project == project, CONFIGS.c.name.in_(queue.scores)))
    }
    out: dict[str, Any] = {
        "id": item.id,
        "queue_id": queue.id,
        "kind": queue.kind,
        "position": item.position,
        "scores": [{"name": name, "config": configs.get(name)} for name in queue.scores],
        "reserved_until": iso_utc(until),
    }
    if queue.kind != "pairwise":
        out.update(trace_id=item.trace_id, span_id=item.span_id, span=_span(conn, project, item.trace_id, item.span_id))
        return out
    sides = [(item.trace_id, item.span_id), (item.other_trace_id, item.other_span_id)]
    if swapped:
        sides.reverse()  # shown in random order; the submission's "a"/"b" are the sides as shown
    for label, (trace_id, span_id) in zip(("a", "b"), sides, strict=True):
        out[label] = {"trace_id": trace_id, "span_id": span_id, "span": _span(conn, project, trace_id, span_id)}
    return out


def _span(conn: Connection, project: str, trace_id: str, span_id: str | None) -> dict[str, Any] | None:
    """The span an item names (the trace's first root span for a trace-level item), or None if not stored."""
    target = SPAN.c.span_id == span_id if span_id else SPAN.c.parent_span_id.is_(None)
    query = (
        select(*(SPAN.c[name] for name in SPAN_FIELDS))
        .where(SPAN.c.project == project, SPAN.c.trace_id == trace_id, target)
        .order_by(SPAN.c.id)
        .limit(1)
    )
    row = conn.execute(trace_days.narrow(conn, query, project, [trace_id])).first()
    if row is None:
        return None
    record = dict(row._mapping)
    record["status"] = record.pop("status_code")
    record["attributes"] = full_attributes(record["attributes"], record["input"], record["output"])
    return record


def submit(
    db: Database,
    project: str,
    queue_id: int,
    item_id: int,
    reviewer: str,
    *,
    ratings: dict[str, Any] | None = None,
    comment: str | None = None,
    correction: str | None = None,
    winner: str | None = None,
    skip: bool = False,
) -> dict[str, Any]:
    """Record the reviewer's ratings (or pairwise winner) on the item as annotator feedback, or their skip.

    Raises:
        ApiError: 404 for an unknown queue or item; 409 when the item already has its k reviewers and this
            reviewer holds no claim on it; 422 for a rating that breaks a strict score config.
    """
    with transaction(db) as conn:
        queue = require_queue(conn, project, queue_id)
        item = _lock(conn, db, item_id)
        if item is None or item.queue_id != queue_id:
            raise ApiError(404, "not_found", f"queue {queue_id} has no item {item_id}", "item_id")
        now = utcnow()
        claim = conn.execute(select(CLAIMS).where(CLAIMS.c.item_id == item_id, CLAIMS.c.reviewer == reviewer)).first()
        if claim is None and item.done + _count_holding(conn, item_id, reviewer, now) >= queue.overlap:
            raise ApiError(
                409, "item_full", f"item {item_id} has its {queue.overlap} reviewer(s); ask for the next", "item_id"
            )
        already_done = claim is not None and claim.state == "done"
        swapped = bool(claim.swapped) if claim is not None else False
        if skip:
            if not already_done:
                _claim(conn, queue_id, item_id, reviewer, "skipped", now, swapped=swapped)
            return {"item_id": item_id, "state": "done" if already_done else "skipped", "feedback_ids": []}
        _check_submission(queue, ratings, winner)
        items = _feedback_items(queue, item, reviewer, ratings, comment, correction, winner, swapped)
        if not items:
            raise ApiError(422, "invalid_field", "ratings: give a rating, a comment or a correction", "ratings")
        try:
            prepared = [feedback_writes.prepare(entry) for entry in items]
            stored = feedback_writes.store_items(conn, project, prepared, lock=not db.is_sqlite)
        except FeedbackRejected as exc:
            field = f"ratings.{items[exc.index]['name']}" if winner is None else "winner"
            raise ApiError(422, "score_config_violation", f"{field}: {exc.message}", field) from None
        _claim(conn, queue_id, item_id, reviewer, "done", now, swapped=swapped)
        if not already_done:
            conn.execute(update(ITEMS).where(ITEMS.c.id == item_id).values(done=ITEMS.c.done + 1))
    return {"item_id": item_id, "state": "done", "feedback_ids": [row.id for row in stored]}


def _check_submission(queue: Any, ratings: dict[str, Any] | None, winner: str | None) -> None:
    if queue.kind == "pairwise":
        if winner is None:
            raise ApiError(422, "invalid_field", "winner: a pairwise item takes 'a', 'b' or 'tie'", "winner")
        if ratings:
            raise ApiError(422, "invalid_field", "ratings: a pairwise item takes a winner, not ratings", "ratings")
        return
    if winner is not None:
        raise ApiError(422, "invalid_field", "winner: only pairwise queues take a winner", "winner")
    for name in ratings or {}:
        if name not in queue.scores:
            field = f"ratings.{name[:60]}"
            known = ", ".join(queue.scores)
            raise ApiError(422, "invalid_field", f"{field}: not a score of this queue ({known})", field)


def _count_holding(conn: Connection, item_id: int, reviewer: str, now: datetime) -> int:
    return int(conn.execute(select(_others_holding(item_id, reviewer, now))).scalar_one())


def _feedback_items(
    queue: Any,
    item: Any,
    reviewer: str,
    ratings: dict[str, Any] | None,
    comment: str | None,
    correction: str | None,
    winner: str | None,
    swapped: bool,
) -> list[dict[str, Any]]:
    """The feedback rows one submission becomes. The comment and correction go with the first rating (or,
    with no rating, on their own under the queue's first score)."""
    common = {"source": "annotator", "author": reviewer, "metadata": {"queue_id": queue.id, "queue_item": item.id}}
    if queue.kind == "pairwise":
        if swapped and winner in ("a", "b"):
            winner = "b" if winner == "a" else "a"
        return [
            {
                "trace_id": item.trace_id,
                "span_id": item.span_id,
                "other_trace_id": item.other_trace_id,
                "other_span_id": item.other_span_id,
                "name": queue.scores[0] if queue.scores else "preference",
                "kind": "preference",
                "value": winner,
                "comment": comment,
                **common,
            }
        ]
    target = {"trace_id": item.trace_id, "span_id": item.span_id}
    entries = [{**target, "name": name, "value": value, **common} for name, value in (ratings or {}).items()]
    if not entries:
        entries = [{**target, "name": queue.scores[0], "value": None, **common}]
    entries[0].update(comment=comment, correction=correction)
    return [entry for entry in entries if not _empty(entry)]


def _empty(entry: dict[str, Any]) -> bool:
    return all(entry.get(key) is None for key in ("value", "comment", "correction"))
