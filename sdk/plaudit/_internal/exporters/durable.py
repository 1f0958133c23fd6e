"""OpenTelemetry's OTLP exporter made durable and bounded: spans survive an outage, exits keep their budget.

``export()`` (called by the ``BatchSpanProcessor`` worker) never touches the network: it hands the batch
to an outbox in memory, or, with a spool directory while the collector is failing, to OTLP protobuf
files under ``<spool_dir>/spans/``. One daemon thread sends, oldest first (spool files, then the outbox),
with backoff while the collector is down. So a flush or shutdown only waits on that thread, up to its
deadline, and whatever is unsent then is spooled or counted as dropped; the thread may still be blocked
in a request that never returns, and it is simply left behind.

What the collector answers decides the fate of a batch:

* 2xx: delivered (``sent``).
* 400, 415, 422 and other 4xx: it will never accept this batch (``rejected``, logged once a minute).
* 413: sent again in halves.
* 401, 403, 404, 405: the endpoint or key is wrong. One clear line says so, the spans are kept within the
  usual bounds, and the thread retries slowly (30 s, doubling to 5 min) instead of flooding.
* 500 and other 5xx that OpenTelemetry does not retry, three times on the same batch: the batch is split
  until the spans the collector fails on are found; those are dropped (``rejected``, with the reason) and
  everything else is delivered, so one poisoned value cannot hold back the spans behind it.
* no answer, 429, 502-504: the collector is down; retried with backoff, kept in memory or on disk.
"""

from __future__ import annotations

import enum
import logging
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
from plaudit._internal.notices import config_problem, notice
from plaudit._internal.stats import SPANS
from plaudit._internal.threads import SUPPRESS_KEY, start_daemon

QUIET_KEY = context_api.create_key("plaudit-own-export")
"""Set while Plaudit's own export runs: OpenTelemetry's per-attempt exporter log lines are dropped then."""
OTEL_EXPORTER_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.common.http",
)
"""Where OpenTelemetry logs every failed attempt; Plaudit says what matters once, in its own words."""

DEFAULT_MAX_SPOOL_BYTES = 256 * 1024 * 1024
"""Disk the span spool may use before the oldest batches are dropped."""
SERVER_ERROR_TRIES = 3
"""Consecutive 5xx answers to one batch before it is split to isolate the spans the collector fails on."""
CONFIG_BACKOFF = (30.0, 300.0)
"""First and longest wait between tries while the collector says the endpoint or key is wrong."""

_CONFIG = frozenset({401, 403, 404, 405})
_TRANSIENT = frozenset({408, 429, 502, 503, 504})


class _Outcome(enum.Enum):
    SENT = "sent"
    REJECTED = "rejected"
    TOO_LARGE = "too large"
    SERVER_ERROR = "server error"
    CONFIG = "configuration"
    DOWN = "down"


def _classify(status: int | None) -> _Outcome:
    if status is None or status in _TRANSIENT:
        return _Outcome.DOWN
    if status == 413:
        return _Outcome.TOO_LARGE
    if status in _CONFIG:
        return _Outcome.CONFIG
    if status >= 500:
        return _Outcome.SERVER_ERROR
    return _Outcome.REJECTED


_dropped_metric: Any = None


def _count_dropped(amount: int, reason: str) -> None:
    global _dropped_metric
    if _dropped_metric is None:
        _dropped_metric = metrics.get_meter("plaudit").create_counter(
            "plaudit.sdk.spans.dropped", unit="{span}", description="Spans Plaudit gave up on"
        )
    _dropped_metric.add(amount, {"reason": reason})


class _OwnExportFilter(logging.Filter):
    """Drop OpenTelemetry's per-attempt exporter lines emitted while Plaudit's own export runs (and only then)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return context_api.get_value(QUIET_KEY) is not True


_FILTER = _OwnExportFilter()


def quiet_own_export_logs() -> None:
    """Install the filter once on OpenTelemetry's exporter loggers; other exporters in the app keep their logs."""
    for name in OTEL_EXPORTER_LOGGERS:
        log = logging.getLogger(name)
        if _FILTER not in log.filters:
            log.addFilter(_FILTER)


def span_export_stats() -> dict[str, int]:
    """Span counters since the process started (``sent``, ``spooled``, ``dropped``, ``rejected``)."""
    return SPANS.snapshot()


