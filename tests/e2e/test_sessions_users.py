"""Sessions, users and score names over REST (SQLite and PostgreSQL): aggregates, feedback summary, paging by
last activity with no value listed twice or missed, and bad cursors refused."""

from __future__ import annotations

import httpx
from tests.e2e.analytics_seed import BASE_NS, Seeder


def _seed(http: httpx.Client) -> None:
    seeder = Seeder(http)
    # 12 sessions over 4 users; session k's spans are spread in time so their activity interleaves
    for k in range(12):
        for t in range(3):
            start = BASE_NS + (t * 12 + k) * 10**9 if k % 2 else BASE_NS + (k * 3 + t) * 10**9
            root = seeder.span(start_ns=start, session__id=f"s{k:02d}", user__id=f"u{k % 4}", error=(t == 2 and k == 5))
            child = seeder.span(
                name="llm",
                start_ns=start + 1000,
                trace_id=root[0],
                parent_span_id=root[1],
                session__id=f"s{k:02d}",
                user__id=f"u{k % 4}",
                gen_ai__usage__input_tokens=10,
            )
            if k == 3:
                seeder.rate(child, "thumbs", t != 0)
                seeder.rate((root[0], None), "stars", 4)
    seeder.rate_session("s03", "resolved", True)
    seeder.send()


def test_sessions_with_counts_and_feedback(http: httpx.Client) -> None:
    _seed(http)
    sessions = http.get("/v1/sessions", params={"limit": 100}).json()
    rows = {row["session_id"]: row for row in sessions["sessions"]}
    assert len(rows) == 12
    s3 = rows["s03"]
    assert (s3["traces"], s3["spans"], s3["user_id"], s3["input_tokens"]) == (3, 6, "u3", 30)
    summary = {entry["name"]: entry for entry in s3["feedback"]}
    assert summary["thumbs"]["count"] == 3 and abs(summary["thumbs"]["mean"] - 2 / 3) < 1e-9
    assert summary["stars"]["mean"] == 4 and summary["resolved"]["count"] == 1
    assert rows["s05"]["errors"] == 1
    starts = [row["last_start"] for row in sessions["sessions"]]
    assert starts == sorted(starts, reverse=True)


def test_paging_lists_every_session_once(http: httpx.Client) -> None:
    _seed(http)
    seen: list[str] = []
    cursor = None
    for _ in range(20):
        page = http.get("/v1/sessions", params={"limit": 5, **({"cursor": cursor} if cursor else {})}).json()
        seen += [row["session_id"] for row in page["sessions"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == [f"s{k:02d}" for k in range(12)]
    whole = [row["session_id"] for row in http.get("/v1/sessions", params={"limit": 100}).json()["sessions"]]
    assert seen == whole


def test_users_with_sessions_and_traces(http: httpx.Client) -> None:
    _seed(http)
    users = {row["user_id"]: row for row in http.get("/v1/users").json()["users"]}
    assert set(users) == {"u0", "u1", "u2", "u3"}
    assert (users["u3"]["sessions"], users["u3"]["traces"], users["u3"]["spans"]) == (3, 9, 18)
    assert {entry["name"] for entry in users["u3"]["feedback"]} == {"thumbs", "stars"}


def test_bad_cursor_is_refused(http: httpx.Client) -> None:
    for cursor in ("nope", "!!!", "MTo", "LTE6LTE", "OTk5OTk5OTk5OTk5OTk5OTk5OTk5Ojk"):
        response = http.get("/v1/sessions", params={"cursor": cursor})
        assert response.status_code == 422 and response.json()["error"]["field"] == "cursor", cursor
    assert http.get("/v1/users", params={"limit": 0}).status_code == 422


def test_score_names_in_use_and_configured(http: httpx.Client) -> None:
    _seed(http)
    http.put("/v1/score-configs/accuracy", json={"type": "numeric", "min": 0, "max": 1})
    scores = {row["name"]: row for row in http.get("/v1/scores").json()["scores"]}
    assert scores["thumbs"]["count"] == 3 and scores["thumbs"]["kind"] == "boolean"
    assert scores["accuracy"]["count"] == 0 and scores["accuracy"]["config"]["max"] == 1
    assert scores["stars"]["count"] == 3 and scores["resolved"]["kind"] == "boolean"
