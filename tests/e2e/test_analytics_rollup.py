"""The fast paths give the answers the slow ones give.

Ratings are read from the span copies on feedback rows when every dimension is one of the fixed ones, and
span health from the per-day rollup; grouping by the same value through an attribute (``attr.plaudit.variant``)
takes the join and full-scan paths instead. Both are checked against each other and against the truth,
through ingest, re-sent exports, feedback that arrives before its span, time filters that cut days in
half, retention, and a migration of data stored before the copies and the rollup existed.
"""

from __future__ import annotations

import itertools
import random
import statistics
from typing import Any

import httpx
import pytest
from analytics_seed import BASE_NS, DAY_NS, Seeder
from sqlalchemy import select, text, update

from plaudit_collector.store import copies, rollup
from plaudit_collector.store.db import Database
from plaudit_collector.store.tables import Feedback, SpanRollup

LB = "/v1/analytics/leaderboard"
HOUR_NS = 3600 * 10**9
SCORE_FIELDS = ("count", "rated", "mean", "ci_low", "ci_high", "coverage", "max_raters")
HEALTH_FIELDS = ("spans", "error_rate", "input_tokens_mean", "output_tokens_mean", "cost_mean")


def _cells(db: Database) -> dict[tuple[Any, ...], dict[str, Any]]:
    table = SpanRollup.__table__  # type: ignore[attr-defined]
    with db.engine.connect() as conn:
        rows = conn.execute(select(table)).mappings().all()
    out = {}
    for row in rows:
        values = {k: v for k, v in row.items() if k != "id"}
        values["latency"] = rollup.load_histogram(values["latency"])
        values["cost_sum"] = round(values["cost_sum"], 9)  # sums of floats differ in the last bit by order
        out[(row["project"], row["day"], row["cell"])] = values
    return out


def _rebuilt(db: Database) -> dict[tuple[Any, ...], dict[str, Any]]:
    with db.engine.begin() as conn:
        rollup.rebuild(conn, db.dialect)
    return _cells(db)


def _board(http: httpx.Client, by: str, **params: Any) -> dict[str, dict[str, Any]]:
    response = http.get(LB, params={"score": "thumbs", "group_by": by, **params})
    assert response.status_code == 200, response.text
    return {str(next(iter(row["group"].values()))): row for row in response.json()["rows"]}


def _seed(http: httpx.Client, rng: random.Random) -> list[dict[str, Any]]:
    """Four days of spans for three variants, some failed, with tokens and a cost; 60% rated."""
    seed = Seeder(http)
    truth = []
    for i in range(360):
        variant = ("a", "b", "c")[i % 3]
        start = BASE_NS + rng.randrange(4 * DAY_NS)
        duration = rng.lognormvariate(5.5, 0.7)
        error = rng.random() < 0.1
        tokens = rng.randrange(10, 400)
        ref = seed.span(
            start_ns=start,
            duration_ms=duration,
            error=error,
            plaudit__variant=variant,
            gen_ai__request__model="m1" if i % 2 else "m2",
            gen_ai__usage__input_tokens=tokens,
            gen_ai__usage__output_tokens=7,
            gen_ai__usage__cost=0.001 * (i % 5),
        )
        if rng.random() < 0.6:
            seed.rate(ref, "thumbs", rng.random() < {"a": 0.8, "b": 0.5, "c": 0.3}[variant])
        truth.append({"variant": variant, "start": start, "duration": duration, "error": error, "tokens": tokens})
    seed.send(batch=100)
    return truth


def test_rollup_follows_ingest_resends_and_retention(collector: Any, http: httpx.Client) -> None:
    from plaudit_collector.store.retention import sweep

    db = collector.app.state.db
    rng = random.Random(7)
    _seed(http, rng)
    assert sum(cell["spans"] for cell in _cells(db).values()) == 360
    assert _cells(db) == _rebuilt(db)

    # A re-sent export, and one that mixes stored spans with new ones, add only what is new.
    seed = Seeder(http)
    seed._ids = itertools.chain(range(1, 4), itertools.count(10_000))  # type: ignore[assignment]  # 1-3: stored
    for _ in range(3):
        seed.span(start_ns=BASE_NS + DAY_NS, plaudit__variant="a")
    seed.span(trace_id="f" * 32, start_ns=BASE_NS + DAY_NS, plaudit__variant="new")
    seed.span(trace_id="e" * 32, start_ns=BASE_NS + DAY_NS, plaudit__variant="new")
    body = list(seed.spans)
    seed.send()
    seed.spans.extend(body)
    seed.send()
    cells = _cells(db)
    assert sum(cell["spans"] for cell in cells.values()) == 362
    assert cells == _rebuilt(db)

    # Retention subtracts the spans it deletes; cells left empty disappear.
    result = sweep(db, retention_days=(_now_days() - (BASE_NS + 2 * DAY_NS) / DAY_NS), batch_size=50)
    assert result.spans > 0
    cells = _cells(db)
    assert sum(cell["spans"] for cell in cells.values()) == 362 - result.spans
    assert min(day for _, day, _ in cells) >= (BASE_NS + 2 * DAY_NS) // DAY_NS - 1
    assert cells == _rebuilt(db)


