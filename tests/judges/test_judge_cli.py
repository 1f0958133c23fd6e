"""``plaudit judges ...`` and the ``plaudit.Client`` judge methods, against a real collector and the fake
provider; ``plaudit judges worker`` as its own process, stopped with SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from judge_helpers import KEY_ENV, definition, expected_score, judge_feedback, llm_span

import plaudit

PLAUDIT = [str(Path(sys.executable).parent / "plaudit")]


def test_the_cli_and_the_client_define_run_and_report(
    collector: Any, http: httpx.Client, fake_judge: Any, post_spans: Any, tmp_path: Path
) -> None:
    env = {**os.environ, "PLAUDIT_ENDPOINT": collector.url, "COLUMNS": "200"}
    rubric = tmp_path / "rubric.txt"
    rubric.write_text("Question: {{input}}\nANSWER<<{{output}}>>")
    added = subprocess.run(
        [*PLAUDIT, "judges", "add", "helpful", "--score", "helpfulness", "--model", "judge-model",
         "--prompt-file", str(rubric), "--base-url", fake_judge.openai_url, "--api-key-env", KEY_ENV,
         "--span-kind", "llm"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert added.returncode == 0, added.stdout + added.stderr
    assert "helpful@" in added.stdout
    listed = subprocess.run([*PLAUDIT, "judges", "list"], env=env, capture_output=True, text=True, timeout=60)
    assert "helpful" in listed.stdout and "judge-model" in listed.stdout
    spans = post_spans(http, [llm_span("one"), llm_span("three")])
    ran = subprocess.run(
        [*PLAUDIT, "judges", "run", "helpful", "--format", "json"], env=env, capture_output=True, text=True, timeout=60
    )
    assert '"scored": 2' in ran.stdout, ran.stdout + ran.stderr
    for span in spans:
        http.post("/v1/feedback", json={"trace_id": span["traceId"], "span_id": span["spanId"], "name": "helpfulness",
                                        "value": 4, "author": "ann"})  # fmt: skip
    report = subprocess.run(
        [*PLAUDIT, "judges", "report", "--score", "helpfulness"], env=env, capture_output=True, text=True, timeout=60
    )
    assert report.returncode == 0 and "helpful@" in report.stdout, report.stdout + report.stderr
    bad = subprocess.run([*PLAUDIT, "judges", "run", "nobody"], env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "no judge named" in bad.stderr

    with plaudit.Client(collector.url) as client:
        assert [j["name"] for j in client.judges()] == ["helpful"]
        assert client.update_judge("helpful", sample_rate=0.5)["sample_rate"] == 0.5
        found = client.judge_report("helpfulness", bootstrap=0)
        (judge,) = found["judges"]
        assert judge["n"] == 2 and judge["judge_mean"] == (expected_score("one") + expected_score("three")) / 2
        # the shared filters work here too: only human feedback leaves no judge; naming both authors keeps all
        assert client.judge_report("helpfulness", bootstrap=0, source=["human"])["judges"] == []
        both = client.judge_report("helpfulness", bootstrap=0, author=["ann", judge["judge"]])
        assert [j["n"] for j in both["judges"]] == [2]
        assert client.alpha("helpfulness", bootstrap=0)["rater_count"] == 2
        (disputed,) = client.disagreements("helpfulness")["items"]  # "one" got a 4 from both: no disagreement
        assert disputed["span_id"] == spans[1]["spanId"] and disputed["disagreement"] == abs(
            expected_score("three") - 4
        )
        board = client.leaderboard("helpfulness", estimator="ppi", min_count=1)
        assert board.rows[0].model_dump()["method"] == "ppi++"
        assert client.backfill_judge("helpful")["queued"] == 0
        client.delete_judge("helpful")
        assert client.judges() == []


def test_the_worker_process_rates_new_spans_and_stops_on_sigterm(
    sqlite_url: str, fake_judge: Any, post_spans: Any
) -> None:
    from plaudit_collector.server import BackgroundServer
    from plaudit_collector.settings import CollectorSettings

    server = BackgroundServer(CollectorSettings(db_url=sqlite_url)).start()
    worker = None
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            assert client.post("/v1/judges", json={"name": "helpful", **definition(fake_judge)}).status_code == 201
            worker = subprocess.Popen(
                [*PLAUDIT, "judges", "worker", "--db", sqlite_url, "--poll", "0.1"],
                env={**os.environ, KEY_ENV: "test-key"},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            spans = post_spans(client, [llm_span("from the worker")])
            deadline = time.monotonic() + 30
            while not judge_feedback(client, spans[0]) and time.monotonic() < deadline:
                time.sleep(0.1)
            (rating,) = judge_feedback(client, spans[0])
            assert rating["value"] == expected_score("from the worker")
            worker.send_signal(signal.SIGTERM)
            started = time.monotonic()
            assert worker.wait(timeout=10) == 0
            assert time.monotonic() - started < 5  # README: the worker exits within 5 s of SIGTERM
    finally:
        if worker is not None and worker.poll() is None:
            worker.kill()
        server.stop()
        server.app.state.db.dispose()
