"""Every kind of feedback over real HTTP, on SQLite and PostgreSQL: what is stored, where analytics read
it, the trace view, update semantics (one current vote per author, history, idempotency, deletes)
and feedback that arrives before its span."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

import plaudit


def _answer(variant: str, text: str = "an answer") -> plaudit.SpanRef:
    with plaudit.span("chat", kind="llm", model=f"m-{variant}", variant=variant) as span:
        span.set_output(text)
        ref = span.ref
    assert ref is not None
    return ref


def _stored(http: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    return http.get("/v1/feedback", params={"limit": 1000, **params}).json()["data"]  # type: ignore[no-any-return]


def test_each_kind_is_stored_where_analytics_read_it(sdk: Any, http: httpx.Client) -> None:
    ref = _answer("a")
    assert plaudit.flush()
    replies = [
        plaudit.feedback(ref, "thumbs", True, wait=True),
        plaudit.feedback(ref, "stars", 4.5, wait=True),
        plaudit.feedback(ref, "tone", "friendly", wait=True),
        plaudit.feedback(ref, "note", comment="clear and short", wait=True),
        plaudit.feedback(ref, "fix", correction="The better answer.", source="annotator", author="ann", wait=True),
    ]
    stored = [reply["items"][0] for reply in replies if reply]
    assert [(s["kind"], s["score"], s["label"]) for s in stored] == [
        ("boolean", 1.0, None),
        ("numeric", 4.5, None),
        ("categorical", None, "friendly"),
        ("text", None, None),
        ("correction", None, None),
    ]
    assert stored[3]["comment"] == "clear and short"
    assert (stored[4]["correction"], stored[4]["source"], stored[4]["author"]) == (
        "The better answer.",
        "annotator",
        "ann",
    )
    for item in stored:
        assert item["target_type"] == "span" and item["span_id"] == ref.span_id and item["is_current"]
        assert item["created_at"].endswith("Z")
    assert (
        plaudit.feedback(plaudit.SpanRef(ref.trace_id), "overall", 3, wait=True)["items"][0]["target_type"] == "trace"
    )  # type: ignore[index]


def test_metadata_and_async_twin(sdk: Any, http: httpx.Client) -> None:
    ref = _answer("a")
    reply = asyncio.run(plaudit.afeedback(str(ref), "stars", 2, metadata={"screen": "chat", "n": [1, 2]}))
    assert reply is not None
    (item,) = reply["items"]
    assert item["metadata"] == {"screen": "chat", "n": [1, 2]}
    assert _stored(http, name="stars")[0]["id"] == item["id"]


def test_preference_is_one_row_with_both_sides_and_shows_in_both_traces(sdk: Any, http: httpx.Client) -> None:
    a, b = _answer("a", "short"), _answer("b", "long")
    assert plaudit.flush()
    reply = plaudit.preference(a, b, winner="b", name="helpfulness", author="judge-1", wait=True)
    assert reply is not None
    (row,) = reply["items"]
    assert (row["kind"], row["label"], row["winner"], row["score"]) == ("preference", "b", "b", None)
    assert (row["trace_id"], row["span_id"]) == (a.trace_id, a.span_id)
    assert (row["other_trace_id"], row["other_span_id"]) == (b.trace_id, b.span_id)

    for ref in (a, b):  # the A side and the B side both see it on their span
        trace = http.get(f"/v1/traces/{ref.trace_id}").json()
        (span,) = trace["spans"]
        assert [(f["kind"], f["winner"]) for f in span["feedback"]] == [("preference", "b")]

    # the REST form, with SpanRef strings, and the same author changing their mind replaces the verdict
    response = http.post(
        "/v1/preferences",
        json={
            "a": {"ref": str(a)},
            "b": {"trace_id": b.trace_id, "span_id": b.span_id},
            "winner": "tie",
            "name": "helpfulness",
            "author": "judge-1",
        },
    )
    assert response.status_code == 201, response.text
    current = _stored(http, name="helpfulness")
    assert [(f["winner"], f["is_current"]) for f in current] == [("tie", True)]
    assert len(_stored(http, name="helpfulness", history="true")) == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"a": {"ref": "nope"}, "b": {"trace_id": "b" * 32}, "winner": "a"}, "a.ref"),
        ({"a": {"trace_id": "a" * 32}, "b": {"trace_id": "b" * 32}, "winner": "both"}, "winner"),
        ({"a": {"trace_id": "a" * 32}, "b": {"trace_id": "a" * 32}, "winner": "a"}, "b"),
        ({"a": {"trace_id": "a" * 32}, "b": {}, "winner": "a"}, "b"),
    ],
)
def test_bad_preferences_are_422(collector: Any, http: httpx.Client, body: dict[str, Any], field: str) -> None:
    response = http.post("/v1/preferences", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field
    assert _stored(http, history="true") == []


def test_implicit_signals_are_end_user_scores(sdk: Any, http: httpx.Client) -> None:
    ref = _answer("a")
    for signal in ("copied", "regenerated", "abandoned"):
        plaudit.signal(ref, signal, author="u1")
    plaudit.signal(ref, "edited", author="u1", correction="my edit")
    plaudit.signal(ref, "follow_up", author="u1", comment="and for teams?")
    assert plaudit.flush()
    rows = {f["name"]: f for f in _stored(http)}
    assert set(rows) == {"copied", "regenerated", "abandoned", "edited", "follow_up"}
    assert {(f["source"], f["kind"], f["score"]) for f in rows.values()} == {("end_user", "boolean", 1.0)}
    assert rows["edited"]["correction"] == "my edit"
    assert rows["follow_up"]["comment"] == "and for teams?"
    with pytest.raises(ValueError, match="signal must be one of"):
        plaudit.signal(ref, "liked")
    board = http.get("/v1/analytics/leaderboard", params={"score": "copied", "group_by": "model"}).json()
    assert [(r["group"]["model"], r["count"]) for r in board["rows"]] == [("m-a", 1)]


def test_many_raters_are_all_kept(sdk: Any, http: httpx.Client) -> None:
    ref = _answer("a")
    for author, stars in (("r1", 5), ("r2", 3), ("r3", 4)):
        plaudit.feedback(ref, "stars", stars, author=author, source="annotator")
    assert plaudit.flush()
    rows = _stored(http, span_id=ref.span_id, name="stars")
    assert sorted((f["author"], f["score"]) for f in rows) == [("r1", 5.0), ("r2", 3.0), ("r3", 4.0)]


def test_session_outcomes_with_unknown_stored_without_a_score(sdk: Any, http: httpx.Client) -> None:
    plaudit.session_feedback("sess-1", "resolved", True, author="agent")
    plaudit.session_feedback("sess-2", "resolved", "ongoing")
    plaudit.session_feedback("sess-3", "resolved", "unknown")
    assert plaudit.flush()
    rows = sorted(_stored(http, name="resolved"), key=lambda f: f["session_id"])
    assert [(f["target_type"], f["session_id"], f["trace_id"], f["kind"], f["score"], f["label"]) for f in rows] == [
        ("session", "sess-1", None, "boolean", 1.0, None),
        ("session", "sess-2", None, "unknown", None, "ongoing"),
        ("session", "sess-3", None, "unknown", None, "unknown"),
    ]
    # "unknown" as a label on a span is just a label, and only sessions take the "unknown" kind
    span_item = {"trace_id": "a" * 32, "name": "resolved", "kind": "unknown", "value": "unknown"}
    response = http.post("/v1/feedback", json=span_item)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "kind"


def test_a_changed_vote_replaces_the_earlier_one_with_history(sdk: Any, http: httpx.Client) -> None:
    ref = _answer("a")
    first = plaudit.feedback(ref, "thumbs", True, author="alice", wait=True)
    plaudit.feedback(ref, "thumbs", True, author="bob", wait=True)
    second = plaudit.feedback(ref, "thumbs", False, author="alice", wait=True)
    assert first and second
    current = _stored(http, name="thumbs")
    assert sorted((f["author"], f["value"]) for f in current) == [("alice", False), ("bob", True)]
    history = _stored(http, name="thumbs", author="alice", history="true")
    assert [(f["value"], f["is_current"]) for f in history] == [(False, True), (True, False)]
    assert http.get(f"/v1/feedback/{first['ids'][0]}").json()["is_current"] is False


def test_idempotency_key_gives_one_row_and_the_same_response(collector: Any, http: httpx.Client) -> None:
    item = {"trace_id": "a" * 32, "span_id": "b" * 16, "name": "thumbs", "value": True, "idempotency_key": "k-1"}
    first = http.post("/v1/feedback", json=item)
    again = http.post("/v1/feedback", json=item)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    batch = http.post("/v1/feedback", json={"items": [item, {**item, "idempotency_key": "k-2"}, item]})
    ids = batch.json()["ids"]
    assert ids[0] == ids[2] == first.json()["ids"][0] and ids[1] != ids[0]
    assert len(_stored(http, history="true")) == 2


def test_delete_by_id(sdk: Any, http: httpx.Client) -> None:
    ref = _answer("a")
    assert plaudit.flush()
    reply = plaudit.feedback(ref, "thumbs", True, author="alice", wait=True)
    assert reply is not None
    fid = reply["ids"][0]
    assert plaudit.delete_feedback(fid) is True
    assert _stored(http) == []
    gone = http.get(f"/v1/feedback/{fid}").json()
    assert gone["deleted_at"] is not None and gone["is_current"] is False
    assert http.get(f"/v1/traces/{ref.trace_id}").json()["spans"][0]["feedback"] == []
    board = http.get("/v1/analytics/leaderboard", params={"score": "thumbs", "group_by": "model"}).json()
    assert board["rows"] == [] or all(r["count"] == 0 for r in board["rows"])
    assert http.delete("/v1/feedback/999999").status_code == 404
    assert plaudit.delete_feedback(999999) is False


def test_feedback_before_its_span_is_kept_reported_as_orphan_then_joins(sdk: Any, http: httpx.Client) -> None:
    tracer_ref: list[plaudit.SpanRef] = []
    late_trace = "1234567890abcdef1234567890abcdef"
    never = plaudit.SpanRef(late_trace, "00000000000000aa")
    # rate a span the collector has not seen, and one that never comes
    with plaudit.span("chat", kind="llm", model="m-late") as span:
        ref = span.ref
        assert ref is not None
        tracer_ref.append(ref)
        assert plaudit.feedback(ref, "thumbs", True, wait=True)  # posted before the span ends and is exported
    assert plaudit.feedback(never, "thumbs", False, wait=True)
    orphans = http.get("/v1/feedback/orphans").json()
    assert {f["trace_id"] for f in orphans["data"]} >= {late_trace}
    assert plaudit.flush()  # now the span lands
    orphans = http.get("/v1/feedback/orphans").json()
    assert [(f["trace_id"], f["span_id"]) for f in orphans["data"]] == [(never.trace_id, never.span_id)]
    assert orphans["count"] == 1
    assert http.get("/v1/feedback/orphans", params={"older_than": 3600}).json()["count"] == 0
    board = http.get("/v1/analytics/leaderboard", params={"score": "thumbs", "group_by": "model"}).json()
    assert [(r["group"]["model"], r["count"], r["mean"]) for r in board["rows"]] == [("m-late", 1, 1.0)]
    trace = http.get(f"/v1/traces/{ref.trace_id}").json()
    assert [f["value"] for f in trace["spans"][0]["feedback"]] == [True]