def _now_days() -> float:
    import time

    return time.time() / 86_400


@pytest.mark.parametrize(
    "window",
    [
        {},
        {"from": "2026-01-01T13:30:00Z", "to": "2026-01-03T07:00:00Z"},  # cuts the first and last day
        {"from": "2026-01-02T00:00:00Z", "to": "2026-01-04T00:00:00Z"},  # whole days only
        {"from": "2026-01-02T05:00:00Z", "to": "2026-01-02T19:00:00Z"},  # inside one day
        {"from": "2026-01-03T00:00:00Z"},
        {"to": "2026-01-02T12:00:00Z"},
    ],
)
def test_fast_and_slow_paths_agree_with_the_truth(http: httpx.Client, window: dict[str, str]) -> None:
    truth = _seed(http, random.Random(11))
    fast = _board(http, "variant", **window)
    slow = _board(http, "attr.plaudit.variant", **window)
    assert set(fast) == set(slow)
    assert fast, "the window should hold rated spans"
    from plaudit_collector.analytics.core import parse_time

    low = parse_time(window.get("from"), "from") or 0
    high = parse_time(window.get("to"), "to") or 2**62
    for variant, row in fast.items():
        other = slow[variant]
        for name in (*SCORE_FIELDS, *HEALTH_FIELDS):
            assert row[name] == pytest.approx(other[name]), name
        spans = [t for t in truth if t["variant"] == variant and low <= t["start"] < high]
        assert row["spans"] == len(spans)
        assert row["error_rate"] == pytest.approx(sum(t["error"] for t in spans) / len(spans))
        assert row["input_tokens_mean"] == pytest.approx(statistics.fmean(t["tokens"] for t in spans))
        durations = sorted(t["duration"] for t in spans)
        # p50 from 2%-wide buckets: within a bucket of the sample median's neighbours
        assert durations[0] * 0.98 <= row["latency_p50_ms"] <= durations[-1] * 1.02
        middle = statistics.median_low(durations), statistics.median_high(durations)
        assert middle[0] * 0.97 <= row["latency_p50_ms"] <= middle[1] * 1.03
        # PostgreSQL's full scan interpolates (percentile_cont); buckets give the ranked value's bucket
        assert middle[0] * 0.97 <= other["latency_p50_ms"] <= middle[1] * 1.03
        top = durations[int(0.9 * len(durations))] * 0.97, durations[-1] * 1.03
        assert top[0] <= row["latency_p95_ms"] <= top[1]
        assert top[0] <= other["latency_p95_ms"] <= top[1]


def test_feedback_before_its_span_trace_and_session_feedback_count_once(collector: Any, http: httpx.Client) -> None:
    db = collector.app.state.db
    seed = Seeder(http)
    early = [seed.span(plaudit__variant="a", session__id=f"s{i}") for i in range(6)]
    child_trace = seed.span(plaudit__variant="b")
    child = seed.span(plaudit__variant="b", trace_id=child_trace[0], parent_span_id=child_trace[1])
    spans = list(seed.spans)
    seed.spans.clear()
    for ref in early:  # rated before the spans are exported
        seed.rate(ref, "thumbs", True)
    seed.rate((child_trace[0], None), "thumbs", False)  # the trace: credits its root span
    seed.rate_session("s1", "thumbs", True)  # a session: credits its root spans
    seed.send()
    with db.engine.connect() as conn:
        waiting = conn.execute(select(Feedback.span_pk).where(Feedback.span_pk.is_(None))).all()  # type: ignore[union-attr]
    assert len(waiting) == 8

    seed.spans.extend(spans)
    seed.send()
    late = seed.span(plaudit__variant="b")
    seed.send()
    seed.rate(late, "thumbs", True)  # rated after its span is stored
    seed.rate(child, "thumbs", True)
    seed.send()

    fast, slow = _board(http, "variant", min_count=1), _board(http, "attr.plaudit.variant", min_count=1)
    assert {v: (r["count"], r["rated"]) for v, r in fast.items()} == {"a": (7, 7), "b": (3, 3)}
    for variant, row in fast.items():
        for name in (*SCORE_FIELDS, *HEALTH_FIELDS):
            assert row[name] == pytest.approx(slow[variant][name]), name
    with db.engine.connect() as conn:
        waiting = conn.execute(
            select(Feedback.target_type).where(Feedback.span_pk.is_(None))  # type: ignore[union-attr]
        ).all()
    assert [row.target_type for row in waiting] == ["session"]


def test_a_missed_copy_is_healed_on_postgresql(collector: Any, http: httpx.Client) -> None:
    """Two collectors storing a rating and its span at the same moment can each miss the other's row; on
    PostgreSQL the analytics resolve what such a race left (SQLite serialises writers, so it cannot happen)."""
    db = collector.app.state.db
    if db.dialect != "postgresql":
        pytest.skip("the race needs concurrent writers: PostgreSQL only")
    seed = Seeder(http)
    for value in (True, True, False):
        seed.rate(seed.span(plaudit__variant="a"), "thumbs", value)
    seed.send()
    table = Feedback.__table__  # type: ignore[attr-defined]
    with db.engine.begin() as conn:  # the state such a race leaves behind
        conn.execute(update(table).values({table.c[c]: None for c in copies.COPIED.values()}))
    copies._resolved_at.clear()
    assert _board(http, "variant", min_count=1)["a"]["count"] == 3


