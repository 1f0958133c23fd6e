"""Bad feedback and score-config rules: a 4xx naming the field and the rule, and nothing stored."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

import plaudit

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
GOOD = {"trace_id": TRACE, "span_id": SPAN, "name": "stars", "value": 3}


def _count(http: httpx.Client) -> int:
    return http.get("/v1/feedback", params={"history": "true"}).json()["count"]  # type: ignore[no-any-return]


BAD_BODIES = [
    (b'{"trace_id": "%s", "name": "s", "value": NaN}', 400, "body"),
    (b'{"trace_id": "%s", "name": "s", "value": Infinity}', 400, "body"),
    (b'{"trace_id": "%s", "name": "s", "value": -Infinity}', 400, "body"),
    (b'{"trace_id": "%s", "name": "s", "value": 1e999}', 422, "value"),
    (b'{"trace_id": "%s", "name": "s", "value": {"score": 1}}', 422, "value"),
    (b'{"trace_id": "%s", "name": "s", "value": [1, 2]}', 422, "value"),
    (b'{"trace_id": "%s", "name": "s", "value": 1, "metadata": [1]}', 422, "metadata"),
    (b'{"trace_id": "%s", "name": "s", "value": 1, "source": "robot"}', 422, "source"),
    (b'{"trace_id": "%s", "name": "s", "value": 1, "kind": "boolean"}', 422, "kind"),
    (b'{"trace_id": "%s", "name": "s", "value": 1, "other_trace_id": "%s"}', 422, "value"),
    (b'{"trace_id": "%s", "name": "s", "value": 1, "session_id": "x"}', 422, "session_id"),
    (b'{"trace_id": "%s", "name": "s", "value": 1, "surprise": 1}', 422, "surprise"),
    (b'[{"trace_id": "%s", "name": "s", "value": 1}]', 422, "body"),
    (b'{"trace_id": "%s", "name": "s", "value": 1', 400, "body"),
]


def test_bad_values_are_refused_naming_the_field(collector: Any, http: httpx.Client) -> None:
    for raw, status, field in BAD_BODIES:
        body = raw.replace(b"%s", TRACE.encode())
        response = http.post("/v1/feedback", content=body, headers={"content-type": "application/json"})
        assert response.status_code == status, (raw, response.text)
        error = response.json()["error"]
        assert error["field"] == field, raw
        assert error["message"]
    assert _count(http) == 0


BAD_ITEMS = [
    ({"trace_id": "xyz"}, "trace_id"),
    ({"trace_id": "0" * 32}, "trace_id"),
    ({"trace_id": TRACE + "00"}, "trace_id"),
    ({"span_id": "12345"}, "span_id"),
    ({"span_id": "g" * 16}, "span_id"),
    ({"trace_id": None, "span_id": SPAN}, "trace_id"),
    ({"trace_id": None}, "trace_id"),
    ({"name": ""}, "name"),
    ({"name": "  "}, "name"),
    ({"name": "n" * 201}, "name"),
    ({"value": None}, "value"),
    ({"value": "label" * 100}, "value"),
    ({"value": 2**60}, "value"),
    ({"comment": "c" * (64 * 1024 + 1)}, "comment"),
    ({"correction": "c" * (64 * 1024 + 1)}, "correction"),
    ({"author": "a" * 201}, "author"),
    ({"idempotency_key": ""}, "idempotency_key"),
    ({"metadata": {"blob": "x" * (64 * 1024)}}, "metadata"),
    ({"session_id": "s" * 201, "trace_id": None, "span_id": None}, "session_id"),
]


def test_malformed_items_are_422_and_nothing_is_stored(collector: Any, http: httpx.Client) -> None:
    for item, field in BAD_ITEMS:
        response = http.post("/v1/feedback", json={**GOOD, **item})
        assert response.status_code == 422, (item, response.text)
        assert response.json()["error"]["field"] == field, item
        batch = http.post("/v1/feedback", json={"items": [GOOD, {**GOOD, **item}]})
        assert batch.status_code == 422
        assert batch.json()["error"]["field"] == f"items[1].{field}"
    assert _count(http) == 0


def test_oversized_bodies_are_413(collector: Any, http: httpx.Client) -> None:
    items = [{**GOOD, "comment": "c" * 60_000} for _ in range(20)]  # each item fine, the body > 1 MiB
    response = http.post(
        "/v1/feedback", content=json.dumps({"items": items}), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["field"] == "body"
    too_many = http.post("/v1/feedback", json={"items": [GOOD] * 1001})
    assert too_many.status_code == 422 and too_many.json()["error"]["field"] == "items"
    assert _count(http) == 0


CONFIGS: list[tuple[str, dict[str, Any], list[Any], list[tuple[Any, str]]]] = [
    (
        "stars",
        {"type": "numeric", "min": 1, "max": 5},
        [1, 3.5, 5],
        [(0, "range"), (5.5, "range"), (True, "type"), ("5", "type")],
    ),
    ("latency_ok", {"type": "numeric", "min": 0}, [0, 1e9], [(-1, "range")]),
    ("thumbs", {"type": "boolean"}, [True, False], [(1, "type"), ("yes", "type")]),
    (
        "tone",
        {"type": "categorical", "categories": ["kind", "rude"]},
        ["kind", "rude"],
        [("Kind", "categories"), (1, "type")],
    ),
    ("notes", {"type": "text"}, [], [(1, "type"), ("x", "type")]),
]


def test_strict_score_configs_reject_with_field_and_rule(collector: Any, http: httpx.Client) -> None:
    for name, config, good, bad in CONFIGS:
        _check_strict_config(http, name, config, good, bad)


def _check_strict_config(
    http: httpx.Client, name: str, config: dict[str, Any], good: list[Any], bad: list[tuple[Any, str]]
) -> None:
    put = http.put(f"/v1/score-configs/{name}", json=config)
    assert put.status_code == 200, put.text
    assert put.json()["strict"] is True
    for value in good:
        assert http.post("/v1/feedback", json={**GOOD, "name": name, "value": value}).status_code == 201
    stored = _count(http)
    for value, rule in bad:
        response = http.post("/v1/feedback", json={"items": [{**GOOD, "name": name, "value": value}]})
        assert response.status_code == 422, (value, response.text)
        error = response.json()["error"]
        assert (error["code"], error["field"]) == ("score_config_violation", "items[0].value")
        assert f"rule '{rule}'" in error["message"] and name in error["message"]
    # a comment alone fits every config; a batch with one violation stores none of its items
    assert http.post("/v1/feedback", json={**GOOD, "name": name, "value": None, "comment": "ok"}).status_code == 201
    batch = [{**GOOD, "name": "other", "value": 1}, {**GOOD, "name": name, "value": bad[0][0]}]
    assert http.post("/v1/feedback", json={"items": batch}).status_code == 422
    assert _count(http) == stored + 1


def test_non_strict_configs_document_without_rejecting_and_configs_can_change(
    collector: Any, http: httpx.Client
) -> None:
    assert (
        http.put("/v1/score-configs/stars", json={"type": "numeric", "min": 1, "max": 5, "strict": False}).status_code
        == 200
    )
    assert http.post("/v1/feedback", json={**GOOD, "value": 9}).status_code == 201
    http.put("/v1/score-configs/stars", json={"type": "numeric", "min": 1, "max": 10, "description": "1-10"})
    assert http.post("/v1/feedback", json={**GOOD, "value": 9}).status_code == 201
    assert http.post("/v1/feedback", json={**GOOD, "value": 11}).status_code == 422
    listed = http.get("/v1/score-configs").json()
    assert [(c["name"], c["max"], c["description"]) for c in listed["data"]] == [("stars", 10, "1-10")]
    assert http.get("/v1/score-configs/stars").json()["strict"] is True
    assert http.delete("/v1/score-configs/stars").status_code == 204
    assert http.get("/v1/score-configs/stars").status_code == 404
    assert http.post("/v1/feedback", json={**GOOD, "value": 11}).status_code == 201


BAD_CONFIGS = [
    ({"type": "stars"}, "type"),
    ({"type": "numeric", "min": 5, "max": 1}, "max"),
    ({"type": "numeric", "min": "1"}, "min"),
    ({"type": "boolean", "min": 0}, "min"),
    ({"type": "categorical"}, "categories"),
    ({"type": "categorical", "categories": []}, "categories"),
    ({"type": "categorical", "categories": ["a", "a"]}, "categories"),
    ({"type": "categorical", "categories": ["a", 1]}, "categories[1]"),
    ({"type": "numeric", "categories": ["a"]}, "categories"),
    ({"type": "numeric", "strict": "yes"}, "strict"),
    ({"type": "numeric", "colour": "red"}, "colour"),
]


def test_bad_score_configs_are_422(collector: Any, http: httpx.Client) -> None:
    for config, field in BAD_CONFIGS:
        response = http.put("/v1/score-configs/s", json=config)
        assert response.status_code == 422, (config, response.text)
        assert response.json()["error"]["field"] == field, config
    blank = http.put("/v1/score-configs/%20", json={"type": "numeric"})
    assert (blank.status_code, blank.json()["error"]["field"]) == (422, "name")
    assert http.put(f"/v1/score-configs/{'n' * 201}", json={"type": "numeric"}).status_code == 422
    not_json = http.put("/v1/score-configs/s", content=b"{not json", headers={"content-type": "application/json"})
    assert not_json.status_code == 400
    assert http.delete("/v1/score-configs/never-declared").status_code == 404
    assert http.get("/v1/score-configs").json()["count"] == 0


def test_sdk_declares_a_config_and_the_collector_enforces_it(sdk: Any, http: httpx.Client) -> None:
    config = plaudit.score_config("stars", "numeric", min=1, max=5, description="answer quality")
    assert config is not None and (config["min"], config["max"]) == (1, 5)
    ref = plaudit.SpanRef(TRACE, SPAN)
    assert plaudit.feedback(ref, "stars", 4, wait=True) is not None
    plaudit.feedback(ref, "stars", 6)  # queued: refused for good by the collector, logged, not retried
    plaudit.feedback(ref, "stars", 2)
    assert plaudit.flush() is False  # the refused one is lost, and flush says so
    assert sorted(f["value"] for f in http.get("/v1/feedback").json()["data"]) == [2, 4]
    with pytest.raises(ValueError):
        plaudit.score_config("stars", "stars")
