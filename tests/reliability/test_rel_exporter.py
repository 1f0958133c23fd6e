"""The durable span exporter: bounded backlog, disk spool, drop-oldest accounting, bounded shutdown.

These run OpenTelemetry's real OTLP/HTTP exporter against a real collector (or a closed port) in-process.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from opentelemetry import context as context_api
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanContext, Status, StatusCode, TraceFlags
from rel_helpers import sqlite_count, wait_until

from plaudit._internal.config import Settings
from plaudit._internal.exporters.durable import DurableSpanExporter, span_export_stats
from plaudit._internal.exporters.otlp import build_span_exporter
from plaudit._internal.exporters.spool import decode_batch, encode_batch
from plaudit._internal.threads import SUPPRESS_KEY
from plaudit_collector.server import BackgroundServer, free_port
from plaudit_collector.settings import CollectorSettings


def make_spans(count: int, prefix: str = "s") -> list[ReadableSpan]:
    """Real finished spans from a real TracerProvider."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "rel"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("rel-tests", "1.0")
    for index in range(count):
        with tracer.start_as_current_span(f"{prefix}{index}", attributes={"i": index}):
            pass
    provider.shutdown()
    return list(memory.get_finished_spans())


def names_stored(db_url: str) -> int:
    return sqlite_count(db_url, "SELECT COUNT(*) FROM spans")


@pytest.fixture
def sqlite_collector(tmp_path: Path) -> Iterator[BackgroundServer]:
    server = BackgroundServer(CollectorSettings(db_url=f"sqlite:///{tmp_path / 'c.db'}")).start()
    try:
        yield server
    finally:
        server.stop()
        server.app.state.db.dispose()


def otlp_to(port: int, timeout: float = 0.5) -> OTLPSpanExporter:
    return OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces", timeout=timeout)


class FlakyExporter(SpanExporter):
    """Stands in for the network: fails until told otherwise, records what reached it and how."""

    def __init__(self) -> None:
        self.up = False
        self.received: list[str] = []
        self.suppressed: list[object] = []
        self.lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self.lock:
            self.suppressed.append(context_api.get_value(SUPPRESS_KEY))
            if not self.up:
                return SpanExportResult.FAILURE
            self.received.extend(span.name for span in spans)
            return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


