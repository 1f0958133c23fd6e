"""Judge definitions over REST: bad input is a 4xx naming the field and stores nothing; a provider failure is
retried or dead-lettered; the hourly budget and the rate limit hold."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from judge_helpers import chat_calls, definition, judge_feedback, llm_span


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"prompt": "Rate {{output}} and {{secret}}"}, "prompt"),
        ({"prompt": "no placeholders at all"}, "prompt"),
        ({"prompt": "NUL \u0000 in {{output}}"}, "prompt"),
        ({"prompt": "lone \ud800 surrogate {{output}}"}, "prompt"),
        ({"api_key_env": "PLAUDIT_API_KEY"}, "api_key_env"),
        ({"api_key_env": "DATABASE_URL"}, "api_key_env"),
        ({"provider": "cohere"}, "provider"),
        ({"max_tokens": 10**30}, "max_tokens"),
        ({"sample_rate": 0}, "sample_rate"),
        ({"score_config": {"type": "numeric", "min": 5, "max": 1}}, "score_config.max"),
        ({"score_config": {"type": "text"}}, "score_config.type"),
        ({"filter": {"where": {"nonsense": "x"}}}, "filter.where"),
        ({"base_url": "file:///etc/passwd"}, "base_url"),
        ({"score_config": None, "score": "undeclared"}, "score_config"),
    ],
)
def test_a_bad_definition_is_refused_naming_the_field(
    http: httpx.Client, fake_judge: Any, change: dict[str, Any], field: str
) -> None:
    body = json.dumps({"name": "j", **definition(fake_judge), **change})  # ASCII: a lone surrogate travels escaped
    response = http.post("/v1/judges", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field
    assert http.get("/v1/judges").json()["count"] == 0


def test_bodies_that_are_not_definitions(http: httpx.Client, fake_judge: Any) -> None:
    assert http.post("/v1/judges", content=b"[" * 50_000).status_code == 400
    assert http.post("/v1/judges", content=b"{not json").status_code == 400
    assert (
        http.post("/v1/judges", json={"name": "bad name!", **definition(fake_judge)}).json()["error"]["field"] == "name"
    )
    big = http.post("/v1/judges", json={"name": "j", **definition(fake_judge), "prompt": "{{output}}" + "x" * 70_000})
    assert big.status_code == 413
    assert http.get("/v1/judges").json()["count"] == 0


def test_definitions_are_replaced_patched_and_rehashed(http: httpx.Client, fake_judge: Any) -> None:
    first = http.post("/v1/judges", json={"name": "j", **definition(fake_judge)}).json()
    assert http.post("/v1/judges", json={"name": "j", **definition(fake_judge)}).status_code == 409
    paused = http.patch("/v1/judges/j", json={"enabled": False, "sample_rate": 0.5}).json()
    assert paused["hash"] == first["hash"] and paused["enabled"] is False and paused["sample_rate"] == 0.5
    assert http.post("/v1/judges/j/run", json={}).status_code == 409
    edited = http.patch("/v1/judges/j", json={"prompt": "Strictly: {{output}}"}).json()
    assert edited["hash"] != first["hash"] and edited["author"] == f"j@{edited['hash']}"
    assert [j["name"] for j in http.get("/v1/judges").json()["data"]] == ["j"]
    assert http.delete("/v1/judges/j").status_code == 204
    assert http.get("/v1/judges/j").status_code == 404


def test_a_permanent_error_is_a_dead_letter_and_a_transient_one_is_retried_later(
    http: httpx.Client, fake_judge: Any, post_spans: Any
) -> None:
    http.post("/v1/judges", json={"name": "broken", **definition(fake_judge, model="error-401")})
    http.post("/v1/judges", json={"name": "busy", **definition(fake_judge, model="error-429")})
    (span,) = post_spans(http, [llm_span("hello")])
    assert http.post("/v1/judges/broken/run", json={}).json()["dead"] == 1
    (letter,) = http.get("/v1/judges/broken/dead-letters").json()["data"]
    assert letter["span_id"] == span["spanId"] and "401" in letter["error"] and letter["attempts"] == 1
    before = time.time()
    busy = http.post("/v1/judges/busy/run", json={}).json()
    assert busy["retried"] == 1 and busy["dead"] == 0
    assert http.post("/v1/judges/busy/run", json={}).json()["claimed"] == 0  # backing off
    assert http.get("/v1/judges/busy").json()["runs"]["pending"] == 1
    assert time.time() - before < 5
    # fixed: the dead letter goes back in the queue and is scored
    http.patch("/v1/judges/broken", json={"model": "judge-model"})
    assert http.post("/v1/judges/broken/dead-letters/retry").json()["requeued"] == 0  # an old definition's
    assert http.post("/v1/judges/broken/backfill", json={}).json()["queued"] == 1
    assert http.post("/v1/judges/broken/run", json={}).json()["scored"] == 1
    assert len(judge_feedback(http, span)) == 1


def test_the_hourly_budget_and_the_rate_limit_hold(http: httpx.Client, fake_judge: Any, post_spans: Any) -> None:
    http.post("/v1/judges", json={"name": "cheap", **definition(fake_judge, budget_per_hour=2)})
    post_spans(http, [llm_span(f"answer {i}") for i in range(5)])
    ran = http.post("/v1/judges/cheap/run", json={}).json()
    assert ran["scored"] == 2 and len(chat_calls(fake_judge)) == 2
    assert http.get("/v1/judges/cheap").json()["runs"]["pending"] == 3

    http.post("/v1/judges", json={"name": "paced", **definition(fake_judge, rate_per_minute=600)})
    assert http.post("/v1/judges/paced/backfill", json={}).json()["queued"] == 5
    started = time.monotonic()
    paced = http.post("/v1/judges/paced/run", json={}).json()
    assert paced["scored"] == 5, paced
    assert time.monotonic() - started >= 0.4  # five calls at most one per 0.1 s


def test_sampling_is_deterministic(http: httpx.Client, fake_judge: Any, post_spans: Any) -> None:
    http.post("/v1/judges", json={"name": "some", **definition(fake_judge, sample_rate=0.3)})
    spans = post_spans(http, [llm_span(f"answer {i}") for i in range(40)])
    scored = http.post("/v1/judges/some/run", json={}).json()["scored"]
    assert 3 <= scored <= 25
    assert http.post("/v1/judges/some/backfill", json={}).json()["queued"] == 0  # the same sample
    assert sum(1 for s in spans if judge_feedback(http, s)) == scored
