"""Declared attribute dimensions: ``attr.<key>`` questions read the rollups once a project declares the key.

Before declaring, a leaderboard by ``attr.plan`` reads every span (and says how to make it fast); after
``plaudit projects set default --dimension plan`` it reads the cells and gives the same answer. Spans and
ratings that arrive later, votes that change, retention and ``plaudit db rebuild`` keep the cells exact;
keys come back as text; bad declarations are refused with the field named, and nothing changes.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from analytics_seed import BASE_NS, DAY_NS, Seeder
from sqlalchemy import select, update

from plaudit_collector.analytics import rolled
from plaudit_collector.analytics.core import Filters
from plaudit_collector.store import dimensions, rollup, score_rollup
from plaudit_collector.store.db import Database
from plaudit_collector.store.tables import Project

LB = "/v1/analytics/leaderboard"
PLANS = ("pro", "free", "team", None)
SAME = ("count", "rated", "mean", "ci_low", "ci_high", "max_raters", "spans", "error_rate", "coverage")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    candidate = Path(sys.executable).parent / "plaudit"
    command = [str(candidate)] if os.access(candidate, os.X_OK) else [sys.executable, "-m", "plaudit_collector.cli"]
    env = {**os.environ, "COLUMNS": "80", "PLAUDIT_PROGRESS_SECONDS": "0"}
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=120, env=env)


def _seed(http: httpx.Client, rng: random.Random, n: int = 180, first_day: int = 0) -> list[tuple[str, str]]:
    """Spans over four days, three variants and a ``plan`` attribute (absent on some); thumbs from up to
    three raters, a few trace- and session-level ratings."""
    seed = Seeder(http)
    refs = []
    for i in range(n):
        ref = seed.span(
            start_ns=BASE_NS + (first_day + rng.randrange(4)) * DAY_NS + rng.randrange(DAY_NS),
            duration_ms=rng.lognormvariate(5, 0.5),
            error=rng.random() < 0.1,
            plaudit__variant=("a", "b", "c")[i % 3],
            plan=PLANS[i % 4],
            tier=i % 2 + 1,
            beta=i % 5 == 0,
            session__id=f"s{i % 10}",
        )
        refs.append(ref)
        for rater in range(rng.choice((0, 1, 1, 2, 3))):
            seed.rate(ref, "thumbs", rng.random() < 0.3 + 0.15 * (i % 4), author=f"r{rater}")
    for i in range(0, n, 9):
        seed.rate((refs[i][0], None), "thumbs", True, author="tracer")
    seed.rate_session("s3", "thumbs", True)
    seed.send(batch=60)
    return refs


def _board(http: httpx.Client, **params: Any) -> dict[str, Any]:
    response = http.get(LB, params={"score": "thumbs", "group_by": ["variant", "attr.plan"], **params})
    assert response.status_code == 200, response.text
    return response.json()


def _by_group(board: dict[str, Any]) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {tuple(row["group"].values()): row for row in board["rows"]}


def _same_rows(fast: dict[str, Any], slow: dict[str, Any]) -> None:
    fast_rows, slow_rows = _by_group(fast), _by_group(slow)
    assert set(fast_rows) == set(slow_rows)
    for key, row in fast_rows.items():
        for name in SAME:
            assert row[name] == pytest.approx(slow_rows[key][name]), (key, name)
        assert (row["latency_p50_ms"] is None) == (slow_rows[key]["latency_p50_ms"] is None)


def _exact(db: Database) -> None:
    """Both rollups equal a recomputation from the stored rows."""

    def state() -> tuple[Any, Any]:
        with db.engine.connect() as conn:
            spans = conn.execute(select(rollup.ROLLUP).order_by("project", "day", "cell")).mappings().all()
            cells = conn.execute(select(score_rollup.CELLS).order_by("project", "name", "day", "cell")).mappings()
            scores = [
                {k: round(v, 9) if isinstance(v, float) else v for k, v in row.items() if k != "id"} for row in cells
            ]
        return [{k: v for k, v in row.items() if k != "id"} for row in spans], scores

    kept = state()
    with db.engine.begin() as conn:
        rollup.rebuild(conn, db.dialect)
        score_rollup.rebuild(conn, db.dialect)
    assert kept == state()


def test_declaring_a_key_moves_its_questions_to_the_rollups_with_the_same_answers(
    collector: Any, http: httpx.Client
) -> None:
    db: Database = collector.app.state.db
    _seed(http, random.Random(1))
    before = _board(http)
    assert before["path"] == "scan" and "--dimension plan" in before["path_hint"]
    board_cli = (
        "leaderboard",
        "--score",
        "thumbs",
        "--by",
        "variant",
        "--by",
        "attr.plan",
        "--endpoint",
        collector.url,
    )
    printed = _cli(*board_cli)
    assert printed.returncode == 0 and "slow path" in printed.stdout and "--dimension plan" in printed.stdout

    declared = _cli("projects", "set", "default", "--dimension", "plan", "--db", db.url)
    assert declared.returncode == 0, declared.stderr
    assert "dimensions = attr.plan" in declared.stdout and "filling in" not in declared.stdout
    assert "filling declared attributes of default" in declared.stderr  # progress lines in a pipe
    listed = _cli("projects", "list", "--db", db.url)
    assert "attr.plan" in listed.stdout

    after = _board(http)
    assert (after["path"], after["path_hint"]) == ("rollup", None)
    assert "slow path" not in _cli(*board_cli).stdout
    _same_rows(after, before)
    assert ("a", None) in _by_group(after)  # spans without the attribute form their own group

    # More spans and ratings after declaring: ingest fills the slot; the cells stay exact.
    refs = _seed(http, random.Random(2), n=120, first_day=2)
    for trace_id, span_id in refs[:30]:
        item = {"trace_id": trace_id, "span_id": span_id, "name": "thumbs", "value": False, "author": "r0"}
        assert http.post("/v1/feedback", json=item).status_code in (200, 201)
    _exact(db)
    filters = rolled.with_declared(db, "default", ["variant", "attr.plan"], Filters())
    for bucket in (None, (DAY_NS, 0)):
        fast, path = rolled.scores_by_group(db, "default", "thumbs", ["variant", "attr.plan"], filters, bucket=bucket)
        slow, scan = rolled.scores_by_group(
            db, "default", "thumbs", ["variant", "attr.plan"], Filters(), bucket=bucket, use_rollup=False
        )
        assert (path, scan) == ("rollup", "scan")
        width = 2 + (bucket is not None)
        fast_rows = {tuple(r[:width]): [float(getattr(r, f)) for f in rolled.FIELDS] for r in fast}
        slow_rows = {tuple(r[:width]): [float(getattr(r, f)) for f in rolled.FIELDS] for r in slow}
        assert set(fast_rows) == set(slow_rows)
        for key, values in fast_rows.items():
            assert values == pytest.approx(slow_rows[key]), key

    where = _board(http, where="attr.plan=pro", group_by="variant")
    assert where["path"] == "rollup" and {row["group"]["variant"] for row in where["rows"]} == {"a", "b", "c"}
    compare = http.get(
        "/v1/analytics/compare", params={"score": "thumbs", "a": "attr.plan=pro", "b": "attr.plan=free"}
    ).json()
    assert compare["path"] == "rollup", compare
    trend = http.get("/v1/analytics/trend", params={"score": "thumbs", "bucket": "day", "group_by": "attr.plan"}).json()
    assert trend["path"] == "rollup", trend


def test_values_are_text_and_keys_keep_their_slots_when_redeclared(collector: Any, http: httpx.Client) -> None:
    db: Database = collector.app.state.db
    _seed(http, random.Random(3), n=60)
    dimensions.declare(db, "default", ["plan"])
    state = dimensions.declare(db, "default", ["tier", "beta", "plan"])
    assert state.keys == ("plan", "tier", "beta") and state.ready  # plan kept its slot
    board = http.get(LB, params={"score": "thumbs", "group_by": ["attr.tier", "attr.beta"]}).json()
    assert board["path"] == "rollup"
    assert {tuple(row["group"].values()) for row in board["rows"]} <= {
        (tier, beta) for tier in ("1", "2") for beta in ("true", "false")
    }
    _exact(db)

    state = dimensions.declare(db, "default", ["beta"])
    assert state.keys == (None, None, "beta")
    with db.engine.connect() as conn:
        assert conn.execute(select(rollup.SPAN.c.dim_1).where(rollup.SPAN.c.dim_1.is_not(None))).first() is None
    assert _board(http)["path"] == "scan"  # plan is no longer declared
    _exact(db)


def test_keys_being_filled_in_are_read_by_scan_and_db_rebuild_finishes_them(collector: Any, http: httpx.Client) -> None:
    db: Database = collector.app.state.db
    _seed(http, random.Random(4), n=60)
    dimensions.declare(db, "default", ["plan"])
    with db.engine.begin() as conn:  # as if a declaration's backfill had been cut off
        conn.execute(update(Project).where(Project.name == "default").values(dimensions_ready=False))
    assert _board(http)["path"] == "scan"
    assert "filling in" in _cli("projects", "list", "--db", db.url).stdout
    rebuilt = _cli("db", "rebuild", "--db", db.url)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert _board(http)["path"] == "rollup"
    _exact(db)


def test_retention_keeps_the_declared_cells_exact(collector: Any, http: httpx.Client) -> None:
    from plaudit_collector.store.retention import sweep

    db: Database = collector.app.state.db
    dimensions.declare(db, "default", ["plan"])
    _seed(http, random.Random(5), n=120)
    cutoff_days = time.time() / 86_400 - (BASE_NS + 2 * DAY_NS) / DAY_NS
    assert sweep(db, retention_days=cutoff_days, batch_size=40).spans > 0
    _exact(db)
    assert _board(http)["path"] == "rollup"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dimension", "a", "--dimension", "b", "--dimension", "c", "--dimension", "d"], "at most 3"),
        (["--dimension", ""], "may not be empty"),
        (["--dimension", "attr.plan"], "without 'attr.'"),
        (["--dimension", "plan", "--dimension", "plan"], "given twice"),
        (["--dimension", "x" * 201], "longer than 200"),
        (["--dimension", "plan", "--no-dimensions"], "not both"),
        ([], "nothing to change"),
    ],
)
def test_bad_declarations_are_refused_and_change_nothing(db_url: str, args: list[str], message: str) -> None:
    db = Database(db_url)
    try:
        db.upgrade()
        dimensions.declare(db, "default", ["plan"])
        result = _cli("projects", "set", "default", *args, "--db", db_url)
        assert result.returncode == 2 and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
        with db.engine.connect() as conn:
            assert dimensions.declared(conn, "default").keys == ("plan", None, None)
    finally:
        db.dispose()


@pytest.mark.parametrize("key", ["a\x00b", "\ud800", "  "])
def test_keys_with_nul_bytes_lone_surrogates_or_only_spaces_are_refused(db_url: str, key: str) -> None:
    db = Database(db_url)
    try:
        db.upgrade()
        with pytest.raises(ValueError, match="^dimension: "):
            dimensions.declare(db, "default", [key])
        with db.engine.connect() as conn:
            assert dimensions.declared(conn, "default") == dimensions.NONE
    finally:
        db.dispose()


ODD_VALUES = {"n": 3, "x": 2.5, "big": 1e20, "list": ["a", "b"], "t": "é" * 250, "flag": False}


def test_values_filled_in_match_what_ingest_writes_for_every_type(collector: Any, http: httpx.Client) -> None:
    """A span stored before the declaration (filled in by the database) and its twin stored after it (written
    by ingest) get the same text for numbers, floats, lists, long strings and booleans."""
    db: Database = collector.app.state.db
    keys = ["n", "x", "big"]
    seed = Seeder(http)
    before = seed.span(**ODD_VALUES)
    seed.send()
    dimensions.declare(db, "default", keys)
    after = seed.span(**ODD_VALUES)
    seed.send()
    dimensions.declare(db, "default", ["list", "t", "flag"])
    twin = seed.span(**ODD_VALUES)
    seed.send()
    with db.engine.connect() as conn:
        span = rollup.SPAN
        query = select(span.c.span_id, span.c.dim_1, span.c.dim_2, span.c.dim_3).order_by(span.c.id)
        slots = {row.span_id: tuple(row[1:]) for row in conn.execute(query)}
    # "n", "x" and "big" left their slots for "list", "t" and "flag": all three spans were filled in again
    expected = ('["a", "b"]', "é" * 200, "false")
    assert {slots[before[1]], slots[after[1]], slots[twin[1]]} == {expected}
    assert dimensions.declare(db, "default", keys).keys == ("n", "x", "big")
    with db.engine.connect() as conn:
        filled = {row.span_id: tuple(row[1:]) for row in conn.execute(query)}
    assert set(filled.values()) == {("3", "2.5", "100000000000000000000")}