def test_spool_files_round_trip_through_otlp_protobuf() -> None:
    """A spooled batch decodes back to spans that encode to the very same OTLP request."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "rel", "deployment": "test"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("rel-tests", "2.0", schema_url="https://example.com/schema")
    other = SpanContext(0x1234, 0x99, is_remote=True, trace_flags=TraceFlags(1))
    with tracer.start_as_current_span("root", attributes={"s": "x", "b": True, "f": 0.5, "l": [1, 2, 3]}) as root:
        root.add_event("evt", {"k": "v"})
        with tracer.start_as_current_span("child", links=[Link(other, {"why": "retry"})]) as child:
            child.set_status(Status(StatusCode.ERROR, "boom"))
    provider.shutdown()
    spans = list(memory.get_finished_spans())
    data = encode_batch(spans)
    assert encode_batch(decode_batch(data)) == data


def test_outage_keeps_batches_in_memory_and_replays_them_in_order() -> None:
    flaky = FlakyExporter()
    exporter = DurableSpanExporter(flaky, max_buffer_spans=10_000, min_backoff=0.05, max_backoff=0.1)
    try:
        for round_ in range(5):
            assert exporter.export(make_spans(10, prefix=f"r{round_}-")) is SpanExportResult.SUCCESS  # handed over
        assert wait_until(lambda: flaky.suppressed, 5), "the sender tried"
        assert exporter.pending_spans() == 50
        assert exporter.force_flush(200) is False, "still down: flush says so in time"
        flaky.up = True
        assert exporter.force_flush(5_000)
        assert flaky.received == [f"r{r}-{i}" for r in range(5) for i in range(10)]
        assert exporter.export(make_spans(3, prefix="live")) is SpanExportResult.SUCCESS
        assert exporter.force_flush(5_000) and flaky.received[-3:] == ["live0", "live1", "live2"]
        # Every attempt ran with instrumentation suppressed, so an HTTP instrumentation never traces our export.
        assert flaky.suppressed and all(flag is True for flag in flaky.suppressed)
    finally:
        exporter.shutdown()


def test_memory_bound_drops_oldest_counts_and_warns(caplog: pytest.LogCaptureFixture) -> None:
    flaky = FlakyExporter()
    exporter = DurableSpanExporter(flaky, max_buffer_spans=25, min_backoff=5, max_backoff=5)
    before = span_export_stats()["dropped"]
    try:
        with caplog.at_level(logging.WARNING, logger="plaudit"):
            for round_ in range(5):
                exporter.export(make_spans(10, prefix=f"r{round_}-"))
        assert span_export_stats()["dropped"] - before == 30
        assert exporter.pending_spans() == 20
        warnings = [r for r in caplog.records if "dropped" in r.getMessage()]
        assert len(warnings) == 1, "the drop warning is rate-limited"
        flaky.up = True
        assert exporter.force_flush(5_000)
        assert flaky.received == [f"r{r}-{i}" for r in (3, 4) for i in range(10)], "the newest spans survive"
    finally:
        exporter.shutdown()


def test_disk_spool_bound_drops_oldest_files(tmp_path: Path) -> None:
    flaky = FlakyExporter()
    one_batch = len(encode_batch(make_spans(10)))
    exporter = DurableSpanExporter(
        flaky, max_buffer_spans=10, spool_dir=tmp_path, max_spool_bytes=int(one_batch * 3.5), min_backoff=5
    )
    before = span_export_stats()["dropped"]
    try:
        for round_ in range(6):
            exporter.export(make_spans(10, prefix=f"r{round_}-"))
        spool = tmp_path / "spans"
        assert wait_until(lambda: span_export_stats()["dropped"] - before == 30, 5)
        assert len(list(spool.glob("*.otlp"))) + len(list(spool.glob("*.sending"))) == 3
        flaky.up = True
        assert exporter.force_flush(5_000)
        assert flaky.received == [f"r{r}-{i}" for r in (3, 4, 5) for i in range(10)]
        assert not list((tmp_path / "spans").iterdir())
    finally:
        exporter.shutdown()


class StalledExporter(FlakyExporter):
    """Down at first; once ``stall`` is set, a send hangs (a network that stopped answering) until released."""

    def __init__(self) -> None:
        super().__init__()
        self.stall = threading.Event()
        self.stalled = threading.Event()
        self.release = threading.Event()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self.stall.is_set():
            self.stalled.set()
            self.release.wait(10)
        return super().export(spans)


def test_a_spool_file_in_flight_at_shutdown_is_given_back_under_its_own_name(tmp_path: Path) -> None:
    """Exit while the sender thread is stuck sending a spool file: the file is back under its name, all spans in it."""
    stalled = StalledExporter()
    exporter = DurableSpanExporter(stalled, max_buffer_spans=10, spool_dir=tmp_path, min_backoff=0.05)
    try:
        exporter.export(make_spans(10, prefix="a-"))
        assert wait_until(lambda: any((tmp_path / "spans").glob("*-10.otlp*")), 5), "the outage spilled it to disk"
        exporter.export(make_spans(7, prefix="b-"))
        stalled.stall.set()
        assert stalled.stalled.wait(5), "the sender retried and is now stuck in a send"
        exporter.shutdown(200)
        files = sorted((tmp_path / "spans").iterdir())
        assert [f.suffix for f in files] == [".otlp", ".otlp"], [f.name for f in files]
        assert sorted(int(f.stem.rsplit("-", 1)[1]) for f in files) == [7, 10]
    finally:
        stalled.release.set()


def test_a_closed_disk_spool_claims_nothing_more(tmp_path: Path) -> None:
    from plaudit._internal.exporters.spool import DiskBacklog

    spool = DiskBacklog(tmp_path, 10**9)
    spool.add(make_spans(3))
    spool.add(make_spans(4))
    held = spool.peek()
    assert held is not None and held.path is not None and held.path.name.endswith(".sending")
    spool.close()
    assert spool.peek() is None, "after close, a sender thread still running cannot take a file away"
    assert sorted(f.suffix for f in (tmp_path / "spans").iterdir()) == [".otlp", ".otlp"]
    assert spool.pending_spans() == 7


def test_a_file_given_back_while_being_read_is_not_set_aside_as_corrupt(tmp_path: Path) -> None:
    """The sender reads a claimed file just as exit gives it back: the read fails, but the file is good, so the
    spool refuses to set it aside (the sender then counts nothing as dropped) and it stays in line under its
    own name for the next start."""
    from plaudit._internal.exporters.spool import DiskBacklog

    spool = DiskBacklog(tmp_path, 10**9)
    spool.add(make_spans(5))
    held = spool.peek()
    assert held is not None and held.path is not None
    claimed = held.path
    spool.close()  # exit: the claim goes back under the file's own name
    with pytest.raises(FileNotFoundError):
        claimed.read_bytes()  # what the sender thread's read of its claim meets
    assert spool.quarantine(held) is None, "given back, so not set aside"
    assert [f.name.endswith("-5.otlp") for f in (tmp_path / "spans").iterdir()] == [True]
    assert spool.pending_spans() == 5


def test_a_file_given_back_while_partly_delivered_stays_whole(tmp_path: Path) -> None:
    """Exit gives back a file whose first half the sender has just delivered: the file stays whole under its
    name (sending the delivered half again is harmless), never rewritten and then deleted."""
    from plaudit._internal.exporters.spool import DiskBacklog, decode_batch

    spool = DiskBacklog(tmp_path, 10**9)
    spool.add(make_spans(6))
    held = spool.peek()
    assert held is not None
    spans = held.load()
    spool.close()
    spool.replace(held, spans[3:])
    (left,) = (tmp_path / "spans").iterdir()
    assert left.name.endswith("-6.otlp")
    assert len(decode_batch(left.read_bytes())) == 6
    spool.replace(held, spans)  # nothing delivered after all: the file keeps its name, so once it was deleted
    (left,) = (tmp_path / "spans").iterdir()
    assert len(decode_batch(left.read_bytes())) == 6


def test_a_partly_delivered_file_keeps_the_rest_in_its_place(tmp_path: Path) -> None:
    from plaudit._internal.exporters.spool import DiskBacklog, decode_batch

    spool = DiskBacklog(tmp_path, 10**9)
    spool.add(make_spans(6))
    first = sorted((tmp_path / "spans").iterdir())[0].name
    held = spool.peek()
    assert held is not None
    spool.replace(held, held.load()[3:])
    (left,) = (tmp_path / "spans").iterdir()
    assert left.name == first.rsplit("-", 1)[0] + "-3.otlp"
    assert len(decode_batch(left.read_bytes())) == 3
    spool.close()


def test_an_unreadable_claimed_file_is_set_aside_once(tmp_path: Path) -> None:
    from plaudit._internal.exporters.spool import DiskBacklog

    spool = DiskBacklog(tmp_path, 10**9)
    (tmp_path / "spans" / "00000000000000000001-1-00000000-4.otlp").write_bytes(b"not protobuf")
    held = spool.peek()
    assert held is not None
    where = spool.quarantine(held)
    assert where is not None and where.name == "00000000000000000001-1-00000000-4.otlp.corrupt" and where.exists()
    assert spool.quarantine(held) is None, "settled: a second call does nothing"
    spool.close()
    assert [f.name for f in (tmp_path / "spans").iterdir()] == [where.name]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_leaves_the_parents_claimed_spool_file_alone(tmp_path: Path) -> None:
    """The parent is sending a file when the app forks: the child's exit gives back nothing it did not claim,
    and the child's spool works (its lock is its own)."""
    from plaudit._internal.exporters.spool import DiskBacklog

    spool = DiskBacklog(tmp_path, 10**9)
    spool.add(make_spans(3))
    held = spool.peek()
    assert held is not None and held.path is not None
    pid = os.fork()
    if pid == 0:  # the child
        try:
            spool.add(make_spans(2))
            spool.close()
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert held.path.exists(), "still claimed by the parent, under its name"
    assert sorted(int(f.name.split(".")[0].rsplit("-", 1)[1]) for f in (tmp_path / "spans").glob("*.otlp")) == [2]
    spool.close()
    assert sorted(f.suffix for f in (tmp_path / "spans").iterdir()) == [".otlp", ".otlp"]


