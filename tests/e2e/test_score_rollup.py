"""The score rollup stays exact, and the questions it answers get the answers the ratings give.

Kept at write time: new votes, a rater replacing their vote, deletions, ratings that arrive before their
span, trace-level ratings, and retention all move the aggregates; after each, they equal a recomputation
from scratch (``plaudit db rebuild``). Then the rollup path and the scan path agree on the leaderboard,
compare and trend, session-level ratings included.
"""

from __future__ import annotations

import random
import time
from typing import Any

import httpx
import pytest
from analytics_seed import BASE_NS, DAY_NS, Seeder
from sqlalchemy import select

from plaudit_collector.analytics import rolled
from plaudit_collector.analytics.core import Filters
from plaudit_collector.store import score_rollup
from plaudit_collector.store.db import Database

LB = "/v1/analytics/leaderboard"


def _state(db: Database) -> tuple[dict[Any, Any], set[Any]]:
    """The cells (floats rounded: sums of floats differ in the last bits by order) and the items."""
    cells, items = score_rollup.CELLS, score_rollup.ITEMS
    with db.engine.connect() as conn:
        stored = conn.execute(select(cells)).mappings().all()
        rows = conn.execute(select(items)).mappings().all()
    keys = {row["id"]: (row["project"], row["name"], row["day"], row["cell"]) for row in stored}
    out = {}
    for row in stored:
        values = {k: v for k, v in row.items() if k != "id"}
        values["total"], values["total_sq"] = round(values["total"], 9), round(values["total_sq"], 9)
        values["raters"] = score_rollup._load(values["raters"])
        out[keys[row["id"]]] = values
    found = {
        (r["project"], r["name"], r["span_pk"], keys[r["cell_id"]], r["raters"], round(r["total"], 9), r["nb"])
        for r in rows
    }
    return out, found


def _rebuilt(db: Database) -> tuple[dict[Any, Any], set[Any]]:
    with db.engine.begin() as conn:
        score_rollup.rebuild(conn, db.dialect)
    return _state(db)


def _check(db: Database) -> tuple[dict[Any, Any], set[Any]]:
    kept = _state(db)
    assert kept == _rebuilt(db)
    return kept


def _post(http: httpx.Client, items: list[dict[str, Any]]) -> list[int]:
    response = http.post("/v1/feedback", json={"items": items})
    assert response.status_code in (200, 201), response.text
    return response.json()["ids"]


def _seed(http: httpx.Client, rng: random.Random) -> list[tuple[str, str]]:
    """Five days of spans over three variants and two models; thumbs from up to three raters, stars."""
    seed = Seeder(http)
    refs = []
    for i in range(240):
        ref = seed.span(
            start_ns=BASE_NS + rng.randrange(5 * DAY_NS),
            plaudit__variant=("a", "b", "c")[i % 3],
            gen_ai__request__model=("m1", "m2")[i % 2],
            session__id=f"s{i % 20}",
        )
        refs.append(ref)
        for rater in range(rng.choice((0, 1, 1, 2, 3))):
            seed.rate(ref, "thumbs", rng.random() < 0.3 + 0.2 * (i % 3), author=f"r{rater}")
        if i % 4 == 0:
            seed.rate(ref, "stars", rng.randrange(1, 6), author="r0")
    for i in range(0, 240, 7):  # trace-level: credits the root span
        seed.rate((refs[i][0], None), "thumbs", True, author="tracer")
    for s in range(0, 20, 3):  # session-level: read at query time
        seed.rate_session(f"s{s}", "thumbs", s % 2 == 0)
    early = [seed.span(start_ns=BASE_NS + DAY_NS, plaudit__variant="a") for _ in range(5)]
    waiting = seed.spans[-5:]
    del seed.spans[-5:]
    for ref in early:  # rated before their spans arrive
        seed.rate(ref, "thumbs", True, author="early")
    seed.send(batch=80)
    seed.spans.extend(waiting)
    seed.send()
    return refs + early


def test_the_rollup_follows_votes_changes_deletions_and_retention(collector: Any, http: httpx.Client) -> None:
    from plaudit_collector.store.retention import sweep

    db = collector.app.state.db
    refs = _seed(http, random.Random(5))
    cells, items = _check(db)
    assert sum(c["items"] for c in cells.values() if c["name"] == "thumbs") == len(
        {i[2] for i in items if i[1] == "thumbs"}
    )
    assert max(c["top_raters"] for c in cells.values()) >= 3

    # Raters change their votes, one by one and in a batch.
    ids = _post(
        http, [{"trace_id": t, "span_id": s, "name": "thumbs", "value": False, "author": "r0"} for t, s in refs[:40]]
    )
    _post(http, [{"trace_id": refs[1][0], "span_id": refs[1][1], "name": "thumbs", "value": True, "author": "r0"}])
    _post(http, [{"trace_id": refs[2][0], "span_id": refs[2][1], "name": "stars", "value": 2.5, "author": "r9"}])
    _check(db)

    # Deleted votes no longer count; an item whose last vote goes leaves its cell.
    for feedback_id in ids[:15]:
        assert http.delete(f"/v1/feedback/{feedback_id}").status_code == 200
    _check(db)

    # Retention deletes the first days' spans and the ratings of the traces it empties.
    cutoff_days = time.time() / 86_400 - (BASE_NS + 2 * DAY_NS) / DAY_NS
    assert sweep(db, retention_days=cutoff_days, batch_size=50).spans > 0
    cells, _ = _check(db)
    assert min(c["day"] for c in cells.values()) >= (BASE_NS + 2 * DAY_NS) // DAY_NS


