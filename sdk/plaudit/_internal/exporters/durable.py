"""OpenTelemetry's OTLP exporter made durable: spans survive a collector outage, within stated bounds.

``export()`` (called by the ``BatchSpanProcessor`` worker, never by app code) tries the collector
directly only while nothing older is waiting. A batch that could not be delivered joins a backlog —
in memory, or as OTLP protobuf files under ``<spool_dir>/spans/`` — which a daemon thread replays
oldest first with backoff once the collector answers again, and, for the disk spool, after the app
restarts. Past the bounds the oldest spans are dropped, counted (:func:`span_export_stats`, the
``plaudit.sdk.spans.dropped`` metric) and reported by a rate-limited warning. Nothing here blocks
the app or raises.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from opentelemetry import context as context_api
from opentelemetry import metrics
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from plaudit._internal.errors import logger
from plaudit._internal.exporters.spool import Batch, DiskBacklog, MemoryBacklog

try:  # OpenTelemetry's own processors set this key while exporting; isolated here because it is private
    from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY as _SUPPRESS_KEY
except ImportError:  # pragma: no cover - a future OTel without it: HTTP instrumentations may trace exports
    _SUPPRESS_KEY = context_api.create_key("suppress_instrumentation")

DEFAULT_MAX_SPOOL_BYTES = 256 * 1024 * 1024
"""Disk the span spool may use before the oldest batches are dropped."""
DEFAULT_SHUTDOWN_SECONDS = 5.0
"""Longest the app's exit waits for undelivered spans to reach the collector."""
_WARN_EVERY_SECONDS = 10.0
_REJECTED = frozenset({400, 413, 415, 422})  # the collector will never accept this batch: retrying cannot help


class _Stats:
    """Process-wide counters, readable from Python and mirrored to OpenTelemetry metrics."""

    FIELDS = ("sent", "replayed", "buffered", "spooled", "dropped", "rejected")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values = dict.fromkeys(self.FIELDS, 0)
        self._counter: Any = None

    def add(self, name: str, amount: int) -> None:
        if amount:
            with self._lock:
                self._values[name] += amount
            if name in ("dropped", "rejected"):
                self._metric().add(amount, {"reason": name})

    def _metric(self) -> Any:
        if self._counter is None:
            self._counter = metrics.get_meter("plaudit").create_counter(
                "plaudit.sdk.spans.dropped", unit="{span}", description="Spans Plaudit gave up on"
            )
        return self._counter

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._values)


STATS = _Stats()


def span_export_stats() -> dict[str, int]:
    """Counters since the process started: spans ``sent`` directly, ``replayed`` from the backlog,
    ``buffered`` or ``spooled`` (to disk) after a failed export, ``dropped`` (bounds exceeded or never
    delivered before exit without a spool) and ``rejected`` (refused by the collector as invalid)."""
    return STATS.snapshot()


