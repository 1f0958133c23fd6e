"""Trace search over 1,000,000 spans (250,000 traces of four spans) and 200,000 feedback items, on SQLite and
PostgreSQL.

Loads the rows in bulk as bench_analytics does (the full-text index fills itself: triggers on SQLite, the
GIN index on PostgreSQL), then times ``search_traces`` (what ``GET /v1/traces`` calls). Target: a filtered
search (text + model + time window + missing feedback, one page) under 300 ms on both. Baseline, measured in
the same run: the trace list as the collector answered it before trace search (group every span by trace,
newest 50), the least a listing that reads spans pays.

Usage: python bench/bench_trace_search.py [--spans N] [--feedback N] [--skip-pg]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from typing import Any

from _common import pg_schema
from bench_analytics import PROJECT, START_NS, feedback_rows, load_pg, load_sqlite, span_rows, timed
from sqlalchemy import text

TARGET_S = 0.300
DAY_NS = 86_400 * 10**9


def traced(spans: list[tuple[Any, ...]], feedback: list[tuple[Any, ...]]) -> tuple[list[Any], list[Any]]:
    """Four spans per trace: the first is the root, the other three its children (same trace id)."""
    out = []
    for i, row in enumerate(spans):
        root = i - i % 4
        parent = None if i == root else f"{root:016x}"
        out.append((row[0], f"{root:032x}", row[2], parent, *row[4:]))
    fixed = [(r[0], r[1], f"{int(r[3], 16) - int(r[3], 16) % 4:032x}", *r[3:]) for r in feedback]
    return out, fixed


def run(label: str, url: str, spans: list[Any], feedback: list[Any]) -> bool:
    from plaudit_collector.analytics import Filters, search_traces
    from plaudit_collector.analytics.trace_search import encode_cursor
    from plaudit_collector.store.db import Database

    db = Database(url)
    db.prepare()
    (load_sqlite if db.is_sqlite else load_pg)(db, spans, feedback)
    window = Filters(start_ns=START_NS + 5 * DAY_NS, end_ns=START_NS + 25 * DAY_NS, where=(("model", "gpt-4o"),))

    def baseline() -> Any:
        sql = (
            "SELECT trace_id, min(start_ns) AS s FROM spans WHERE project = :p "
            "GROUP BY trace_id ORDER BY s DESC LIMIT 50"
        )
        with db.read_engine.connect() as conn:
            return conn.execute(text(sql), {"p": PROJECT}).all()

    deep = encode_cursor("time", START_NS + 3 * DAY_NS, 2**31 - 1)  # a page about nine tenths of the way down
    cases = {
        "filtered: q + model + window + missing feedback": lambda: search_traces(
            db, PROJECT, window, q="question 1200", missing_feedback="thumbs"
        ),
        "newest 50 traces": lambda: search_traces(db, PROJECT, Filters()),
        "a page deep in the list (cursor)": lambda: search_traces(db, PROJECT, Filters(), cursor=deep),
        "q matching one trace in 5,000": lambda: search_traces(db, PROJECT, Filters(), q="question 1234"),
        "has feedback + score range": lambda: search_traces(
            db, PROJECT, window, has_feedback="thumbs", score="thumbs", min_score=1
        ),
        "status=error in the window": lambda: search_traces(db, PROJECT, window, status="error"),
        "sort=latency in the window": lambda: search_traces(db, PROJECT, window, sort="latency"),
    }
    base_s, _ = timed(baseline)
    print(f"{label:<11} baseline (previous trace list: group all spans by trace): {base_s * 1000:8.1f} ms")
    ok = True
    for name, case in cases.items():
        seconds, result = timed(case)
        target = name.startswith("filtered")
        mark = f"(target < {TARGET_S * 1000:.0f} ms)" if target else ""
        print(
            f"{'':<11} {name:<48} {seconds * 1000:8.1f} ms   {seconds / base_s:5.2f}x baseline   "
            f"{len(result['traces'])} traces {mark}"
        )
        if target:
            ok &= seconds < TARGET_S and len(result["traces"]) > 0
    db.dispose()
    return ok


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--feedback", type=int, default=200_000)
    parser.add_argument("--skip-pg", action="store_true")
    args, _ = parser.parse_known_args()
    spans, feedback = traced(span_rows(args.spans), feedback_rows(args.spans, args.feedback))
    print(f"{args.spans:,} spans in {args.spans // 4:,} traces, {len(feedback):,} feedback items")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        ok &= run("SQLite", f"sqlite:///{tmp}/bench.db", spans, feedback)
    if not args.skip_pg:
        try:
            with pg_schema() as url:
                ok &= run("PostgreSQL", url, spans, feedback)
        except Exception as exc:  # PostgreSQL unreachable: report and go on
            print(f"PostgreSQL  skipped: {exc}")
    print("targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
    raise SystemExit(main())
