"""SDK overhead: import time and cost per traced call, each against plain OpenTelemetry in the same run.

The baseline (b) is a plain OTel ``start_as_current_span`` around the same function, on a provider with
the same BatchSpanProcessor + exporter pipeline. The main figure is (c): ``@plaudit.trace`` with default
capture on a function called with arguments that returns a value, budget (c)/(b) <= 1.15; (d) passes a
2 KB argument (captured as input, returned and captured as output), budget (d)/(b) <= 1.40. Import of
``plaudit`` within 2x of ``opentelemetry.sdk.trace``. Spans go to an exporter that drops them, so only
the SDK's own cost is measured. Also printed: (e) an empty function without arguments, (f) the
production shape, ``@plaudit.trace(prompt=..., config=...)`` inside ``plaudit.context(user_id=...)``
with a 2 KB argument, and (g) ``@plaudit.trace`` with ``sample_rate=0.1`` (most calls sampled out).
Times are CPU time of the calling thread; (a)-(e) run in turn in many short loops and each ratio is the
median of back-to-back pairs, so a shared, busy machine skews both sides alike. ``--quick`` for a short run.

``--profile SECONDS`` only calls (c) in a loop for that long, for a sampling profiler to read the hot path:

    py-spy record -f raw -o sdk.txt -- python bench/bench_sdk_overhead.py --profile 10
"""

from __future__ import annotations

import gc
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult


class DropExporter(SpanExporter):
    def export(self, spans: Sequence[object]) -> SpanExportResult:  # type: ignore[override]
        return SpanExportResult.SUCCESS


def import_time(module: str, runs: int = 7) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    times = [float(subprocess.check_output([sys.executable, "-c", code], text=True)) for _ in range(runs)]
    return statistics.median(times)


def per_call(fn: Callable[[], object], n: int, rounds: int = 7) -> float:
    """Best of ``rounds`` timed loops, in CPU time of this thread with garbage collection paused: on a shared
    machine the least disturbed loop is the closest to the code's own cost."""
    for _ in range(n // 10):
        fn()
    best = float("inf")
    for _ in range(rounds):
        gc.collect()
        gc.disable()
        try:
            start = time.thread_time()
            for _ in range(n):
                fn()
            best = min(best, (time.thread_time() - start) / n)
        finally:
            gc.enable()
    return best


def interleaved(cases: dict[str, Callable[[], object]], n: int, repeats: int) -> dict[str, list[float]]:
    """Per-call times of each case over ``repeats`` short loops taken in turn, so a change in the machine's
    load hits neighbouring loops alike; compare cases with :func:`ratio` (paired by round)."""
    times: dict[str, list[float]] = {label: [] for label in cases}
    for _ in range(repeats):
        for label, fn in cases.items():
            times[label].append(per_call(fn, n, rounds=1))
    return times


def ratio(times: dict[str, list[float]], case: str, baseline: str) -> float:
    """The median over rounds of case/baseline, each round's pair measured back to back."""
    return statistics.median(c / b for c, b in zip(times[case], times[baseline], strict=True))


def answer(question: str, top_k: int = 3) -> str:
    """The function every case calls: arguments in, a value out."""
    return question


SHORT = "How do I reset my password?"


def profile_loop(seconds: float) -> None:
    """Call (c) for ``seconds`` and nothing else, so nearly all of a profiler's samples fall in the traced call."""
    import plaudit

    plaudit.configure(_span_exporter=DropExporter(), capture_content=True, send=True)
    traced_answer = plaudit.trace(answer)
    calls, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        for _ in range(1000):
            traced_answer(SHORT, top_k=5)
        calls += 1000
    plaudit.shutdown()
    print(f"{calls} traced calls in {seconds:g} s")


def main() -> None:
    if "--profile" in sys.argv:
        profile_loop(float(sys.argv[sys.argv.index("--profile") + 1]))
        return
    quick = "--quick" in sys.argv
    otel_import = import_time("opentelemetry.sdk.trace", 3 if quick else 7)
    plaudit_import = import_time("plaudit", 3 if quick else 7)
    print(f"import opentelemetry.sdk.trace  {otel_import * 1000:7.1f} ms")
    print(
        f"import plaudit                  {plaudit_import * 1000:7.1f} ms   ratio {plaudit_import / otel_import:.2f}x"
        "  (budget 2.0x)"
    )

    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    import plaudit

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(DropExporter(), max_queue_size=65536))
    tracer = provider.get_tracer("bench")
    plaudit.configure(_span_exporter=DropExporter(), capture_content=True, send=True)

    def empty() -> None:
        return None

    def otel_answer(question: str) -> str:
        with tracer.start_as_current_span("answer"):
            return answer(question, top_k=5)

    def otel_empty() -> None:
        with tracer.start_as_current_span("empty"):
            return empty()

    traced_answer = plaudit.trace(answer)
    traced_empty = plaudit.trace(empty)
    short, payload = SHORT, "x" * 2048
    n = 500
    times = interleaved(
        {
            "a": lambda: answer(short, top_k=5),
            "b": lambda: otel_answer(short),
            "c": lambda: traced_answer(short, top_k=5),
            "b2": lambda: otel_answer(payload),
            "d": lambda: traced_answer(payload, top_k=5),
            "b0": otel_empty,
            "e": traced_empty,
        },
        n,
        10 if quick else 60,
    )
    t = {label: statistics.median(values) for label, values in times.items()}
    print("median per-call CPU time over rounds; ratios are medians of back-to-back pairs")
    print(f"(a) undecorated f(x)             {t['a'] * 1e6:8.2f} us/call")
    print(f"(b) plain OTel span, f(x)        {t['b'] * 1e6:8.2f} us/call")
    print(
        f"(c) @plaudit.trace f(x)          {t['c'] * 1e6:8.2f} us/call   (c)/(b) = {ratio(times, 'c', 'b'):.2f}"
        "  (budget 1.15)"
    )
    print(f"    plain OTel span, f(2 KB)     {t['b2'] * 1e6:8.2f} us/call")
    print(
        f"(d) @plaudit.trace f(2 KB)       {t['d'] * 1e6:8.2f} us/call   (d)/(b) = {ratio(times, 'd', 'b2'):.2f}"
        "  (budget 1.40)"
    )
    print(f"    plain OTel span, empty f()   {t['b0'] * 1e6:8.2f} us/call")
    print(f"(e) @plaudit.trace empty f()     {t['e'] * 1e6:8.2f} us/call   (e)/(b) = {ratio(times, 'e', 'b0'):.2f}")

    production = plaudit.trace(prompt=plaudit.Prompt("p", "1", "template"), config={"temperature": 0.2})(answer)
    with plaudit.context(user_id="u-1", session_id="s-1"):
        f = per_call(lambda: production(payload, top_k=5), n, rounds=10)
    print(f"(f) prompt+config+context, 2 KB  {f * 1e6:8.2f} us/call   (f)/(b) = {f / t['b2']:.2f}")
    plaudit.configure(_span_exporter=DropExporter(), capture_content=True, sample_rate=0.1)
    g = per_call(lambda: traced_answer(short, top_k=5), n, rounds=10)
    print(f"(g) @plaudit.trace, 10% sampled  {g * 1e6:8.2f} us/call   (g)/(b) = {g / t['b']:.2f}")
    plaudit.shutdown()
    provider.shutdown()


if __name__ == "__main__":
    main()
