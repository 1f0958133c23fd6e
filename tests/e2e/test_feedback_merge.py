"""A comment never erases a vote, on SQLite and PostgreSQL.

One current item per (target, name, author): an item with only a comment or a correction is merged into
that author's current vote (the value stays, history keeps both rows), and a later vote keeps the earlier
comment and correction.
"""

from __future__ import annotations

from typing import Any

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

TID = "d0" * 16
SID = "00f067aa0ba902b7"


def _span(http: httpx.Client) -> None:
    span = Span(
        trace_id=bytes.fromhex(TID),
        span_id=bytes.fromhex(SID),
        name="answer",
        start_time_unix_nano=1_700_000_000_000_000_000,
        end_time_unix_nano=1_700_000_001_000_000_000,
        attributes=[KeyValue(key="gen_ai.request.model", value=AnyValue(string_value="m1"))],
    )
    body = ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=[span])])])
    response = http.post(
        "/v1/traces", content=body.SerializeToString(), headers={"Content-Type": "application/x-protobuf"}
    )
    assert response.status_code == 200


def _rate(http: httpx.Client, author: str | None, **fields: Any) -> dict[str, Any]:
    response = http.post(
        "/v1/feedback", json={"trace_id": TID, "span_id": SID, "name": "thumbs", "author": author, **fields}
    )
    assert response.status_code == 201, response.text
    return response.json()["items"][0]  # type: ignore[no-any-return]


def _current(http: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    return http.get("/v1/feedback", params={"name": "thumbs", **params}).json()["data"]  # type: ignore[no-any-return]


def test_two_users_vote_down_then_comment_and_both_votes_count(collector: Any, http: httpx.Client) -> None:
    _span(http)
    for user in ("u1", "u2"):
        _rate(http, user, value=False)
    for user in ("u1", "u2"):
        merged = _rate(http, user, comment=f"too long, says {user}")
        assert (merged["value"], merged["kind"], merged["score"]) == (False, "boolean", 0.0)
    current = sorted(_current(http), key=lambda f: f["author"])
    assert [(f["author"], f["value"], f["comment"]) for f in current] == [
        ("u1", False, "too long, says u1"),
        ("u2", False, "too long, says u2"),
    ]
    history = _current(http, author="u1", history="true")
    assert [(f["value"], f["comment"], f["is_current"]) for f in history] == [
        (False, "too long, says u1", True),
        (False, None, False),
    ]
    board = http.get("/v1/analytics/leaderboard", params={"score": "thumbs", "group_by": "model", "min_count": 1})
    assert [(r["group"]["model"], r["count"], r["mean"]) for r in board.json()["rows"]] == [("m1", 2, 0.0)]


def test_a_later_vote_keeps_the_earlier_comment_and_correction(collector: Any, http: httpx.Client) -> None:
    _rate(http, "u1", comment="the date is wrong")
    _rate(http, "u1", correction="It opened in 1889.")
    voted = _rate(http, "u1", value=True)
    assert (voted["value"], voted["kind"], voted["comment"], voted["correction"]) == (
        True,
        "boolean",
        "the date is wrong",
        "It opened in 1889.",
    )
    changed = _rate(http, "u1", value=False, comment="still wrong")
    assert (changed["value"], changed["comment"], changed["correction"]) == (False, "still wrong", "It opened in 1889.")
    assert len(_current(http)) == 1
    assert len(_current(http, history="true")) == 4


def test_vote_and_comment_in_one_request_merge(collector: Any, http: httpx.Client) -> None:
    base = {"trace_id": TID, "span_id": SID, "name": "thumbs", "author": "u3"}
    response = http.post("/v1/feedback", json={"items": [{**base, "value": False}, {**base, "comment": "why"}]})
    assert response.status_code == 201
    assert [(f["value"], f["comment"]) for f in _current(http)] == [(False, "why")]


def test_a_comment_without_an_author_is_its_own_item(collector: Any, http: httpx.Client) -> None:
    _rate(http, None, value=True)
    note = _rate(http, None, comment="anonymous note")
    assert (note["value"], note["kind"]) == (None, "text")
    assert sorted((f["kind"], f["value"]) for f in _current(http)) == [("boolean", True), ("text", None)]
