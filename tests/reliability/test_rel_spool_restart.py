"""App restart: spans spilled to ``PLAUDIT_SPOOL_DIR`` by one process are delivered by the next."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from rel_helpers import CollectorProcess, code_env, sqlite_count, wait_until


def test_spans_spilled_by_one_app_process_are_replayed_by_the_next(tmp_path: Path) -> None:
    """The app exits during an outage with ``PLAUDIT_SPOOL_DIR`` set; its next run delivers the spans."""
    spool = tmp_path / "spool"
    db_url = f"sqlite:///{tmp_path / 'plaudit.db'}"
    collector = CollectorProcess(db_url, tmp_path)  # not started yet: the collector is down
    app = (
        "import plaudit, sys\n"
        "plaudit.configure(service_name='spool-app')\n"
        "for i in range(int(sys.argv[1])):\n"
        "    with plaudit.span(f'job-{i}'):\n"
        "        pass\n"
    )
    env = {**code_env(), "PLAUDIT_ENDPOINT": collector.url, "PLAUDIT_SPOOL_DIR": str(spool)}
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", app, "3000"], env=env, check=True, timeout=60)
    assert time.monotonic() - started < 30, "exit with the collector down must not hang"
    assert sum(int(p.name.split(".")[0].rsplit("-", 1)[1]) for p in (spool / "spans").glob("*.otlp")) == 3000
    collector.start()
    try:
        subprocess.run([sys.executable, "-c", app, "0"], env=env, check=True, timeout=60)
        assert wait_until(lambda: sqlite_count(db_url, "SELECT COUNT(*) FROM spans") >= 3000, 20)
        assert sqlite_count(db_url, "SELECT COUNT(DISTINCT span_id) FROM spans") == 3000
        assert sqlite_count(db_url, "SELECT COUNT(*) FROM spans") == 3000
        assert not list((spool / "spans").glob("*.otlp")), "the spool is emptied once delivered"
    finally:
        collector.stop()


RATE_APP = """
import sys
import plaudit
plaudit.configure(service_name='rating-app')
if sys.argv[1] == "rate":
    with plaudit.span("answer") as span:
        pass
    plaudit.feedback(span.ref, "thumbs", True, author="u-1")
