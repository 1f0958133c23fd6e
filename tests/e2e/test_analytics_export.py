"""Streaming JSONL exports over real HTTP: spans with feedback, a fine-tuning set, preference pairs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from analytics_seed import Seeder

import plaudit


def _lines(http: httpx.Client, path: str, **params: Any) -> list[dict[str, Any]]:
    with http.stream("GET", path, params=params) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("application/x-ndjson")
        return [json.loads(line) for line in response.iter_lines() if line]


def _seed(http: httpx.Client) -> dict[str, tuple[str, str]]:
    seed = Seeder(http)
    refs = {
        "good": seed.span(plaudit__input="What is 2+2?", plaudit__output="4", plaudit__variant="a"),
        "bad": seed.span(plaudit__input="What is 2+2?", plaudit__output="5", plaudit__variant="b"),
        "fixed": seed.span(plaudit__input="Capital of France?", plaudit__output="Lyon", plaudit__variant="b"),
        "unrated": seed.span(plaudit__input="Hi", plaudit__output="Hello", plaudit__variant="a"),
    }
    seed.rate(refs["good"], "stars", 5, author="ann")
    seed.rate(refs["good"], "stars", 4, author="bob")
    seed.rate(refs["bad"], "stars", 1, author="ann")
    seed.rate(refs["fixed"], "stars", 2, author="ann", comment="wrong city")
    seed.rate(refs["fixed"], "edit", None, correction="Paris", author="ann")
    seed.prefer(refs["good"], refs["bad"], "a", name="pick")
    seed.prefer(refs["fixed"], refs["unrated"], "tie", name="pick")
    seed.send()
    return refs


def test_spans_export_carries_each_span_with_its_feedback(http: httpx.Client) -> None:
    refs = _seed(http)
    rows = _lines(http, "/v1/export/spans")
    by_id = {r["span_id"]: r for r in rows}
    assert set(by_id) == {refs["good"][1], refs["bad"][1], refs["fixed"][1]}
    good = by_id[refs["good"][1]]
    assert good["input"] == "What is 2+2?" and good["output"] == "4" and good["variant"] == "a"
    assert sorted((f["name"], f["author"]) for f in good["feedback"]) == [
        ("pick", None),
        ("stars", "ann"),
        ("stars", "bob"),
    ]
    assert next(f for f in good["feedback"] if f["name"] == "pick")["other_span_id"] == refs["bad"][1]
    only_stars = _lines(http, "/v1/export/spans", score="stars", source="human")
    assert len(only_stars) == 3 and all(f["name"] == "stars" for r in only_stars for f in r["feedback"])


def test_finetune_export_uses_corrections_and_filters_by_score(
    collector: Any, http: httpx.Client, tmp_path: Path
) -> None:
    refs = _seed(http)
    rows = _lines(http, "/v1/export/finetune", score="stars", min_score=4)
    assert [r["metadata"]["span_id"] for r in rows] == [refs["good"][1], refs["fixed"][1]]
    good, fixed = rows
    assert good["messages"] == [{"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": "4"}]
    assert good["metadata"]["score"] == 4.5 and good["metadata"]["raters"] == 2
    assert fixed["messages"][-1] == {"role": "assistant", "content": "Paris"}
    assert fixed["metadata"]["corrected"] is True
    plain = _lines(http, "/v1/export/finetune", score="stars", min_score=4, corrections="false", format="plain")
    assert [(r["input"], r["output"]) for r in plain] == [("What is 2+2?", "4")]
    with plaudit.Client(collector.url) as client:
        plain_rows = list(client.export("finetune", score="stars", min_score=4, format="plain"))
    assert [r["output"] for r in plain_rows] == ["4", "Paris"]
    target = tmp_path / "train.jsonl"
    args = [
        "export",
        "finetune",
        "--score",
        "stars",
        "--min-score",
        "4",
        "-o",
        str(target),
        "--endpoint",
        collector.url,
    ]
    command = [sys.executable, "-m", "plaudit_collector.cli", *args]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["messages"][-1]["content"] for line in target.read_text().splitlines()] == ["4", "Paris"]


def test_preference_pairs_from_pairwise_votes_and_from_ratings(collector: Any, http: httpx.Client) -> None:
    _seed(http)
    pairs = _lines(http, "/v1/export/preferences", preference="pick")
    assert [(p["prompt"], p["chosen"], p["rejected"], p["origin"]) for p in pairs] == [
        ("What is 2+2?", "4", "5", "preference")  # the tie is not a pair
    ]
    rated = _lines(http, "/v1/export/preferences", score="stars", min_margin=1)
    assert [(p["chosen"], p["rejected"], p["margin"]) for p in rated] == [("4", "5", 3.5)]
    assert _lines(http, "/v1/export/preferences", score="stars", min_margin=4) == []
    missing = http.get("/v1/export/preferences")
    assert missing.status_code == 422 and missing.json()["error"]["field"] == "preference"
    with plaudit.Client(collector.url) as client:
        both = list(client.export("preferences", preference="pick", score="stars"))
    assert [p["origin"] for p in both] == ["preference", "ratings"]