def test_collector_back_after_outage_gets_every_span_once(tmp_path: Path) -> None:
    """Real OTLP exporter, real collector that comes up late on the port the app was given."""
    port = free_port()
    exporter = DurableSpanExporter(otlp_to(port), max_buffer_spans=10_000, min_backoff=0.1, max_backoff=0.5)
    db_url = f"sqlite:///{tmp_path / 'late.db'}"
    try:
        for round_ in range(4):
            exporter.export(make_spans(250, prefix=f"r{round_}-"))
        assert exporter.pending_spans() == 1000
        with BackgroundServer(CollectorSettings(db_url=db_url), port=port) as server:
            assert exporter.force_flush(20_000)
            assert names_stored(db_url) == 1000
            assert sqlite_count(db_url, "SELECT COUNT(DISTINCT span_id) FROM spans") == 1000
            server.app.state.db.dispose()
    finally:
        exporter.shutdown()


def test_invalid_batch_is_not_retried_forever(sqlite_collector: BackgroundServer, tmp_path: Path) -> None:
    """A batch the collector refuses (400: all-zero ids) is counted as rejected and does not hold back the rest."""
    settings = Settings(endpoint=sqlite_collector.url, spool_dir=str(tmp_path))
    exporter = build_span_exporter(settings)
    assert isinstance(exporter, DurableSpanExporter)
    bad = ReadableSpan("bad", context=SpanContext(0, 0, is_remote=False), resource=Resource.create({}))
    before = span_export_stats()["rejected"]
    try:
        exporter.export([bad])
        assert exporter.export(make_spans(5)) is SpanExportResult.SUCCESS
        assert exporter.force_flush(10_000)
        assert span_export_stats()["rejected"] - before == 1
        assert exporter.pending_spans() == 0
        assert names_stored(sqlite_collector.app.state.settings.db_url) == 5
    finally:
        exporter.shutdown()