"""


def test_spooled_ratings_are_sent_by_the_next_process_even_if_it_rates_nothing(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    db_url = f"sqlite:///{tmp_path / 'plaudit.db'}"
    collector = CollectorProcess(db_url, tmp_path)  # down while the first process rates
    env = {**code_env(), "PLAUDIT_ENDPOINT": collector.url, "PLAUDIT_SPOOL_DIR": str(spool)}
    subprocess.run([sys.executable, "-c", RATE_APP, "rate"], env=env, check=True, timeout=60)
    assert len(list((spool / "feedback").glob("*.jsonl"))) == 1
    collector.start()
    try:
        subprocess.run([sys.executable, "-c", RATE_APP, "nothing"], env=env, check=True, timeout=60)
        assert wait_until(lambda: sqlite_count(db_url, "SELECT COUNT(*) FROM feedback") == 1, 20)
        assert not list((spool / "feedback").glob("*.jsonl")), "sent, so no longer waiting"
    finally:
        collector.stop()


def test_unreadable_spool_files_are_set_aside_once_and_do_not_stop_replay(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Corrupt files and a directory where a file should be are quarantined; the good files behind them go.
    Each kind of spool says so once, naming the file and what to do; a span file's spans count as dropped."""
    import logging

    from rel_helpers import db_count

    import plaudit
    from plaudit._internal.config import Settings
    from plaudit._internal.exporters.durable import DurableSpanExporter
    from plaudit._internal.exporters.otlp import build_span_exporter
    from plaudit._internal.feedback.client import FeedbackClient
    from plaudit._internal.feedback.items import build_item
    from plaudit._internal.feedback.spool import write
    from plaudit_collector.server import BackgroundServer
    from plaudit_collector.settings import CollectorSettings

    spool = tmp_path / "spool"
    spans_dir, feedback_dir = spool / "spans", spool / "feedback"
    spans_dir.mkdir(parents=True)
    (spans_dir / "00000000000000000001-1-00000000-5.otlp").write_bytes(b"\xff\xfenot protobuf at all")
    (spans_dir / "00000000000000000002-1-00000001-3.otlp").mkdir()
    ref = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    good = build_item(ref, "thumbs", True, author="u-1")
    assert write(feedback_dir, [good]) == []
    (feedback_dir / "00000000000000000000-1-aaaa.jsonl").write_text('{"name": "thumbs", broken\n')
    (feedback_dir / "00000000000000000001-1-bbbb.jsonl").write_text("NaN\n")
    (feedback_dir / "00000000000000000002-1-cccc.jsonl").mkdir()
    (feedback_dir / "00000000000000000003-1-dddd.jsonl.claimed-999999999").write_text("")  # a dead owner's claim

    db_url = f"sqlite:///{tmp_path / 'c.db'}"
    dropped = plaudit.stats()["spans"]["dropped"]
    caplog.set_level(logging.WARNING, logger="plaudit")
    with BackgroundServer(CollectorSettings(db_url=db_url)) as server:
        exporter = build_span_exporter(Settings(endpoint=server.url, spool_dir=str(spool)))
        assert isinstance(exporter, DurableSpanExporter)
        client = FeedbackClient(server.url, spool_dir=spool, exit_hook=False)
        try:
            assert exporter.force_flush(10_000), "replay went past the unreadable files"
            assert client.flush(10)
            assert wait_until(lambda: db_count(db_url, "SELECT COUNT(*) FROM feedback") == 1, 10)
        finally:
            exporter.shutdown(2_000)
            client.shutdown(2)
            server.app.state.db.dispose()
    assert sorted(p.name for p in spans_dir.iterdir()) == [
        "00000000000000000001-1-00000000-5.otlp.corrupt",
        "00000000000000000002-1-00000001-3.otlp.corrupt",
    ]
    left = sorted(p.name for p in feedback_dir.iterdir())
    assert left == [
        "00000000000000000000-1-aaaa.jsonl.corrupt",
        "00000000000000000001-1-bbbb.jsonl.corrupt",
        "00000000000000000002-1-cccc.jsonl.corrupt",
    ], "quarantined once, nothing left claimed, the good file and the empty claim consumed"
    said = [r.getMessage() for r in caplog.records if r.name == "plaudit" and "unreadable" in r.getMessage()]
    assert len(said) == 2, said  # once for the span spool, once for the feedback spool, not once per file
    assert all("look at it or delete it" in line and ".corrupt" in line for line in said), said
    assert plaudit.stats()["spans"]["dropped"] - dropped == 5 + 3  # the counts in the two span files' names


def test_the_sdk_never_writes_a_spool_line_it_cannot_read_back(tmp_path: Path) -> None:
    import json

    from plaudit._internal.feedback.spool import write

    item = {"name": "thumbs", "value": 1.0}
    unfit = write(tmp_path, [item, {"name": "thumbs", "value": float("nan")}, {"name": "x", "value": object()}])
    assert len(unfit) == 2
    (path,) = tmp_path.glob("*.jsonl")
    assert [json.loads(line) for line in path.read_text().splitlines()] == [item]


def test_a_feedback_spool_claim_that_vanished_is_skipped_without_a_notice(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Another process took the claimed file away before it was read: nothing to read and nothing to set aside,
    so no quarantine and no "unreadable" notice naming a file that is not there."""
    import logging

    from plaudit._internal.feedback.items import build_item
    from plaudit._internal.feedback.spool import claim, read, write

    ref = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    assert write(tmp_path, [build_item(ref, "thumbs", True, author="u-1")]) == []
    (path,) = tmp_path.glob("*.jsonl")
    claimed = claim(path)
    assert claimed is not None
    claimed.unlink()
    caplog.set_level(logging.WARNING, logger="plaudit")
    assert read(claimed) is None
    assert list(tmp_path.iterdir()) == []
    assert not [r for r in caplog.records if "unreadable" in r.getMessage()]