QUESTIONS = [
    (["variant"], Filters()),
    (["model", "variant"], Filters()),
    ([], Filters(where=(("model", "m1"),))),
    (["variant"], Filters(start_ns=BASE_NS + DAY_NS, end_ns=BASE_NS + 4 * DAY_NS)),
    (["prompt.version"], Filters(span_names=("chat",))),
]


@pytest.mark.parametrize("question", range(len(QUESTIONS)))
def test_rollup_and_scan_paths_agree(collector: Any, http: httpx.Client, question: int) -> None:
    db = collector.app.state.db
    _seed(http, random.Random(question))
    group_by, filters = QUESTIONS[question]
    assert rolled.answerable(group_by, filters)
    for score in ("thumbs", "stars"):
        for bucket in (None, (DAY_NS, 0), (7 * DAY_NS, 4 * DAY_NS)):
            fast, path = rolled.scores_by_group(db, "default", score, group_by, filters, bucket=bucket)
            slow, scan = rolled.scores_by_group(
                db, "default", score, group_by, filters, bucket=bucket, use_rollup=False
            )
            assert (path, scan) == ("rollup", "scan")
            width = len(group_by) + (bucket is not None)
            fast_rows, slow_rows = _rows(fast, width), _rows(slow, width)
            assert set(fast_rows) == set(slow_rows)
            for key, values in fast_rows.items():
                assert values == pytest.approx(slow_rows[key]), key
            assert fast


def _rows(rows: list[Any], width: int) -> dict[Any, list[float]]:
    return {tuple(row[:width]): [float(getattr(row, f)) for f in rolled.FIELDS] for row in rows}


def test_the_reply_says_which_path_answered(http: httpx.Client) -> None:
    _seed(http, random.Random(2))
    fast = http.get(LB, params={"score": "thumbs", "group_by": "variant"}).json()
    slow = http.get(LB, params={"score": "thumbs", "group_by": "attr.plaudit.variant"}).json()
    assert (fast["path"], fast["path_hint"]) == ("rollup", None)
    assert slow["path"] == "scan" and "attr.plaudit.variant" in slow["path_hint"]
    by_value = {row["group"]["attr.plaudit.variant"]: row for row in slow["rows"]}
    for row in fast["rows"]:
        other = by_value[row["group"]["variant"]]
        for name in ("count", "rated", "mean", "ci_low", "ci_high", "max_raters", "coverage"):
            assert row[name] == pytest.approx(other[name]), name
    compare = http.get("/v1/analytics/compare", params={"score": "thumbs", "a": "variant=a", "b": "variant=c"}).json()
    assert compare["path"] == "rollup"
    trend = http.get("/v1/analytics/trend", params={"score": "thumbs", "bucket": "hour"}).json()
    assert trend["path"] == "scan" and trend["path_hint"]


def test_the_migration_builds_the_rollup_from_stored_ratings(db_url: str) -> None:
    from sqlalchemy import text

    db = Database(db_url)
    try:
        db.upgrade("0007_experiment_direction")
        with db.engine.begin() as conn:
            for i in range(6):
                conn.execute(
                    text(
                        "INSERT INTO spans (project, trace_id, span_id, name, otel_kind, start_ns, end_ns, "
                        "duration_ms, status_code, variant, attributes, resource, events, links, received_at) "
                        "VALUES ('default', :t, :s, 'chat', 'INTERNAL', :start, :start, 1.0, 'OK', :v, "
                        "'{}', '{}', '[]', '[]', CURRENT_TIMESTAMP)"
                    ),
                    {"t": f"{i:032x}", "s": f"{i:016x}", "start": BASE_NS + i * DAY_NS // 2, "v": "ab"[i % 2]},
                )
                for rater in range(1 + i % 3):
                    conn.execute(
                        text(
                            "INSERT INTO feedback (project, target_type, trace_id, span_id, name, kind, score, "
                            "source, author, idempotency_key, is_current, created_at) VALUES ('default', 'span', "
                            ":t, :s, 'thumbs', 'boolean', :score, 'human', :a, :k, true, CURRENT_TIMESTAMP)"
                        ),
                        {
                            "t": f"{i:032x}",
                            "s": f"{i:016x}",
                            "score": float(rater % 2),
                            "a": f"r{rater}",
                            "k": f"{i}-{rater}",
                        },
                    )
        from plaudit_collector.store import copies

        with db.engine.begin() as conn:  # as a collector of revision 0007 would have credited them
            copied = {column: copy for column, copy in copies.COPIED.items() if not column.startswith("dim_")}
            copies.resolve_all(conn, copied=copied, scores=False)
        db.upgrade()
        cells, items = _state(db)
        assert len(items) == 6 and sum(c["ratings"] for c in cells.values()) == 12
        assert sum(c["total"] for c in cells.values()) == pytest.approx(0 + 0.5 + 1 / 3 + 0 + 0.5 + 1 / 3)
        assert (cells, items) == _rebuilt(db)
    finally:
        db.dispose()