def test_batch_too_large_for_the_collector_is_sent_in_halves(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'small.db'}"
    spans = make_spans(64)
    limit = len(encode_batch(spans)) // 3
    with BackgroundServer(CollectorSettings(db_url=db_url, max_otlp_bytes=limit)) as server:
        exporter = build_span_exporter(Settings(endpoint=server.url))
        try:
            assert exporter.export(spans) is SpanExportResult.SUCCESS
            assert exporter.force_flush(10_000)
            assert names_stored(db_url) == 64
        finally:
            exporter.shutdown()
            server.app.state.db.dispose()


def test_shutdown_with_the_collector_down_is_bounded_and_counts_the_loss(caplog: pytest.LogCaptureFixture) -> None:
    exporter = DurableSpanExporter(otlp_to(free_port()), max_buffer_spans=10_000)
    before = span_export_stats()["dropped"]
    exporter.export(make_spans(20))
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="plaudit"):
        exporter.shutdown(1_000)
    assert time.monotonic() - started < 1.5
    assert span_export_stats()["dropped"] - before == 20
    assert any("no spool_dir" in r.getMessage() for r in caplog.records)
    assert exporter.export(make_spans(1)) is SpanExportResult.FAILURE, "after shutdown: refused, never raised"


def test_a_spool_left_by_another_process_is_replayed_on_start(tmp_path: Path) -> None:
    first = DurableSpanExporter(otlp_to(free_port()), max_buffer_spans=10, spool_dir=tmp_path, min_backoff=5)
    for round_ in range(3):
        first.export(make_spans(100, prefix=f"r{round_}-"))
    first.shutdown()
    assert sum(1 for _ in (tmp_path / "spans").glob("*.otlp")) == 3
    db_url = f"sqlite:///{tmp_path / 'next.db'}"
    with BackgroundServer(CollectorSettings(db_url=db_url)) as server:
        second = DurableSpanExporter(otlp_to(server.port, 5), max_buffer_spans=10, spool_dir=tmp_path)
        try:
            assert wait_until(lambda: second.pending_spans() == 0, 20)
            assert second.force_flush(5_000)
            assert names_stored(db_url) == 300
        finally:
            second.shutdown()
            server.app.state.db.dispose()
