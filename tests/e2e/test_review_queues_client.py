"""Review queues through ``plaudit.Client`` and ``plaudit queues …`` against a real collector (SQLite and
PostgreSQL): the same queue, the same reservations, the same progress as over REST."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

import httpx
import pytest
from tests.e2e.test_review_queues import _seed

import plaudit


def _cli(collector: Any, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "plaudit_collector.cli", "queues", *args, "--endpoint", collector.url]
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)


def test_client_works_a_queue(http: httpx.Client, collector: Any) -> None:
    _seed(http, n=4)
    with plaudit.Client(collector.url) as client:
        queue = client.create_queue(
            "weekly", ["thumbs"], filter={"where": {"variant": "v2"}}, overlap=1, order="oldest"
        )
        assert queue.items == 2 and [q.id for q in client.queues()] == [queue.id]
        seen = []
        while (item := client.next_item(queue.id, "ann")) is not None:
            assert item.span["variant"] == "v2"  # type: ignore[attr-defined]
            result = client.submit_item(queue.id, item.id, "ann", {"thumbs": len(seen) == 0}, comment="ok")
            assert result["state"] == "done" and len(result["feedback_ids"]) == 1
            seen.append(item.id)
        assert len(seen) == 2 and client.queue(queue.id).progress["percent"] == 100.0
        with pytest.raises(ValueError, match="filter.modle"):
            client.create_queue("bad", ["thumbs"], filter={"modle": "x"})
        client.delete_queue(queue.id)
        assert client.queues() == []


def test_cli_creates_shows_and_reviews(http: httpx.Client, collector: Any) -> None:
    _seed(http, n=4)
    made = _cli(collector, "create", "cli queue", "--score", "thumbs", "--filter", "span_kind=llm", "--sample", "2")
    assert made.returncode == 0, made.stderr + made.stdout
    assert re.search(r"cli queue\s+single\s+2\s", made.stdout), made.stdout  # the items column
    queue_id = http.get("/v1/queues").json()["queues"][0]["id"]
    nxt = _cli(collector, "next", str(queue_id), "--reviewer", "cli-user")
    assert nxt.returncode == 0, nxt.stderr
    item = json.loads(nxt.stdout)
    done = _cli(collector, "submit", str(queue_id), str(item["id"]), "--reviewer", "cli-user", "--rating", "thumbs=yes")
    assert done.returncode == 0 and "done" in done.stdout, done.stderr + done.stdout
    skipped = _cli(collector, "submit", str(queue_id), str(item["id"] + 1), "--reviewer", "cli-user", "--skip")
    assert skipped.returncode == 0 and "skipped" in skipped.stdout
    assert _cli(collector, "next", str(queue_id), "--reviewer", "cli-user").returncode == 3
    shown = _cli(collector, "show", str(queue_id))
    assert re.search(r"^cli-user\s+1\s+1\s+0$", shown.stdout, re.M), shown.stdout  # done, skipped, held
    listed = _cli(collector, "list")
    assert "cli queue" in listed.stdout
    bad = _cli(collector, "submit", str(queue_id), str(item["id"]), "--reviewer", "x", "--rating", "nothing")
    assert bad.returncode == 2 and "name=value" in bad.stderr
    stored = http.get("/v1/feedback", params={"author": "cli-user"}).json()["data"]
    assert [(f["name"], f["value"], f["source"]) for f in stored] == [("thumbs", True, "annotator")]
