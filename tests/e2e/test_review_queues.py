"""Review queues over REST against a real collector (SQLite and PostgreSQL): creation from a filter or from
explicit items, reservations, overlap, skips, pairwise verdicts as preferences, progress, and two reviewers
asking at the same time never holding the same item."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx
import pytest
from tests.e2e.analytics_seed import BASE_NS, Seeder


def _seed(http: httpx.Client, n: int = 6) -> list[tuple[str, str]]:
    seeder = Seeder(http)
    refs = []
    for i in range(n):
        variant = "v1" if i % 2 == 0 else "v2"
        refs.append(
            seeder.span(
                start_ns=BASE_NS + i * 10**9,
                plaudit__variant=variant,
                plaudit__span__kind="llm",
                plaudit__input=f"question {i // 2}",
                plaudit__output=f"answer {i} from {variant}",
                gen_ai__request__model="m1",
            )
        )
    seeder.send()
    return refs


def _create(http: httpx.Client, **body: Any) -> dict[str, Any]:
    response = http.post("/v1/queues", json={"name": "q", "scores": ["thumbs"], **body})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_queue_from_filter_worked_by_two_reviewers_with_overlap_two(http: httpx.Client) -> None:
    _seed(http)
    queue = _create(http, filter={"where": "variant=v1"}, overlap=2, order="oldest")
    assert queue["items"] == 3 and queue["progress"]["percent"] == 0.0
    seen: dict[str, list[int]] = {"ann": [], "bob": []}
    for reviewer in ("ann", "bob"):
        while True:
            response = http.get(f"/v1/queues/{queue['id']}/next", params={"reviewer": reviewer})
            if response.status_code == 204:
                break
            item = response.json()
            assert item["span"]["variant"] == "v1" and item["scores"][0]["name"] == "thumbs"
            again = http.get(f"/v1/queues/{queue['id']}/next", params={"reviewer": reviewer}).json()
            assert again["id"] == item["id"]  # a reload returns the item already held
            done = http.post(
                f"/v1/queues/{queue['id']}/items/{item['id']}",
                json={"reviewer": reviewer, "ratings": {"thumbs": True}, "comment": "fine"},
            )
            assert done.status_code == 200, done.text
            seen[reviewer].append(item["id"])
    assert sorted(seen["ann"]) == sorted(seen["bob"]) and len(seen["ann"]) == 3
    progress = http.get(f"/v1/queues/{queue['id']}").json()["progress"]
    assert progress["percent"] == 100.0 and progress["completed_items"] == 3
    assert {r["reviewer"]: r["done"] for r in progress["reviewers"]} == {"ann": 3, "bob": 3}
    stored = http.get("/v1/feedback", params={"name": "thumbs", "author": "ann"}).json()["data"]
    assert len(stored) == 3 and {f["source"] for f in stored} == {"annotator"}
    assert stored[0]["metadata"]["queue_id"] == queue["id"]
    board = http.get("/v1/analytics/leaderboard", params={"score": "thumbs", "min_count": 1}).json()
    assert board["rows"][0]["group"] == {"variant": "v1"} and board["rows"][0]["mean"] == 1.0


def test_overlap_one_item_is_not_handed_to_a_second_reviewer(http: httpx.Client) -> None:
    _seed(http, n=2)
    queue = _create(http, sample=1, order="oldest")
    first = http.get(f"/v1/queues/{queue['id']}/next", params={"reviewer": "ann"})
    assert first.status_code == 200
    assert http.get(f"/v1/queues/{queue['id']}/next", params={"reviewer": "bob"}).status_code == 204
    late = http.post(
        f"/v1/queues/{queue['id']}/items/{first.json()['id']}", json={"reviewer": "bob", "ratings": {"thumbs": False}}
    )
    assert late.status_code == 409 and late.json()["error"]["field"] == "item_id"


def test_skip_passes_the_item_to_others(http: httpx.Client) -> None:
    _seed(http, n=2)
    queue = _create(http, sample=1)
    item = http.get(f"/v1/queues/{queue['id']}/next", params={"reviewer": "ann"}).json()
    skipped = http.post(f"/v1/queues/{queue['id']}/items/{item['id']}", json={"reviewer": "ann", "skip": True})
    assert skipped.status_code == 200 and skipped.json()["state"] == "skipped"
    assert http.get(f"/v1/queues/{queue['id']}/next", params={"reviewer": "ann"}).status_code == 204
    assert http.get(f"/v1/queues/{queue['id']}/next", params={"reviewer": "bob"}).json()["id"] == item["id"]
    reviewers = http.get(f"/v1/queues/{queue['id']}").json()["progress"]["reviewers"]
    assert {r["reviewer"]: (r["skipped"], r["reserved"]) for r in reviewers} == {"ann": (1, 0), "bob": (0, 1)}


def test_concurrent_reviewers_never_hold_the_same_item(http: httpx.Client, collector: Any, db_url: str) -> None:
    """Eight reviewers ask at once, through two collectors on the same database (two processes' worth of
    connections): each gets a different item."""
    from plaudit_collector.server import BackgroundServer
    from plaudit_collector.settings import CollectorSettings

    _seed(http, n=8)
    queue = _create(http, order="oldest")
    second = BackgroundServer(CollectorSettings(db_url=db_url)).start()
    got: dict[str, int | None] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def take(reviewer: str, url: str) -> None:
        try:
            with httpx.Client(base_url=url, timeout=30) as client:
                barrier.wait()
                response = client.get(f"/v1/queues/{queue['id']}/next", params={"reviewer": reviewer})
                got[reviewer] = response.json()["id"] if response.status_code == 200 else None
        except BaseException as exc:
            errors.append(exc)

    try:
        urls = [collector.url, second.url]
        threads = [threading.Thread(target=take, args=(f"r{i}", urls[i % 2])) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        second.stop()
        second.app.state.db.dispose()
    assert not errors
    ids = list(got.values())
    assert None not in ids and len(set(ids)) == 8  # eight reviewers, eight different items


def test_pairwise_queue_records_preferences_and_moves_bradley_terry(http: httpx.Client) -> None:
    _seed(http, n=6)
    queue = _create(http, kind="pairwise", scores=[], filter={"span_kind": "llm"})
    assert queue["items"] == 3 and queue["scores"] == ["preference"]
    while True:
        response = http.get(f"/v1/queues/{queue['id']}/next", params={"reviewer": "ann"})
        if response.status_code == 204:
            break
        item = response.json()
        assert item["a"]["span"]["input"] == item["b"]["span"]["input"]
        winner = "a" if item["a"]["span"]["variant"] == "v2" else "b"  # ann always prefers v2, as shown
        done = http.post(f"/v1/queues/{queue['id']}/items/{item['id']}", json={"reviewer": "ann", "winner": winner})
        assert done.status_code == 200, done.text
    ranking = http.get("/v1/analytics/preferences", params={"score": "preference"}).json()
    assert ranking["rows"][0]["group"] == {"variant": "v2"}
    prefs = http.get("/v1/feedback", params={"name": "preference"}).json()["data"]
    assert len(prefs) == 3 and {p["source"] for p in prefs} == {"annotator"}


def test_pairwise_queue_from_explicit_items(http: httpx.Client) -> None:
    refs = _seed(http, n=2)
    body = {"a": {"trace_id": refs[0][0], "span_id": refs[0][1]}, "b": {"trace_id": refs[1][0], "span_id": refs[1][1]}}
    queue = _create(http, kind="pairwise", scores=["helpful"], items=[body])
    item = http.get(f"/v1/queues/{queue['id']}/next", params={"reviewer": "ann"}).json()
    assert {item["a"]["span_id"], item["b"]["span_id"]} == {refs[0][1], refs[1][1]}
    shown_a = item["a"]["span_id"]
    http.post(f"/v1/queues/{queue['id']}/items/{item['id']}", json={"reviewer": "ann", "winner": "a"})
    pref = http.get("/v1/feedback", params={"name": "helpful"}).json()["data"][0]
    winner_span = pref["span_id"] if pref["winner"] == "a" else pref["other_span_id"]
    assert winner_span == shown_a  # the verdict is about the side shown as A, whatever the display order


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "q", "scores": ["thumbs"], "filter": {"modle": "x"}}, "filter.modle"),
        ({"name": "q", "scores": ["thumbs"], "filter": {"where": "nope=1"}}, "filter.where"),
        ({"name": "q", "scores": []}, "scores"),
        ({"name": " ", "scores": ["thumbs"]}, "name"),
        ({"name": "q", "scores": ["thumbs"], "overlap": 0}, "overlap"),
        ({"name": "q", "scores": ["thumbs"], "sample": 10**12}, "sample"),
        ({"name": "q\x00", "scores": ["thumbs"]}, "name"),
        ({"name": "q", "scores": ["thumbs"], "filter": {"where": "variant=nothing"}}, "filter"),
        ({"name": "q", "scores": ["thumbs"], "filter": {"q": "\ud800"}}, "filter.q"),
        ({"name": "q", "scores": ["thumbs"], "filter": {"tag": [["deep"]]}}, "filter.tag"),
        ({"name": "q", "scores": ["thumbs"], "overlap": 10**30}, "overlap"),
        ({"name": "q", "scores": ["thumbs"], "order": "best"}, "order"),
        ({"name": "q", "scores": ["thumbs"], "items": [{"span_id": "0" * 15 + "1"}]}, "items[0].trace_id"),
    ],
)
def test_bad_queue_is_refused_naming_the_field(http: httpx.Client, body: dict[str, Any], field: str) -> None:
    _seed(http, n=2)
    response = http.post("/v1/queues", content=json.dumps(body), headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field
    assert http.get("/v1/queues").json()["queues"] == []


def test_bad_submissions_store_nothing(http: httpx.Client) -> None:
    _seed(http, n=2)
    http.put("/v1/score-configs/stars", json={"type": "numeric", "min": 1, "max": 5})
    queue = _create(http, scores=["stars"], sample=1)
    item = http.get(f"/v1/queues/{queue['id']}/next", params={"reviewer": "ann"}).json()
    assert item["scores"][0]["config"]["max"] == 5
    url = f"/v1/queues/{queue['id']}/items/{item['id']}"
    for body, field in [
        ({"reviewer": "ann", "ratings": {"stars": 9}}, "ratings.stars"),
        ({"reviewer": "ann", "ratings": {"other": 1}}, "ratings.other"),
        ({"reviewer": "ann", "ratings": {"stars": 10**20}}, "ratings.stars"),
        ({"reviewer": "ann", "ratings": {"stars": 3}, "comment": "a\x00b"}, "comment"),
        ({"reviewer": "ann\ud800", "ratings": {"stars": 3}}, "reviewer"),
        ({"reviewer": "ann", "winner": "a"}, "winner"),
        ({"reviewer": "", "ratings": {"stars": 3}}, "reviewer"),
        ({"reviewer": "ann"}, "ratings"),
    ]:
        response = http.post(url, content=json.dumps(body), headers={"content-type": "application/json"})
        assert response.status_code == 422, (body, response.text)
        assert response.json()["error"]["field"] == field, (body, response.json())
    nan = b'{"reviewer": "ann", "ratings": {"stars": NaN}}'
    assert http.post(url, content=nan, headers={"Content-Type": "application/json"}).status_code == 400
    deep = b"[" * 100_000 + b"]" * 100_000
    assert http.post(url, content=deep, headers={"Content-Type": "application/json"}).status_code in (400, 422)
    assert http.get("/v1/feedback", params={"name": "stars"}).json()["data"] == []
    assert http.get(f"/v1/queues/{queue['id']}").json()["progress"]["ratings"] == 0
    assert http.post(url, json={"reviewer": "ann", "ratings": {"stars": 4}}).status_code == 200
    assert http.post("/v1/queues/999/items/1", json={"reviewer": "a", "skip": True}).status_code == 404
    assert http.get("/v1/queues/999/next", params={"reviewer": "a"}).status_code == 404


def test_queue_list_and_delete(http: httpx.Client) -> None:
    _seed(http, n=2)
    queue = _create(http, name="first")
    listed = http.get("/v1/queues").json()["queues"]
    assert [q["name"] for q in listed] == ["first"] and listed[0]["progress"]["needed"] == 2
    assert http.delete(f"/v1/queues/{queue['id']}").status_code == 204
    assert http.get(f"/v1/queues/{queue['id']}").status_code == 404