class DurableSpanExporter(SpanExporter):
    """Wrap a span exporter (OpenTelemetry's ``OTLPSpanExporter``) with a bounded outbox and an optional disk spool."""

    def __init__(
        self,
        inner: SpanExporter,
        *,
        max_buffer_spans: int,
        spool_dir: str | os.PathLike[str] | None = None,
        max_spool_bytes: int = DEFAULT_MAX_SPOOL_BYTES,
        min_backoff: float = 0.5,
        max_backoff: float = 5.0,
        last_status: Any = None,
        url: str = "",
    ) -> None:
        quiet_own_export_logs()
        self._inner = inner
        self._last_status = last_status or (lambda: None)
        self._url = url
        self._min_backoff = min_backoff
        self._max_backoff = max_backoff
        self._outbox = MemoryBacklog(max_buffer_spans)
        self._limit = max(max_buffer_spans, 1)
        self._spool: DiskBacklog | None = None
        if spool_dir is not None:
            try:
                self._spool = DiskBacklog(spool_dir, max_spool_bytes)
            except OSError as exc:
                notice(
                    "spans-spool",
                    "Plaudit cannot use the spool directory %s (%s): spans stay in memory only; check that the "
                    "directory is writable, or set PLAUDIT_SPOOL_DIR elsewhere",
                    spool_dir,
                    exc,
                )
        self._wake = threading.Event()  # new batch to send
        self._kick = threading.Event()  # flush or shutdown: stop backing off now
        self._stop = threading.Event()
        self._busy = False
        self._claimed: Batch | None = None  # the spool file being sent (renamed, so no longer listed)
        self._failing = False  # the last attempt failed: the collector is down or refuses the configuration
        self._failures = 0  # failed attempts so far, so a shutdown can tell one happened since it began
        self._closed = False
        self._pid = 0
        self._thread: threading.Thread | None = None
        self._ensure_thread()

    @property
    def spool_path(self) -> Path | None:
        return self._spool.dir if self._spool is not None else None

    def pending_spans(self) -> int:
        """Spans not yet delivered: in memory, on disk or in flight."""
        claimed = self._claimed
        on_disk = self._spool.pending_spans() + (claimed.count if claimed is not None else 0) if self._spool else 0
        return self._outbox.pending_spans() + on_disk

    def _drained(self) -> bool:
        return not self._busy and len(self._outbox) == 0 and (self._spool is None or len(self._spool) == 0)

    # --- the SpanExporter interface --------------------------------------------------------------------------

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Hand a batch to the sender thread; never blocks on the network, never raises."""
        try:
            batch = list(spans)
            if not batch:
                return SpanExportResult.SUCCESS
            if self._closed:
                self._keep_or_drop([batch], "they ended after shutdown began")
                return SpanExportResult.FAILURE
            if self._spool is not None and (self._failing or self._outbox.pending_spans() + len(batch) > self._limit):
                # The collector is down, or memory is full: on disk at once (older batches first, keeping the order).
                self._spill_outbox()
                self._spool_or_drop(batch)
            else:
                dropped = self._outbox.add(batch)
                if dropped:
                    self._drop(dropped, "the in-memory backlog is full while the collector is unreachable")
            self._ensure_thread()
            self._wake.set()
            return SpanExportResult.SUCCESS
        except Exception:  # noqa: BLE001 - an exporter must never raise into the processor
            logger.exception("Plaudit could not queue %d span(s)", len(spans))
            return SpanExportResult.FAILURE

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Wait until everything pending is delivered; False when the collector did not take it in time."""
        deadline = time.monotonic() + max(timeout_millis, 0) / 1000
        self._ensure_thread()
        return self._wait_drained(deadline, give_up_on_failure=False)

    def shutdown(self, timeout_millis: float = 30_000) -> None:
        """Deliver what is pending until the deadline, then spool the rest (with a spool) or count it as dropped.

        Returns within ``timeout_millis``: a request still in flight is left to its daemon thread. With the
        collector known to be down, or refusing the configuration, there is nothing to wait for.
        """
        if self._closed:
            return
        deadline = time.monotonic() + max(timeout_millis, 0) / 1000
        self._closed = True
        try:
            if not (self._failing and self._spool is not None):  # with a spool and the collector down, files wait
                self._wait_drained(deadline, give_up_on_failure=True)
            self._stop.set()
            self._kick.set()
            self._wake.set()
            self._inner.shutdown()  # ends OpenTelemetry's retry wait if one is in progress
            if self._spool is not None:
                self._spool.close()  # a file in flight at the deadline goes back: the next start sends it (idempotent)
            self._keep_or_drop(
                [batch.spans or [] for batch in self._outbox.drain()],
                "the collector did not take them before the process stopped",
            )
            left = self._spool.pending_spans() if self._spool is not None else 0
            if left:
                logger.info("Plaudit left %d unsent span(s) in %s; the next start sends them", left, self.spool_path)
        except Exception:  # noqa: BLE001 - exit must go on whatever happens here
            logger.exception("Plaudit span exporter shutdown failed")

    # --- keeping and losing ----------------------------------------------------------------------------------

    def _wait_drained(self, deadline: float, *, give_up_on_failure: bool) -> bool:
        """Wait for the sender to empty every backlog, asking it once to skip its backoff."""
        failures = self._failures
        self._kick.set()
        self._wake.set()
        while not self._drained():
            if time.monotonic() >= deadline or self._stop.is_set():
                return False
            if give_up_on_failure and self._failures > failures:
                return False  # it just failed again: the collector is down, more waiting will not help
            time.sleep(0.01)
        return True

    def _ensure_thread(self) -> None:
        """Start the sender thread (again after a fork: threads do not survive it)."""
        if self._thread is not None and self._thread.is_alive() and self._pid == os.getpid():
            return
        self._pid = os.getpid()
        self._thread = start_daemon(self._run, "plaudit-span-sender")

    def _spool_or_drop(self, spans: list[ReadableSpan]) -> bool:
        assert self._spool is not None
        try:
            dropped = self._spool.add(spans)
        except OSError as exc:  # disk full or gone: these spans cannot be kept
            self._drop(len(spans), f"the spool directory could not be written ({exc})")
            return False
        SPANS.add("spooled", len(spans))
        if dropped:
            self._drop(dropped, "the spool directory reached its size limit")
        return True

    def _spill_outbox(self) -> None:
        assert self._spool is not None
        for waiting in self._outbox.drain():
            self._spool_or_drop(waiting.spans or [])

    def _keep_or_drop(self, batches: list[list[ReadableSpan]], why: str) -> None:
        """Spool these batches, or without a spool count them as dropped, with one notice for all."""
        if self._spool is not None:
            for spans in batches:
                if spans:
                    self._spool_or_drop(spans)
            return
        lost = sum(len(spans) for spans in batches)
        if lost:
            self._drop(lost, f"{why} and no spool_dir is set (PLAUDIT_SPOOL_DIR keeps them for the next start)")

    def _drop(self, count: int, why: str) -> None:
        SPANS.add("dropped", count)
        _count_dropped(count, "dropped")
        notice(
            "spans-dropped",
            "Plaudit dropped %d span(s) because %s (%d since start; see plaudit.stats())",
            count,
            why,
            SPANS.get("dropped"),
        )

    def _reject(self, spans: list[ReadableSpan], why: str) -> None:
        SPANS.add("rejected", len(spans))
        _count_dropped(len(spans), "rejected")
        names = ", ".join(sorted({span.name for span in spans})[:3])
        notice("spans-rejected", "Plaudit gave up on %d span(s) (%s): %s", len(spans), names, why)

    # --- sending ---------------------------------------------------------------------------------------------

    def _attempt(self, spans: list[ReadableSpan]) -> tuple[_Outcome, int | None]:
        """One send through the wrapped exporter, with instrumentation suppressed and its log lines quieted."""
        ctx = context_api.set_value(QUIET_KEY, True, context_api.set_value(SUPPRESS_KEY, True))
        token = context_api.attach(ctx)
        try:
            ok = self._inner.export(spans) is SpanExportResult.SUCCESS
            status = None if ok else self._last_status()
        except Exception:  # noqa: BLE001 - treat as a failed attempt
            logger.debug("Plaudit span export raised", exc_info=True)
            ok, status = False, None
        finally:
            context_api.detach(token)
        return (_Outcome.SENT, status) if ok else (_classify(status), status)

    def _isolate(self, spans: list[ReadableSpan]) -> list[ReadableSpan]:
        """Send in ever smaller parts until each part is delivered or found bad; the spans left unresolved.

        A part that gets a 5xx or 413 is halved, down to single spans, which are dropped with the reason;
        a part that meets an outage stops the search and comes back with everything not yet sent.
        """
        work = [spans[: len(spans) // 2], spans[len(spans) // 2 :]] if len(spans) > 1 else [spans]
        while work:
            part = work.pop(0)
            if not part:
                continue
            outcome, status = self._attempt(part)
            if outcome is _Outcome.SENT:
                SPANS.add("sent", len(part))
            elif outcome is _Outcome.REJECTED:
                self._reject(part, f"the collector refused them with HTTP {status}")
            elif outcome in (_Outcome.SERVER_ERROR, _Outcome.TOO_LARGE) and len(part) > 1:
                work[:0] = [part[: len(part) // 2], part[len(part) // 2 :]]
            elif outcome in (_Outcome.SERVER_ERROR, _Outcome.TOO_LARGE):
                self._reject(part, f"the collector answered HTTP {status} to this span alone, repeatedly")
            else:
                return [*part, *(span for rest in work for span in rest)]
        return []

    def _take(self) -> tuple[Batch | None, bool]:
        """The next batch to send and whether it is a spool file: the spool's oldest first, then memory."""
        if self._spool is not None:
            batch = self._spool.peek()
            if batch is not None:
                return batch, True
        return self._outbox.peek(), False

    def _send(self, batch: Batch, on_disk: bool) -> _Outcome:
        """Try one batch and settle its fate; the outcome decides how long the thread waits before the next."""
        backlog: Any = self._spool if on_disk else self._outbox
        try:
            spans = batch.load()
        except Exception as exc:  # noqa: BLE001 - a corrupt or unreadable spool file must not stop replay
            where = self._spool.quarantine(batch) if on_disk and self._spool is not None else None
            if on_disk and where is None:  # given back at shutdown while being read: not corrupt, sent next start
                return _Outcome.DOWN
            SPANS.add("dropped", batch.count)
            notice(
                "spans-spool-corrupt",
                "Plaudit set aside an unreadable span spool file as %s (%s): its %d span(s) are counted as dropped "
                "and the files behind it are sent; look at it or delete it",
                where,
                exc,
                batch.count,
            )
            return _Outcome.REJECTED
        outcome, status = self._attempt(spans)
        if outcome is _Outcome.SERVER_ERROR:
            batch.server_errors += 1
        if outcome is _Outcome.TOO_LARGE or batch.server_errors >= SERVER_ERROR_TRIES:
            left = self._isolate(spans)
            if left:
                backlog.replace(batch, left)
                outcome = _Outcome.DOWN
            else:
                outcome = _Outcome.SENT
                spans = []
        if outcome is _Outcome.SENT:
            backlog.remove(batch)
            SPANS.add("sent", len(spans))
            self._failing = False
            return outcome
        if outcome is _Outcome.REJECTED:
            backlog.remove(batch)
            self._reject(spans, f"the collector refused them with HTTP {status}; they are not resent")
            return outcome
        backlog.release(batch)
        if outcome is _Outcome.SERVER_ERROR:
            return outcome
        self._failing = True
        if self._spool is not None and not on_disk:  # down: what waits in memory goes to disk, safe from a crash
            self._spill_outbox()
        self._failures += 1  # after spilling: a shutdown that sees the failure finds the spans already on disk
        if outcome is _Outcome.CONFIG and status is not None:
            config_problem(status, self._url)
        return outcome

    def _run(self) -> None:
        backoff = self._min_backoff
        config_backoff = CONFIG_BACKOFF[0]
        while not self._stop.is_set():
            try:
                self._busy = True  # before taking: a claimed spool file is no longer listed
                batch, on_disk = self._take()
                self._claimed = batch if on_disk else None
                if batch is None:
                    self._busy = False
                    # A spool shared with other processes may gain files we were not told about: look again later.
                    self._wake.wait(None if self._spool is None else 5.0)
                    self._wake.clear()
                    continue
                outcome = self._send(batch, on_disk)
                self._busy = False
                if outcome in (_Outcome.SENT, _Outcome.REJECTED):
                    backoff, config_backoff = self._min_backoff, CONFIG_BACKOFF[0]
                    continue
                if outcome is _Outcome.SERVER_ERROR:  # the collector is up; the same batch, once more, soon
                    wait = self._min_backoff
                elif outcome is _Outcome.CONFIG:  # slowly: a fixed configuration is noticed without a flood
                    wait, config_backoff = config_backoff, min(config_backoff * 2, CONFIG_BACKOFF[1])
                else:
                    wait, backoff = backoff, min(backoff * 2, self._max_backoff)
                self._kick.wait(wait * random.uniform(0.8, 1.2))  # jitter, not crypto
                self._kick.clear()
            except Exception:  # noqa: BLE001 - the sender thread must survive anything
                logger.exception("Plaudit span sender failed; retrying")
                self._stop.wait(self._max_backoff)
            finally:
                self._busy = False
                self._claimed = None
