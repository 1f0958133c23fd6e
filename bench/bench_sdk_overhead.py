"""SDK overhead: import time and cost per traced call, each against plain OpenTelemetry in the same run.

(a) an empty function, undecorated; (b) inside plain OTel ``start_as_current_span`` with the same
BatchSpanProcessor + exporter pipeline; (c) with ``@plaudit.trace``; (d) ``@plaudit.trace`` capturing
a 2 KB argument and output. Budget: import within 2x of ``opentelemetry.sdk.trace``, (c)/(b) <= 1.25,
(d)/(b) <= 2.0. Spans go to an exporter that drops them, so only the SDK's own cost is measured.
Also printed, without a budget: (e) the production shape, ``@plaudit.trace(prompt=..., config=...)``
inside ``plaudit.context(user_id=...)`` with a 2 KB argument, and (f) ``@plaudit.trace`` with
``sample_rate=0.1`` (most calls sampled out).
"""

from __future__ import annotations

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


def per_call(fn: Callable[[], object], n: int) -> float:
    for _ in range(n // 10):
        fn()
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - start) / n)
    return best


def main() -> None:
    otel_import = import_time("opentelemetry.sdk.trace")
    plaudit_import = import_time("plaudit")
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
    plaudit.configure(_span_exporter=DropExporter(), capture_content=True)

    def empty(x: object = None) -> object:
        return x

    def plain_otel() -> object:
        with tracer.start_as_current_span("empty"):
            return empty()

    traced = plaudit.trace(empty)
    payload = "x" * 2048
    n = 20_000
    a = per_call(empty, n)
    b = per_call(plain_otel, n)
    c = per_call(traced, n)
    d = per_call(lambda: traced(payload), n)
    print(f"(a) undecorated                {a * 1e6:8.2f} us/call")
    print(f"(b) plain OTel span            {b * 1e6:8.2f} us/call")
    print(f"(c) @plaudit.trace             {c * 1e6:8.2f} us/call   (c)/(b) = {c / b:.2f}  (budget 1.25)")
    print(f"(d) @plaudit.trace, 2 KB I/O   {d * 1e6:8.2f} us/call   (d)/(b) = {d / b:.2f}  (budget 2.00)")

    production = plaudit.trace(prompt=plaudit.Prompt("p", "1", "template"), config={"temperature": 0.2})(empty)
    with plaudit.context(user_id="u-1", session_id="s-1"):
        e = per_call(lambda: production(payload), n)
    print(f"(e) prompt+config+context, 2 KB {e * 1e6:7.2f} us/call   (e)/(b) = {e / b:.2f}")
    plaudit.configure(_span_exporter=DropExporter(), capture_content=True, sample_rate=0.1)
    f = per_call(traced, n)
    print(f"(f) @plaudit.trace, 10% sampled {f * 1e6:7.2f} us/call   (f)/(b) = {f / b:.2f}")
    plaudit.shutdown()
    provider.shutdown()


if __name__ == "__main__":
    main()
