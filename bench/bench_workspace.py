"""The workspace's data on real volumes: every JSON endpoint a page calls, over 1,000,000 spans and 200,000
feedback items, on SQLite and PostgreSQL.

Loads the rows as bench_analytics.py does (its loader), creates a review queue, then times each request a page
makes through the whole collector application in-process (routing, validation, the query, JSON encoding; no
network), median of 3 after a warm-up. Baselines measured in the same run: ``GET /healthz`` (the fixed cost of a
request) and a bare ``SELECT variant, count(*) FROM spans GROUP BY variant``. Target: every page's data under
300 ms of server time.

Usage: python bench/bench_workspace.py [--spans N] [--feedback N] [--skip-pg] [--skip-sqlite] [--keep FILE]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import pg_schema
from bench_analytics import DAY_NS, PROJECT, START_NS, WINDOW_DAYS, load_pg, load_sqlite, timed

TARGET_MS = 300.0


def requests_for(client: Any, queue_id: int, trace_id: str, cursors: dict[str, str | None]) -> list[tuple[str, str]]:
    """(page, path) for every request the pages make."""
    out = [
        ("home", "/v1/scores"),
        ("home", "/v1/analytics/leaderboard?score=thumbs&group_by=variant"),
        ("home, queues", "/v1/queues"),
        ("home, traces", "/v1/traces?limit=50"),
        ("traces", "/v1/traces?limit=50&where=model%3Dgpt-4o&where=variant%3Dv3"),
        ("traces", "/v1/traces?limit=50&q=question+42"),
        ("traces", "/v1/traces?limit=50&has_feedback=thumbs&status=error"),
        ("trace", f"/v1/traces/{trace_id}"),
        ("trace", "/v1/score-configs"),
        ("trace", f"/v1/feedback?trace_id={trace_id}&history=true&limit=1000"),
        ("sessions", "/v1/sessions?limit=50"),
        ("users", "/v1/users?limit=25"),
        ("queue", f"/v1/queues/{queue_id}"),
        ("queue", f"/v1/queues/{queue_id}/next?reviewer=bench"),
        ("leaderboard", "/v1/analytics/leaderboard?score=thumbs&group_by=model&group_by=prompt.version"),
        ("compare", "/v1/analytics/compare?score=thumbs&a=variant%3Dv9&b=variant%3Dv0"),
        ("trend", "/v1/analytics/trend?score=thumbs&bucket=day"),
        ("trend markers", "/v1/analytics/trend?score=thumbs&bucket=day&group_by=prompt.version"),
        ("segments", "/v1/analytics/segments?score=thumbs&segment=model"),
        ("agreement", "/v1/analytics/agreement?by=source&rater_a=human&rater_b=llm_judge"),
        ("preferences", "/v1/analytics/preferences?score=preference"),
    ]
    for kind, limit in (("sessions", 50), ("users", 25)):
        if cursors.get(kind):
            out.append((kind, f"/v1/{kind}?limit={limit}&cursor={cursors[kind]}"))
    return out


def run(label: str, url: str, n_spans: int, rows: tuple[int, int] | None) -> bool:
    """Load ``rows`` (how many spans, how many ratings) into the database at ``url`` (None: it holds them
    already), then time."""
    from fastapi.testclient import TestClient
    from sqlalchemy import text

    from plaudit_collector.app import create_app
    from plaudit_collector.settings import CollectorSettings
    from plaudit_collector.store import copies, partitions, rollup, score_rollup
    from plaudit_collector.store.db import Database

    db = Database(url)
    db.upgrade()
    db.create_schema()
    start = time.perf_counter()
    if rows is not None:
        first = START_NS // DAY_NS
        partitions.ensure(db, range(first, first + WINDOW_DAYS + 2))  # PostgreSQL's day partitions for the load
        (load_sqlite if db.is_sqlite else load_pg)(db, *rows)
        with db.engine.begin() as conn:  # a bulk load bypasses ingest: build what it maintains, as a rebuild does
            copies.resolve_all(conn, scores=False)
            rollup.rebuild(conn, db.dialect)
            score_rollup.rebuild(conn, db.dialect)
        with db.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
        took = time.perf_counter() - start
        print(f"\n[{label}] loaded {rows[0]:,} spans + {rows[1]:,} feedback in {took:.1f} s")
    else:
        print(f"\n[{label}] reusing {url}")
    ok = True
    with TestClient(create_app(CollectorSettings(db_url=url), db)) as client:
        made = time.perf_counter()
        queue = client.post(
            "/v1/queues", json={"name": "bench", "scores": ["thumbs"], "filter": {"span_kind": "llm"}, "sample": 200}
        )
        assert queue.status_code == 201, queue.text
        print(
            f"  create a queue of 200 random llm spans (once, not a page) {(time.perf_counter() - made) * 1000:8.1f} ms"
        )
        cursors = {
            kind: client.get(f"/v1/{kind}", params={"limit": 50}).json().get("next_cursor")
            for kind in ("sessions", "users")
        }

        def baseline_sql() -> Any:
            with db.engine.connect() as conn:
                return conn.execute(text("SELECT variant, count(*) FROM spans GROUP BY variant")).all()

        health, _ = timed(lambda: client.get("/healthz"))
        group, _ = timed(baseline_sql)
        print(f"  {'baseline GET /healthz':<78} {health * 1000:8.1f} ms")
        print(f"  {'baseline SELECT variant, count(*) GROUP BY variant':<78} {group * 1000:8.1f} ms")
        trace_id = f"{n_spans // 2:032x}"
        for page, path in requests_for(client, queue.json()["id"], trace_id, cursors):

            def call(path: str = path) -> Any:
                response = client.get(path)
                assert response.status_code in (200, 204), f"{path}: {response.status_code} {response.text[:200]}"
                return response

            seconds, _ = timed(call)
            within = seconds * 1000 < TARGET_MS
            ok = ok and within
            mark = "ok" if within else f"OVER {TARGET_MS:.0f} ms"
            print(f"  {page:<14} {path[:62]:<63} {seconds * 1000:8.1f} ms  {seconds / group:6.2f}x group-by  {mark}")
    db.dispose()
    return ok


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--feedback", type=int, default=200_000)
    parser.add_argument("--skip-pg", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--keep", help="SQLite file to keep (and to reuse, when it exists, instead of loading)")
    args = parser.parse_args()
    reuse = bool(args.keep) and Path(args.keep).exists()
    rows = None if reuse and args.skip_pg else (args.spans, args.feedback)
    results = []
    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(args.keep) if args.keep else Path(tmp) / "bench.db"
            results.append(run("SQLite", f"sqlite:///{path}", args.spans, None if reuse else rows))
    if not args.skip_pg and rows is not None:
        try:
            with pg_schema() as url:
                results.append(run("PostgreSQL", url, args.spans, rows))
        except Exception as exc:  # PostgreSQL unreachable: report and go on
            print(f"PostgreSQL unavailable ({exc}); skipping it")
    print(f"\nproject {PROJECT!r}: " + ("every request within 300 ms" if all(results) else "some requests over 300 ms"))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "collector"))
    raise SystemExit(main())
