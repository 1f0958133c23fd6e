"""Analytics that do not grow with history: each question at 1,000,000 spans and at ``--spans``, on SQLite
and PostgreSQL, with the ratio between the two sizes.

Loads the rows in bulk, a chunk at a time (executemany on SQLite, COPY on PostgreSQL; one rating per five
spans), credits the feedback to its spans and builds the span and score rollups as the schema migration does
for existing data (ingest and feedback writes keep them up to date), runs ANALYZE, then times the
leaderboard, compare and trend through the same functions the REST routes call. Baselines, measured in the
same run: the 1M-span time of each question, and a bare ``SELECT variant, count(*) FROM spans GROUP BY
variant`` (the least a scan of the spans must read). Target: the leaderboard (all time, rolled-up
dimensions), compare and trend under 1 s at 10M spans and within 1.5x of their 1M time; after declaring the
``plan`` attribute (``plaudit projects set default --dimension plan``, timed too), questions about
``attr.plan`` under 2 s.

Usage: python bench/bench_analytics.py [--spans N] [--skip-pg] [--skip-sqlite] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from _common import pg_schema

PROJECT = "default"
VARIANTS = [f"v{i}" for i in range(10)]
MODELS = ["gpt-4o", "gpt-4o-mini", "claude-sonnet", "llama-70b"]
VERSIONS = ["1", "2", "3"]
DAY_NS = 86_400 * 10**9
START_NS = 1_767_225_600 * 10**9  # 2026-01-01
SPAN_COLUMNS = (
    "project trace_id span_id parent_span_id name otel_kind span_kind start_ns end_ns duration_ms status_code "
    "service_name model provider input_tokens output_tokens cost input output prompt_name prompt_version variant "
    "user_id session_id attributes resource events links received_at"
).split()
FEEDBACK_COLUMNS = (
    "project target_type trace_id span_id name kind score source author idempotency_key is_current created_at"
).split()


CHUNK = 100_000
BASE_SPANS = 1_000_000
SPANS_PER_RATING = 5
WINDOW_DAYS = 30


def span_chunks(n: int, seed: int = 11) -> Iterator[list[tuple[Any, ...]]]:
    """``n`` spans over 30 days, ``CHUNK`` at a time (a 10M-span list would not fit beside six others)."""
    now = "2026-02-01T00:00:00+00:00"
    for first in range(0, n, CHUNK):
        rng = random.Random(seed * 1_000_003 + first)
        rows = []
        for i in range(first, min(n, first + CHUNK)):
            variant = VARIANTS[i % len(VARIANTS)]
            model = MODELS[(i // 10) % len(MODELS)]
            version = VERSIONS[(i // 40) % len(VERSIONS)]
            start = START_NS + rng.randrange(WINDOW_DAYS * DAY_NS)
            duration = rng.lognormvariate(6.5, 0.6)
            attrs = {"plaudit.variant": variant, "gen_ai.request.model": model, "plan": "pro" if i % 3 else "free"}
            rows.append(
                (
                    PROJECT, f"{i:032x}", f"{i:016x}", None, "chat", "CLIENT", "llm", start,
                    start + int(duration * 1e6), duration, "ERROR" if rng.random() < 0.02 else "OK", "bench",
                    model, "openai", rng.randrange(50, 500), rng.randrange(10, 300), None, f"question {i % 5000}",
                    f"answer {i}", "answer", version, variant, f"user-{i % 1000}", f"session-{i // 4}",
                    json.dumps(attrs), '{"service.name": "bench"}', "[]", "[]", now,
                )
            )  # fmt: skip
        yield rows


def feedback_chunks(n_spans: int, n: int, seed: int = 12) -> Iterator[list[tuple[Any, ...]]]:
    """90% human thumbs on distinct spans (true rate rising with the variant number), 10% llm_judge on
    spans humans also rated."""
    rng = random.Random(seed)
    humans = int(n * 0.9)
    rated = rng.sample(range(n_spans), humans)
    now = "2026-02-01T00:00:00+00:00"
    for first in range(0, humans, CHUNK):
        rows = []
        for i in rated[first : first + CHUNK]:
            rate = 0.55 + 0.02 * (i % len(VARIANTS))
            rows.append(_fb(i, rng.random() < rate, "human", f"user-{i % 1000}", now))
        yield rows
    yield [_fb(i, rng.random() < 0.6, "llm_judge", "judge", now) for i in rated[: n - humans]]


def _fb(i: int, up: bool, source: str, author: str, now: str) -> tuple[Any, ...]:
    return (
        PROJECT, "span", f"{i:032x}", f"{i:016x}", "thumbs", "boolean", 1.0 if up else 0.0, source, author,
        uuid.uuid4().hex, True, now,
    )  # fmt: skip


def load_sqlite(db: Any, n_spans: int, n_feedback: int) -> None:
    raw = db.engine.raw_connection()
    try:
        cur = raw.cursor()
        spans = f"INSERT INTO spans ({', '.join(SPAN_COLUMNS)}) VALUES ({', '.join('?' * len(SPAN_COLUMNS))})"
        for rows in span_chunks(n_spans):
            cur.executemany(spans, rows)
        feedback = (
            f"INSERT INTO feedback ({', '.join(FEEDBACK_COLUMNS)}) VALUES ({', '.join('?' * len(FEEDBACK_COLUMNS))})"
        )
        for rows in feedback_chunks(n_spans, n_feedback):
            cur.executemany(feedback, [(*r[:10], 1, r[11]) for r in rows])
        raw.commit()
        cur.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()


def load_pg(db: Any, n_spans: int, n_feedback: int) -> None:
    raw = db.engine.raw_connection()
    try:
        cur = raw.cursor()
        with cur.copy(f"COPY spans ({', '.join(SPAN_COLUMNS)}) FROM STDIN") as copy:
            for rows in span_chunks(n_spans):
                for row in rows:
                    copy.write_row(row)
        with cur.copy(f"COPY feedback ({', '.join(FEEDBACK_COLUMNS)}) FROM STDIN") as copy:
            for rows in feedback_chunks(n_spans, n_feedback):
                for row in rows:
                    copy.write_row(row)
        raw.commit()
        cur.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()


def timed(fn: Callable[[], Any], runs: int = 3) -> tuple[float, Any]:
    result = fn()  # warm the caches once, as a collector that has been serving would be
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


QUESTIONS = (
    "leaderboard by variant (all time)",
    "leaderboard by model + prompt.version",
    "leaderboard by variant + attr.plan, last 7 days",
    "compare variant=v9 vs variant=v0",
    "trend by day",
    "trend by week per variant",
    "  leaderboard by model + prompt.version, human",
    "leaderboard by variant + attr.plan declared, 7 days",
    "leaderboard by attr.plan declared, all time",
)
BUDGETED = QUESTIONS[:2] + QUESTIONS[3:6]
"""The questions the rollups answer: under 1 s and within 1.5x of the 1M time."""
DECLARED = QUESTIONS[7:]
"""Questions about a declared attribute (``plaudit projects set --dimension plan``): under 2 s."""


def measure(label: str, url: str, n_spans: int) -> dict[str, float]:
    """Load ``n_spans`` spans (and a rating per five) into a fresh database at ``url``; time each question."""
    from sqlalchemy import text

    from plaudit_collector import analytics
    from plaudit_collector.analytics.core import Filters
    from plaudit_collector.store import copies, dimensions, rollup, score_rollup
    from plaudit_collector.store.db import Database

    db = Database(url)
    db.create_schema()
    n_feedback = n_spans // SPANS_PER_RATING
    start = time.perf_counter()
    (load_sqlite if db.is_sqlite else load_pg)(db, n_spans, n_feedback)
    print(f"\n[{label}, {n_spans:,} spans] loaded + {n_feedback:,} ratings in {time.perf_counter() - start:.1f} s")
    # A bulk load bypasses ingest and the feedback writes, so build what they maintain as the migration does.
    start = time.perf_counter()
    with db.engine.begin() as conn:
        resolved = copies.resolve_all(conn, scores=False)
        cells = rollup.rebuild(conn, db.dialect)
        score_cells = score_rollup.rebuild(conn, db.dialect)
    with db.engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    print(
        f"  credited {resolved:,} ratings, built {cells:,} span rollup and {score_cells:,} score rollup cells "
        f"in {time.perf_counter() - start:.1f} s"
    )

    def baseline() -> Any:
        with db.engine.connect() as conn:
            return conn.execute(text("SELECT variant, count(*) FROM spans GROUP BY variant")).all()

    last_week = Filters(start_ns=START_NS + (WINDOW_DAYS - 7) * DAY_NS)
    runs: dict[str, Callable[[], Any]] = {
        QUESTIONS[0]: lambda: analytics.leaderboard(db, PROJECT, "thumbs", ["variant"]),
        QUESTIONS[1]: lambda: analytics.leaderboard(db, PROJECT, "thumbs", ["model", "prompt.version"]),
        QUESTIONS[2]: lambda: analytics.leaderboard(db, PROJECT, "thumbs", ["variant", "attr.plan"], last_week),
        QUESTIONS[3]: lambda: analytics.compare(db, PROJECT, "thumbs", {"variant": "v9"}, {"variant": "v0"}),
        QUESTIONS[4]: lambda: analytics.trend(db, PROJECT, "thumbs", [], bucket="day"),
        QUESTIONS[5]: lambda: analytics.trend(db, PROJECT, "thumbs", ["variant"], bucket="week"),
        QUESTIONS[6]: lambda: analytics.leaderboard(
            db, PROJECT, "thumbs", ["model", "prompt.version"], Filters(sources=("human",))
        ),
    }
    times = {"baseline GROUP BY variant (spans)": timed(baseline)[0]}
    for name, fn in runs.items():
        times[name], result = timed(fn)
        path = result.get("path", "?")
        print(f"  {name:<52} {times[name] * 1000:9.1f} ms  ({path})")
    start = time.perf_counter()
    dimensions.declare(db, PROJECT, ["plan"])
    print(f"  declared attr.plan: stored spans filled in, rollups rebuilt in {time.perf_counter() - start:.1f} s")
    declared = {
        QUESTIONS[7]: lambda: analytics.leaderboard(db, PROJECT, "thumbs", ["variant", "attr.plan"], last_week),
        QUESTIONS[8]: lambda: analytics.leaderboard(db, PROJECT, "thumbs", ["attr.plan"]),
    }
    for name, fn in declared.items():
        times[name], result = timed(fn)
        print(f"  {name:<52} {times[name] * 1000:9.1f} ms  ({result.get('path', '?')})")
    db.dispose()
    return times


def report(label: str, small: dict[str, float], large: dict[str, float], base: int, n_spans: int) -> bool:
    print(f"\n[{label}] {base:,} vs {n_spans:,} spans")
    print(f"  {'question':<52} {'base ms':>9} {'N ms':>9} {'N/base':>7}")
    ok = True
    for name, base in small.items():
        now = large[name]
        mark = ""
        if name in BUDGETED:
            good = now < 1.0 and now <= 1.5 * base
            ok = ok and good
            mark = "  ok" if good else "  OVER (1 s, 1.5x)"
        elif name in DECLARED:
            good = now < 2.0
            ok = ok and good
            mark = "  ok" if good else "  OVER (2 s)"
        print(f"  {name:<52} {base * 1000:9.1f} {now * 1000:9.1f} {now / base:6.2f}x{mark}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spans", type=lambda v: int(v.replace("_", "")), default=5_000_000)
    parser.add_argument("--skip-pg", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--base", type=lambda v: int(v.replace("_", "")), default=BASE_SPANS, help="the smaller size")
    parser.add_argument("--keep", help="keep the SQLite files in this directory")
    args = parser.parse_args()
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep or tmp)
        if not args.skip_sqlite:
            files = [folder / f"bench-{n}.db" for n in (args.base, args.spans)]
            for file in files:
                file.unlink(missing_ok=True)
            small = measure("SQLite", f"sqlite:///{files[0]}", args.base)
            large = measure("SQLite", f"sqlite:///{files[1]}", args.spans)
            ok = report("SQLite", small, large, args.base, args.spans) and ok
    if not args.skip_pg:
        try:
            with pg_schema() as url:
                small = measure("PostgreSQL", url, args.base)
            with pg_schema() as url:
                large = measure("PostgreSQL", url, args.spans)
            ok = report("PostgreSQL", small, large, args.base, args.spans) and ok
        except Exception as exc:  # PostgreSQL unreachable: report and go on
            print(f"PostgreSQL unavailable ({exc}); skipping it")
    print("\nevery rolled-up question within target" if ok else "\nsome rolled-up questions are over target")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "collector"))
    raise SystemExit(main())
