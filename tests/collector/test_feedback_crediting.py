"""Feedback stored after its span is credited at write time (one lookup for the whole batch, the copy written
with the row) exactly as the reference resolution (``copies.resolve_all``, the UPDATE that heals and
migrates) credits it: span-level items their span, trace-level items the trace's first stored root, session
items and items whose span is missing nothing. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import event, select

from plaudit_collector import pipeline
from plaudit_collector.store import copies, feedback_reads, feedback_writes
from plaudit_collector.store.db import Database

TRACE_A = "a1" * 16
TRACE_B = "b2" * 16  # two roots (a lost parent link): trace-level feedback credits the first stored
TRACE_GONE = "c3" * 16  # no spans at all
TRACE_LONG = "d4" * 16  # spans sixty days apart: on PostgreSQL, in two day partitions among many
DAY = "86400000000000"


def _span(
    name: str, trace_id: str, span_id: str, parent: str | None, model: str, days_later: int = 0
) -> dict[str, Any]:
    start = 1_700_000_000_000_000_000 + days_later * int(DAY)
    span: dict[str, Any] = {
        "traceId": trace_id,
        "spanId": span_id,
        "name": name,
        "kind": 3,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + 5_000_000),
        "attributes": [
            {"key": "gen_ai.request.model", "value": {"stringValue": model}},
            {"key": "session.id", "value": {"stringValue": "s-1"}},
        ],
    }
    if parent:
        span["parentSpanId"] = parent
    return span


def _ingest(db: Database, spans: list[dict[str, Any]]) -> None:
    body = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}).encode()
    pipeline.ingest_traces(db, "default", body, content_type="application/json", encoding=None, limit=1 << 20)


def _copies(db: Database) -> list[tuple[Any, ...]]:
    f = copies.FEEDBACK
    columns = [f.c.idempotency_key, *(f.c[copy] for copy in copies.COPIED.values())]
    with db.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(select(*columns).order_by(f.c.id))]


def test_write_time_copies_equal_the_reference_resolution(db: Database) -> None:
    _ingest(
        db,
        [
            _span("root", TRACE_A, "a000000000000001", None, "m-root"),
            _span("child", TRACE_A, "a000000000000002", "a000000000000001", "m-child"),
        ],
    )
    _ingest(db, [_span("first root", TRACE_B, "b000000000000001", None, "m-b1")])
    _ingest(db, [_span("second root", TRACE_B, "b000000000000002", None, "m-b2")])
    _ingest(db, [_span(f"day {d}", "e5" * 16, f"e{d:015x}", None, "m-other", d) for d in range(30)])
    _ingest(
        db,
        [
            _span("long root", TRACE_LONG, "d000000000000001", None, "m-long-root"),
            _span("long child", TRACE_LONG, "d000000000000002", "d000000000000001", "m-long-child", 60),
        ],
    )
    items: list[dict[str, Any]] = [
        {"trace_id": TRACE_A, "span_id": "a000000000000002", "name": "thumbs", "value": True},
        {"trace_id": TRACE_A, "span_id": None, "name": "thumbs", "value": False, "author": "ann"},
        {"trace_id": TRACE_B, "span_id": None, "name": "stars", "value": 4},
        {"trace_id": TRACE_B, "span_id": "b000000000000002", "name": "stars", "value": 2, "author": "bob"},
        {"trace_id": TRACE_A, "span_id": "a0000000000000ff", "name": "thumbs", "value": True},  # span not here
        {"trace_id": TRACE_GONE, "span_id": None, "name": "thumbs", "value": True},  # trace not here
        {"trace_id": None, "session_id": "s-1", "name": "resolved", "value": True},  # sessions are joined later
        {
            "trace_id": TRACE_A,
            "span_id": "a000000000000001",
            "other_trace_id": TRACE_B,
            "other_span_id": "b000000000000001",
            "name": "pref",
            "kind": "preference",
            "value": "a",
        },
        {"trace_id": TRACE_LONG, "span_id": "d000000000000002", "name": "thumbs", "value": True},
        {"trace_id": TRACE_LONG, "span_id": None, "name": "thumbs", "value": False, "author": "cy"},
    ]
    items = [{**item, "idempotency_key": f"k{i}"} for i, item in enumerate(items)]
    feedback_writes.insert_feedback(db, "default", items[:4])  # a batch
    for item in items[4:]:  # and single items
        feedback_writes.insert_feedback(db, "default", [item])
    written = _copies(db)

    with db.engine.begin() as conn:  # forget every copy, then resolve them the reference way
        conn.execute(copies.FEEDBACK.update().values(dict.fromkeys(copies.COPIED.values())))
        copies.resolve_all(conn)
    assert written == _copies(db)

    by_key = {row[0]: row for row in written}
    model = 1 + list(copies.COPIED).index("model")
    assert [by_key[f"k{i}"][model] for i in range(10)] == [
        "m-child",
        "m-root",
        "m-b1",
        "m-b2",
        None,
        None,
        None,
        "m-root",
        "m-long-child",
        "m-long-root",
    ]


def test_span_ratings_look_up_their_own_spans_not_the_whole_trace(db: Database) -> None:
    """A request of span-level items only looks its spans up by their (trace, span) pairs, one probe of the
    spans' unique key each (the lookup for a trace's root reads every span of the trace); its copies still
    equal the reference resolution, the root rated by its own span id included, and a span not stored
    credits nothing (not the root)."""
    trace = "f6" * 16
    spans = [_span("root", trace, f"{1:016x}", None, "m-root")]
    spans += [_span(f"step {i}", trace, f"{i:016x}", f"{1:016x}", f"m-{i}") for i in range(2, 41)]
    _ingest(db, spans)
    items = [
        {"trace_id": trace, "span_id": f"{i:016x}", "name": "thumbs", "value": i % 2 == 0, "idempotency_key": f"s{i}"}
        for i in (1, 7, 40, 99)  # the root by its id, two steps, a span never stored
    ]
    feedback_writes.insert_feedback(db, "default", items[:3])  # a batch
    feedback_writes.insert_feedback(db, "default", items[3:])  # and a single item
    written = _copies(db)
    with db.engine.begin() as conn:
        conn.execute(copies.FEEDBACK.update().values(dict.fromkeys(copies.COPIED.values())))
        copies.resolve_all(conn)
    assert written == _copies(db)
    model = 1 + list(copies.COPIED).index("model")
    assert [row[model] for row in written] == ["m-root", "m-7", "m-40", None]

    dialect = db.engine.dialect.name
    sql = str(copies._target_spans(dialect, roots=False).compile(dialect=db.engine.dialect))
    assert "parent_span_id IS NULL" not in sql
    if dialect == "sqlite":  # PostgreSQL's plan for a table this small says nothing of a large one
        with db.engine.connect() as conn:
            plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, _dummy(sql)).all()
        assert "trace_id=? AND span_id=?" in " ".join(row[3] for row in plan), plan


def test_orphans_are_read_among_the_uncredited_ratings_and_preferences(db: Database) -> None:
    """The orphans report (feedback whose span has not arrived) looks only at ratings not credited to a span
    and at preferences' B sides, through their partial indexes: on SQLite every plan step that reads the
    feedback table reads it through one of those or by row id. What it reports is unchanged: a credited
    rating is never an orphan; a trace-level rating is one only when no span of its trace is stored; a
    preference is one when either side is missing."""
    trace_c = "c7" * 16  # a child whose root never arrived: trace-level feedback credits nothing, yet has spans
    _ingest(
        db,
        [
            _span("root", TRACE_A, "a000000000000001", None, "m-root"),
            _span("child", TRACE_A, "a000000000000002", "a000000000000001", "m-child"),
            _span("lost child", trace_c, "c000000000000002", "c000000000000001", "m-lost"),
        ],
    )
    a_child = {"trace_id": TRACE_A, "span_id": "a000000000000002"}
    items: list[dict[str, Any]] = [
        {**a_child, "name": "thumbs", "value": True},
        {"trace_id": TRACE_A, "span_id": "a0000000000000ff", "name": "thumbs", "value": True},  # orphan
        {"trace_id": trace_c, "span_id": None, "name": "thumbs", "value": True},
        {"trace_id": TRACE_GONE, "span_id": None, "name": "thumbs", "value": False},  # orphan
        {**a_child, "other_trace_id": TRACE_GONE, "other_span_id": "c300000000000001", "name": "pref", "value": "a"},
        {**a_child, "other_trace_id": TRACE_A, "other_span_id": "a000000000000001", "name": "pref2", "value": "b"},
        {"trace_id": None, "session_id": "s-1", "name": "resolved", "value": True},
    ]
    ids = feedback_writes.insert_feedback(
        db, "default", [{**item, "idempotency_key": f"o{i}"} for i, item in enumerate(items)]
    )

    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        found = feedback_reads.find_orphans(db, "default")
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert found["count"] == 3 and [row["id"] for row in found["data"]] == [ids[1], ids[3], ids[4]]
    if db.engine.dialect.name == "sqlite":
        with db.engine.connect() as conn:
            for statement in statements:
                plan = [row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", _dummy(statement))]
                reads = [step for step in plan if re.match(r"(SCAN|SEARCH) feedback\b", step)]
                assert reads and all(re.search(READ_THROUGH, step) for step in reads), plan


READ_THROUGH = r"USING (INDEX ix_feedback_unresolved|(COVERING )?INDEX ix_feedback_other_trace|INTEGER PRIMARY KEY)"
"""How the orphans report may read the feedback table: the uncredited, the preferences, or by row id."""


def _dummy(statement: str) -> tuple[Any, ...]:
    """Placeholder values for a statement's ``?`` parameters (a plan does not depend on them)."""
    return (None,) * statement.count("?")