class DurableSpanExporter(SpanExporter):
    """Wrap a span exporter (OpenTelemetry's ``OTLPSpanExporter``) with a bounded, optionally on-disk backlog."""

    def __init__(
        self,
        inner: SpanExporter,
        *,
        max_buffer_spans: int,
        spool_dir: str | os.PathLike[str] | None = None,
        max_spool_bytes: int = DEFAULT_MAX_SPOOL_BYTES,
        shutdown_seconds: float = DEFAULT_SHUTDOWN_SECONDS,
        min_backoff: float = 0.5,
        max_backoff: float = 5.0,
        last_status: Any = None,
    ) -> None:
        self._inner = inner
        self._last_status = last_status or (lambda: None)
        self._shutdown_seconds = shutdown_seconds
        self._min_backoff = min_backoff
        self._max_backoff = max_backoff
        self._backlog: MemoryBacklog | DiskBacklog = MemoryBacklog(max_buffer_spans)
        if spool_dir is not None:
            try:
                self._backlog = DiskBacklog(spool_dir, max_spool_bytes)
            except OSError as exc:
                logger.warning("Plaudit cannot use spool directory %s (%s); buffering spans in memory", spool_dir, exc)
        self._send_lock = threading.Lock()
        self._wake = threading.Event()  # new batch in the backlog
        self._kick = threading.Event()  # flush or shutdown: stop backing off
        self._stop = threading.Event()
        self._busy = False
        self._failing = False
        self._closed = False
        self._unreported_drops = 0
        self._why = ""
        self._last_warning = 0.0
        self._pid = 0
        self._thread: threading.Thread | None = None
        self._ensure_thread()

    @property
    def spool_path(self) -> Path | None:
        return self._backlog.dir if isinstance(self._backlog, DiskBacklog) else None

    def pending_spans(self) -> int:
        """Spans waiting in the backlog (memory or disk)."""
        return self._backlog.pending_spans()

    # --- the SpanExporter interface --------------------------------------------------------------------------

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            batch = list(spans)
            if not batch:
                return SpanExportResult.SUCCESS
            if self._closed:
                self._drop(len(batch), "after shutdown")
                return SpanExportResult.FAILURE
            if len(self._backlog) == 0 and not self._busy and self._deliver(batch):
                STATS.add("sent", len(batch))
                return SpanExportResult.SUCCESS
            self._keep(batch)
        except Exception:  # noqa: BLE001 - an exporter must never raise into the processor
            logger.exception("Plaudit could not hand %d span(s) to its backlog", len(spans))
        return SpanExportResult.FAILURE

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Wait until the backlog is delivered; False when the collector did not take it in time."""
        deadline = time.monotonic() + max(timeout_millis, 0) / 1000
        self._ensure_thread()
        while len(self._backlog) or self._busy:
            if time.monotonic() >= deadline or self._stop.is_set():
                return False
            self._kick.set()
            self._wake.set()
            time.sleep(0.02)
        return True

    def shutdown(self, timeout_millis: float = 30_000) -> None:
        """Deliver what is pending within a bounded time; a disk spool keeps the rest for the next start."""
        if self._closed:
            return
        self._closed = True
        try:
            durable = isinstance(self._backlog, DiskBacklog)
            # With a spool and the collector known to be down there is nothing to wait for: the files stay.
            if not (durable and self._failing):
                self.force_flush(int(min(timeout_millis / 1000, self._shutdown_seconds) * 1000))
            self._stop.set()
            self._kick.set()
            self._wake.set()
            self._inner.shutdown()  # interrupts a retry in flight
            if self._thread is not None:
                self._thread.join(1.0)
            left = self._backlog.pending_spans()
            if left and durable:
                logger.warning(
                    "Plaudit left %d undelivered span(s) in %s; they are sent on the next start", left, self.spool_path
                )
            elif left:
                self._drop(left, "the collector was unreachable at exit and no spool_dir is set")
                self._report_drops(force=True)
        except Exception:  # noqa: BLE001 - exit must go on whatever happens here
            logger.exception("Plaudit span exporter shutdown failed")

    # --- internals -------------------------------------------------------------------------------------------

    def _ensure_thread(self) -> None:
        """Start the replay thread (again after a fork: threads do not survive it)."""
        if self._thread is not None and self._thread.is_alive() and self._pid == os.getpid():
            return
        self._pid = os.getpid()
        self._send_lock = threading.Lock()
        self._thread = threading.Thread(target=self._replay, name="plaudit-span-replay", daemon=True)
        self._thread.start()

    def _keep(self, batch: list[ReadableSpan]) -> None:
        try:
            dropped = self._backlog.add(batch)
            STATS.add("spooled" if isinstance(self._backlog, DiskBacklog) else "buffered", len(batch))
        except OSError as exc:  # disk full or gone: these spans cannot be kept
            logger.warning("Plaudit could not spool %d span(s): %s", len(batch), exc)
            dropped = len(batch)
        if dropped:
            self._drop(dropped, "the backlog is full")
        self._ensure_thread()
        self._wake.set()

    def _drop(self, count: int, why: str) -> None:
        STATS.add("dropped", count)
        self._unreported_drops += count
        self._why = why
        self._report_drops()

    def _report_drops(self, force: bool = False) -> None:
        now = time.monotonic()
        if self._unreported_drops and (force or now - self._last_warning >= _WARN_EVERY_SECONDS):
            logger.warning(
                "Plaudit dropped %d span(s), oldest first, because %s (%d dropped since start)",
                self._unreported_drops,
                self._why,
                STATS.snapshot()["dropped"],
            )
            self._unreported_drops = 0
            self._last_warning = now

    def _deliver(self, spans: list[ReadableSpan]) -> bool:
        """Send through the wrapped exporter with instrumentation suppressed; True once the collector took them.

        A batch the collector refuses as invalid counts as handled (``rejected``): resending cannot help,
        and keeping it would hold back everything behind it. Too large a batch is sent in halves.
        """
        token = context_api.attach(context_api.set_value(_SUPPRESS_KEY, True))
        try:
            with self._send_lock:
                ok = self._inner.export(spans) is SpanExportResult.SUCCESS
                status = None if ok else self._last_status()
        except Exception:  # noqa: BLE001 - treat as a failed attempt
            logger.debug("Plaudit span export raised", exc_info=True)
            ok, status = False, None
        finally:
            context_api.detach(token)
        if ok:
            self._failing = False
            return True
        if status == 413 and len(spans) > 1:
            half = len(spans) // 2
            return self._deliver(spans[:half]) and self._deliver(spans[half:])
        if status in _REJECTED:
            STATS.add("rejected", len(spans))
            logger.error("The collector refused %d span(s) with HTTP %s; they are not resent", len(spans), status)
            return True
        self._failing = True
        return False

    def _replay(self) -> None:
        backoff = self._min_backoff
        while not self._stop.is_set():
            batch: Batch | None = None
            try:
                self._report_drops()
                self._busy = True  # before peek: a claimed spool file is no longer listed
                batch = self._backlog.peek()
                if batch is None:
                    self._busy = False
                    # A spool shared with other processes may gain files we were not told about: look again later.
                    self._wake.wait(None if isinstance(self._backlog, MemoryBacklog) else 5.0)
                    self._wake.clear()
                    continue
                try:
                    spans = batch.load()
                except Exception:  # noqa: BLE001 - a corrupt or vanished spool file must not stop replay
                    logger.warning("Plaudit discards unreadable spool file %s", batch.path, exc_info=True)
                    self._backlog.remove(batch)
                    STATS.add("dropped", batch.count)
                    continue
                if self._deliver(spans):
                    self._backlog.remove(batch)
                    STATS.add("replayed", batch.count)
                    backoff = self._min_backoff
                    continue
                self._backlog.release(batch)
                batch = None
                self._busy = False
                self._kick.wait(backoff * random.uniform(0.8, 1.2))  # jitter, not crypto
                self._kick.clear()
                backoff = min(backoff * 2, self._max_backoff)
            except Exception:  # noqa: BLE001 - the replay thread must survive anything
                logger.exception("Plaudit span replay failed; retrying")
                if batch is not None:
                    self._backlog.release(batch)
                self._stop.wait(self._max_backoff)
            finally:
                self._busy = False
