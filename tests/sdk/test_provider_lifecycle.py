"""Re-configuration swaps what Plaudit's one processor feeds: it never stacks processors or kills a global provider."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

import plaudit
from plaudit.testing import InMemorySpanExporter


def test_configure_twice_keeps_the_global_provider_alive_for_third_party_spans() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                import logging
                logging.basicConfig(level=logging.WARNING)
                from opentelemetry import trace
                from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
                import plaudit
                first, second = InMemorySpanExporter(), InMemorySpanExporter()
                plaudit.configure(_span_exporter=first, _simple_processor=True)
                plaudit.configure(_span_exporter=second, _simple_processor=True)
                with trace.get_tracer("third.party").start_as_current_span("instrumented"):
                    pass
                print([s.name for s in first.get_finished_spans()], [s.name for s in second.get_finished_spans()])
                """
            ),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert out.stdout.strip() == "[] ['instrumented']"
    assert "already shutdown" not in out.stderr


def test_reconfiguring_with_a_host_provider_replaces_instead_of_stacking() -> None:
    host = TracerProvider()
    host_exporter = InMemorySpanExporter()
    host.add_span_processor(SimpleSpanProcessor(host_exporter))
    exporters = [InMemorySpanExporter() for _ in range(3)]
    for exporter in exporters:
        plaudit.configure(tracer_provider=host, _span_exporter=exporter, _simple_processor=True, send=False)
    try:
        with host.get_tracer("third.party").start_as_current_span("call"):
            pass
        assert [len(e.get_finished_spans()) for e in exporters] == [0, 0, 1]
        assert len(host._active_span_processor._span_processors) == 2  # the host's own + Plaudit's one hook
    finally:
        plaudit.shutdown()
        host.shutdown()


def test_switching_from_a_host_provider_back_to_our_own_detaches_from_the_host() -> None:
    host = TracerProvider()
    ours = InMemorySpanExporter()
    plaudit.configure(tracer_provider=host, _span_exporter=InMemorySpanExporter(), _simple_processor=True)
    plaudit.configure(_span_exporter=ours, _simple_processor=True)
    try:
        with host.get_tracer("third.party").start_as_current_span("host-only"):
            pass

        @plaudit.trace
        def mine() -> None:
            return None

        mine()
        assert [s.name for s in ours.get_finished_spans()] == [mine.__qualname__]
    finally:
        plaudit.shutdown()
        host.shutdown()


def test_sample_rate_with_a_host_provider_is_refused() -> None:
    with pytest.raises(plaudit.PlauditConfigError, match="sample_rate"):
        plaudit.configure(tracer_provider=TracerProvider(), sample_rate=0.5)


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), "half", True])
def test_bad_sample_rates_are_refused(bad: object) -> None:
    with pytest.raises(plaudit.PlauditConfigError, match="sample_rate"):
        plaudit.configure(sample_rate=bad, send=False)  # type: ignore[arg-type]


def test_sample_rate_from_env_and_bad_env(monkeypatch: pytest.MonkeyPatch) -> None:
    from plaudit._internal.config import resolve

    monkeypatch.setenv("PLAUDIT_SAMPLE_RATE", "0.25")
    assert resolve().sample_rate == 0.25
    monkeypatch.setenv("PLAUDIT_SAMPLE_RATE", "lots")
    with pytest.raises(plaudit.PlauditConfigError, match="PLAUDIT_SAMPLE_RATE"):
        resolve()


def test_head_sampling_keeps_whole_traces_and_refs_still_work() -> None:
    from plaudit.testing import capture_spans

    @plaudit.trace
    def child() -> None:
        return None

    @plaudit.trace
    def root() -> plaudit.SpanRef | None:
        child()
        return plaudit.current_ref()

    with capture_spans(sample_rate=0.0) as none_kept:
        refs = [root() for _ in range(50)]
    assert none_kept.get_finished_spans() == ()
    assert all(ref is not None for ref in refs)  # feedback can still be given; it is stored, its span is not

    with capture_spans(sample_rate=0.5) as half:
        for _ in range(400):
            root()
    spans = half.get_finished_spans()
    roots = [s for s in spans if s.parent is None]
    assert 120 < len(roots) < 280  # ratio sampling by trace id: about half the traces
    assert len(spans) == 2 * len(roots)  # a kept trace is kept whole (children follow the parent)
