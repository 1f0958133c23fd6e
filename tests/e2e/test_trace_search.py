"""Trace search: text through the full-text index, feedback and score conditions, status, sorts and keyset
pages, the same through REST and the Client, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from analytics_seed import BASE_NS, Seeder

import plaudit


def _seed(http: httpx.Client) -> dict[int, str]:
    """Twelve traces (root + LLM child); every third asks about refunds; even ones rated on thumbs."""
    seed = Seeder(http)
    traces: dict[int, str] = {}
    for i in range(12):
        topic = "refund policy" if i % 3 == 0 else "shipping times"
        root = seed.span(
            name="handle",
            start_ns=BASE_NS + i * 10**9,
            duration_ms=100.0 + 10 * i,
            plaudit__variant=f"v{i % 2}",
            user__id=f"user-{i}",
            plaudit__input=f"Customer {i} asks about the {topic}",
        )
        seed.span(
            name="llm",
            trace_id=root[0],
            parent_span_id=root[1],
            start_ns=BASE_NS + i * 10**9 + 1000,
            error=i == 7,
            gen_ai__provider__name="openai",
            gen_ai__request__model="gpt-4o-mini",
            gen_ai__usage__input_tokens=100 * (i + 1),
            gen_ai__usage__output_tokens=10,
            plaudit__output=f"Answer {i}: see our {topic} page",
        )
        traces[i] = root[0]
        if i % 2 == 0:
            seed.rate((root[0], None), "thumbs", 1.0 if i % 4 == 0 else 0.0)
    seed.send()
    return traces


def _ids(page: dict[str, Any]) -> list[str]:
    return [t["trace_id"] for t in page["traces"]]


def test_text_score_range_and_missing_feedback_in_pages(collector: Any, http: httpx.Client) -> None:
    traces = _seed(http)
    refunds = [traces[i] for i in (9, 6, 3, 0)]  # newest first
    page = http.get("/v1/traces", params={"q": "refund", "limit": 3}).json()
    assert _ids(page) == refunds[:3] and page["next_cursor"]
    rest = http.get("/v1/traces", params={"q": "refund", "limit": 3, "cursor": page["next_cursor"]}).json()
    assert _ids(rest) == refunds[3:] and rest["next_cursor"] is None
    missing = http.get("/v1/traces", params={"q": "REFUND policy", "missing_feedback": "thumbs"}).json()
    assert _ids(missing) == [traces[9], traces[3]]
    good = http.get("/v1/traces", params={"score": "thumbs", "min_score": 1, "q": "refund"}).json()
    assert _ids(good) == [traces[0]]
    poor = http.get("/v1/traces", params={"score": "thumbs", "max_score": 0.5}).json()
    assert _ids(poor) == [traces[i] for i in (10, 6, 2)]
    assert _ids(http.get("/v1/traces", params={"has_feedback": "thumbs", "q": "shipping"}).json()) == [
        traces[i] for i in (10, 8, 4, 2)
    ]
    first = page["traces"][0]
    assert (first["name"], first["model"], first["variant"], first["user_id"]) == (
        "handle",
        "gpt-4o-mini",
        "v1",
        "user-9",
    )
    assert first["status"] == "UNSET" and first["duration_ms"] == pytest.approx(190.0) and first["span_count"] == 2
    rated = http.get("/v1/traces", params={"q": "refund", "has_feedback": "thumbs"}).json()["traces"][0]
    assert rated["feedback"] == {"thumbs": {"count": 1, "mean": 0.0}}  # trace 6
    with plaudit.Client(collector.url) as client:
        assert [t.trace_id for t in client.traces("refund", limit=3).traces] == refunds[:3]
        assert [t.trace_id for t in client.iter_traces("refund", limit=1)] == refunds


def test_status_ranges_sorts_and_filters(collector: Any, http: httpx.Client) -> None:
    traces = _seed(http)
    assert _ids(http.get("/v1/traces", params={"status": "error"}).json()) == [traces[7]]
    assert traces[7] not in _ids(http.get("/v1/traces", params={"status": "ok"}).json())
    assert http.get("/v1/traces", params={"status": "error"}).json()["traces"][0]["status"] == "ERROR"
    slow = http.get("/v1/traces", params={"min_duration_ms": 195, "max_duration_ms": 205}).json()
    assert _ids(slow) == [traces[10]]
    tokens = http.get("/v1/traces", params={"min_tokens": 1000, "max_tokens": 1100}).json()
    assert _ids(tokens) == [traces[9]]  # 1,000 + 10 tokens
    latency = http.get("/v1/traces", params={"sort": "latency", "limit": 2}).json()
    assert _ids(latency) == [traces[11], traces[10]]
    cost = http.get("/v1/traces", params={"sort": "cost", "limit": 2}).json()
    assert _ids(cost) == [traces[11], traces[10]] and cost["traces"][0]["cost"] > cost["traces"][1]["cost"] > 0
    by_score = http.get("/v1/traces", params={"sort": "score", "score": "thumbs"}).json()
    assert [t["feedback"]["thumbs"]["mean"] for t in by_score["traces"]] == [1.0, 1.0, 1.0, 0.0, 0.0, 0.0]
    worst_first = http.get(
        "/v1/traces", params={"sort": "score", "score": "thumbs", "higher_is_better": "false", "limit": 1}
    ).json()
    assert worst_first["traces"][0]["feedback"]["thumbs"]["mean"] == 0.0 and worst_first["higher_is_better"] is False
    v0 = http.get("/v1/traces", params={"where": "variant=v0", "span_name": "handle"}).json()
    assert _ids(v0) == [traces[i] for i in (10, 8, 6, 4, 2, 0)]
    child = http.get("/v1/traces", params={"where": "model=gpt-4o-mini", "limit": 500}).json()
    assert len(child["traces"]) == 12
    window = http.get("/v1/traces", params={"from": str(BASE_NS / 1e9 + 2), "to": str(BASE_NS / 1e9 + 4)}).json()
    assert _ids(window) == [traces[3], traces[2]]


def test_every_page_of_every_sort_lists_each_trace_once(collector: Any, http: httpx.Client) -> None:
    _seed(http)
    for sort in ("time", "latency", "cost"):
        seen: list[str] = []
        cursor = None
        for _ in range(20):
            params: dict[str, Any] = {"sort": sort, "limit": 5}
            if cursor:
                params["cursor"] = cursor
            page = http.get("/v1/traces", params=params).json()
            seen += _ids(page)
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen)) == 12, sort


def test_bad_search_input_is_refused_and_hostile_text_is_harmless(collector: Any, http: httpx.Client) -> None:
    _seed(http)
    for params, field in (
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"min_score": "0.5"}, "score"),
        ({"sort": "score"}, "score"),
        ({"sort": "price"}, "sort"),
        ({"limit": "0"}, "limit"),
        ({"min_tokens": "1e400"}, "min_tokens"),
        ({"min_score": "nan", "score": "thumbs"}, "min_score"),
    ):
        response = http.get("/v1/traces", params=params)
        assert response.status_code == 422, params
        assert response.json()["error"]["field"] == field, params
    other_sort = http.get("/v1/traces", params={"limit": 1}).json()["next_cursor"]
    assert http.get("/v1/traces", params={"cursor": other_sort, "sort": "latency"}).status_code == 422
    for text in ('"refund', "refund OR shipping", "NEAR(a b)", "*", "x" * 500, "policy:", "-shipping", "'; --"):
        response = http.get("/v1/traces", params={"q": text})
        assert response.status_code == 200, (text, response.text)
        assert all("refund" in t["name"] or t for t in response.json()["traces"])
    assert _ids(http.get("/v1/traces", params={"q": "refund OR shipping"}).json()) == []  # words, not operators
    for raw in ("%ED%A0%80", "%00", "%FF"):  # a lone surrogate, NUL, invalid UTF-8
        assert http.get(f"/v1/traces?q={raw}").status_code in (200, 422), raw


def test_search_sees_new_spans_and_forgets_deleted_ones(collector: Any, http: httpx.Client) -> None:
    from plaudit_collector.store import retention

    traces = _seed(http)
    assert len(http.get("/v1/traces", params={"q": "shipping"}).json()["traces"]) == 8
    seed = Seeder(http)
    now = time.time_ns()
    seed.span(name="late", start_ns=now, plaudit__input="a brand new question about shipping", trace_id="f" * 32)
    seed.send()
    assert http.get("/v1/traces", params={"q": "brand new"}).json()["traces"][0]["trace_id"] == "f" * 32
    days_since_seed = (now - BASE_NS) / (86_400 * 10**9)
    assert days_since_seed > 2
    retention.sweep(collector.app.state.db, days_since_seed - 1)
    remaining = http.get("/v1/traces", params={"q": "shipping"}).json()
    assert _ids(remaining) == ["f" * 32] and traces[1] not in _ids(remaining)