def test_migration_fills_copies_and_rollup_for_stored_data(db_url: str) -> None:
    db = Database(db_url)
    try:
        db.upgrade("0001_baseline")
        with db.engine.begin() as conn:
            for i in range(4):
                conn.execute(
                    text(
                        "INSERT INTO spans (project, trace_id, span_id, name, otel_kind, start_ns, end_ns, "
                        "duration_ms, status_code, variant, attributes, resource, events, links, received_at) "
                        "VALUES ('default', :t, :s, 'chat', 'INTERNAL', :start, :start, :d, :status, :v, "
                        "'{}', '{}', '[]', '[]', CURRENT_TIMESTAMP)"
                    ),
                    {
                        "t": f"{i:032x}",
                        "s": f"{i:016x}",
                        "start": BASE_NS + i * DAY_NS // 2,
                        "d": 100.0 * (i + 1),
                        "status": "ERROR" if i == 0 else "OK",
                        "v": "a" if i % 2 else "b",
                    },
                )
                conn.execute(
                    text(
                        "INSERT INTO feedback (project, target_type, trace_id, span_id, name, kind, score, source, "
                        "idempotency_key, is_current, created_at) VALUES ('default', :target, :t, :s, 'thumbs', "
                        "'boolean', 1.0, 'human', :k, true, CURRENT_TIMESTAMP)"
                    ),
                    {
                        "t": f"{i:032x}",
                        "s": None if i == 3 else f"{i:016x}",
                        "k": f"key{i}",
                        "target": "trace" if i == 3 else "span",
                    },
                )
        db.upgrade()
        with db.engine.connect() as conn:
            copies = conn.execute(text("SELECT span_pk, span_variant FROM feedback ORDER BY id")).all()
        assert all(row.span_pk is not None for row in copies)
        assert [row.span_variant for row in copies] == ["b", "a", "b", "a"]
        cells = _cells(db)
        assert sum(c["spans"] for c in cells.values()) == 4
        assert sum(c["errors"] for c in cells.values()) == 1
        assert {c["day"] for c in cells.values()} == {BASE_NS // DAY_NS, BASE_NS // DAY_NS + 1}
        assert cells == _rebuilt(db)
    finally:
        db.dispose()


def test_a_trace_with_two_roots_credits_the_first_on_both_paths(http: httpx.Client) -> None:
    seed = Seeder(http)
    first = seed.span(plaudit__variant="a")
    seed.span(plaudit__variant="b", trace_id=first[0])  # a second root: its parent link was lost
    seed.send()
    for value in (True, False):
        seed.rate((first[0], None), "thumbs", value, author=f"rater-{value}")
    seed.send()
    fast, slow = _board(http, "variant", min_count=1), _board(http, "attr.plaudit.variant", min_count=1)
    assert {v: r["count"] for v, r in fast.items()} == {v: r["count"] for v, r in slow.items()} == {"a": 2}


def test_plaudit_db_rebuild_repairs_what_an_older_collector_left(collector: Any, http: httpx.Client) -> None:
    import subprocess
    import sys

    db = collector.app.state.db
    _seed(http, random.Random(3))
    expected_cells = _cells(db)
    board = _board(http, "variant")
    table = Feedback.__table__  # type: ignore[attr-defined]
    with db.engine.begin() as conn:  # what a collector that knows neither the rollup nor the copies leaves
        conn.execute(SpanRollup.__table__.delete())  # type: ignore[attr-defined]
        conn.execute(update(table).values({table.c[c]: None for c in copies.COPIED.values()}))
    done = subprocess.run(
        [sys.executable, "-m", "plaudit_collector.cli", "db", "rebuild", "--db", db.url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Rollup rebuilt" in done.stdout
    assert _cells(db) == expected_cells
    after = _board(http, "variant")
    assert set(after) == set(board)
    for variant, row in after.items():
        for name in (*SCORE_FIELDS, *HEALTH_FIELDS, "latency_p50_ms", "latency_p95_ms"):
            assert row[name] == pytest.approx(board[variant][name]), name  # float sums: last-bit differences


def test_sweeps_running_together_subtract_each_span_once(collector: Any, http: httpx.Client) -> None:
    """Two collectors on one PostgreSQL both run retention: each span leaves the rollup once."""
    import threading

    from plaudit_collector.store.retention import sweep

    db = collector.app.state.db
    _seed(http, random.Random(5))
    days = _now_days() - (BASE_NS + 3 * DAY_NS) / DAY_NS
    results, errors = [], []

    def run() -> None:
        try:
            results.append(sweep(db, retention_days=days, batch_size=7))
        except Exception as exc:  # re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    deleted = sum(r.spans for r in results)
    assert 0 < deleted < 360
    cells = _cells(db)
    assert sum(cell["spans"] for cell in cells.values()) == 360 - deleted
    assert cells == _rebuilt(db)
