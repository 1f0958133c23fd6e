"""Ship feedback to the collector: queued and batched by default, blocking or async on request.

Durability: an item leaves the queue only when the collector acknowledged it (2xx) or refused it for
good. A refused batch (400, 413, 422 or a 5xx the collector does not mark as temporary) is split in
halves until the refused items are found, so one bad item costs one item; those are dropped (counted,
reported with the collector's reason). Connection errors, timeouts, 408, 429 and 502-504 are retried
with capped exponential backoff and jitter, honouring ``Retry-After``. A 401, 403, 404 or 405 means the
endpoint or key is wrong: one clear line says so, the items stay queued, and the worker retries every
few minutes. Memory is bounded: past ``max_queue`` the oldest item is dropped (counted, reported) or,
with a spool directory, written to disk. At shutdown, what is unsent by the deadline (even a batch still
in flight) goes to the spool directory or is counted as lost; the next client that starts with that
directory sends it. Every item carries an idempotency key, so a retried or replayed item is stored once.
"""

from __future__ import annotations

import atexit
import collections
import math
import os
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from plaudit._internal.config import Settings, request_headers
from plaudit._internal.errors import logger
from plaudit._internal.feedback import spool
from plaudit._internal.notices import config_problem, notice
from plaudit._internal.stats import FEEDBACK
from plaudit._internal.threads import start_daemon

RETRYABLE = frozenset({408, 429, 502, 503, 504})
CONFIG = frozenset({401, 403, 404, 405})
MAX_BACKOFF = 5.0
MAX_RETRY_AFTER = 30.0
CONFIG_BACKOFF = (30.0, 300.0)
"""First and longest wait between tries while the collector says the endpoint or key is wrong."""
SEND_ATTEMPTS = 4
"""A blocking ``send`` (``wait=True``) tries this often, then reports failure to the caller."""
EXIT_SECONDS = 4.0
"""A client's own exit hook (the SDK's clients are settled by ``plaudit.shutdown`` instead)."""


def _retry_after(response: httpx.Response | None, attempt: int) -> float:
    """Seconds to wait before the next try: the server's Retry-After, else backoff with jitter."""
    if response is not None:
        header = response.headers.get("retry-after")
        if header:
            try:
                delay = float(header)
            except ValueError:
                delay = math.nan  # an HTTP-date: use our own backoff
            if not math.isnan(delay):
                return min(max(delay, 0.0), MAX_RETRY_AFTER)  # time.sleep() raises on a negative or NaN delay
    # the exponent is capped: retries go on for as long as an outage lasts, and 2**attempt would overflow
    return min(0.1 * 2 ** min(attempt, 16), MAX_BACKOFF) * (0.5 + random.random())  # jitter, not crypto


class _Aborted(Exception):
    """Shutdown interrupted a retry loop; the batch is accounted for by shutdown."""


class _BaseFeedbackClient:
    """Request building shared by the sync and async clients."""

    def __init__(
        self, endpoint: str, api_key: str | None, *, timeout: float = 10.0, project: str | None = None
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.url = f"{self.endpoint}/v1/feedback"
        self.headers = request_headers(api_key, project)
        self.timeout = timeout


class FeedbackClient(_BaseFeedbackClient):
    """A bounded queue drained by a daemon thread that posts batches and retries until acknowledged.

    ``max_attempts=None`` (the default) retries retryable failures until the collector answers or
    the client shuts down; a number gives up after that many tries (counted in ``failed``).
    ``exit_hook=False`` leaves settling at exit to the owner (``plaudit.shutdown`` for the SDK's client).
    """

    def __init__(
        self,
        endpoint: str,
        api_key: str | None = None,
        *,
        max_queue: int = 10_000,
        batch_size: int = 100,
        max_attempts: int | None = None,
        timeout: float = 10.0,
        spool_dir: str | os.PathLike[str] | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
        project: str | None = None,
        exit_hook: bool = True,
    ) -> None:
        super().__init__(endpoint, api_key, timeout=timeout, project=project)
        self._queue: collections.deque[dict[str, Any]] = collections.deque()
        self._max_queue = max_queue
        self._batch_size = batch_size
        self._max_attempts = max_attempts
        self._transport = transport
        self._sleep = sleep
        self._cond = threading.Condition()
        self._abort = threading.Event()
        self._in_flight: list[dict[str, Any]] = []
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._settled = False  # shutdown has taken what was unsent: a late reply must not requeue it
        self._http: httpx.Client | None = None
        self._spool = Path(spool_dir) / "feedback" if spool_dir else None
        self._spilled_now = False
        self._lost_at_flush = 0
        self._next_config_wait = CONFIG_BACKOFF[0]
        self.dropped = 0
        self.failed = 0
        self.spilled = 0
        self.sent = 0
        if exit_hook:
            atexit.register(self.shutdown, EXIT_SECONDS)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._after_fork)
        if self._spool is not None:
            with self._cond:
                self._replay_spool()

    def _after_fork(self) -> None:
        # The parent still owns and sends what was queued before the fork.
        self._cond = threading.Condition()
        self._abort = threading.Event()
        self._queue.clear()
        self._thread = None
        self._http = None
        self._in_flight = []

    def _client(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(timeout=self.timeout, headers=self.headers, transport=self._transport)
        return self._http

    # --- counting ------------------------------------------------------------------------------------------

    def _lost(self) -> int:
        return self.dropped + self.failed

    def _drop(self, count: int, why: str) -> None:
        self.dropped += count
        FEEDBACK.add("dropped", count)
        notice(
            "feedback-dropped",
            "Plaudit dropped %d feedback item(s) because %s (%d since start; see plaudit.stats())",
            count,
            why,
            FEEDBACK.get("dropped"),
        )

    def _refused(self, items: list[dict[str, Any]], why: str) -> None:
        self.failed += len(items)
        FEEDBACK.add("rejected", len(items))
        notice(
            "feedback-refused", "Plaudit could not store %d feedback item(s) (%s): %s", len(items), _summary(items), why
        )

    def _spill(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Write items to the spool; returns those that could not be kept."""
        assert self._spool is not None
        unfit = spool.write(self._spool, items)
        kept = len(items) - len(unfit)
        self.spilled += kept
        FEEDBACK.add("spooled", kept)
        return unfit

    # --- queueing -------------------------------------------------------------------------------------------

    def submit(self, item: dict[str, Any]) -> None:
        """Queue one item without blocking; past ``max_queue`` the oldest is spilled to disk or dropped."""
        with self._cond:
            if self._stopping:
                self._drop(1, "the feedback client was already shut down")
                return
            if len(self._queue) >= self._max_queue:
                oldest = self._queue.popleft()
                if self._spool is not None and not self._spill([oldest]):
                    self._spilled_now = True
                else:
                    self._drop(1, f"more than {self._max_queue} items waited (set PLAUDIT_SPOOL_DIR to keep them)")
            self._queue.append(item)
            self._ensure_worker()
            self._cond.notify_all()

    def _ensure_worker(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = start_daemon(self._run, "plaudit-feedback")

    # --- the worker -----------------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if not self._queue or self._abort.is_set():
                    return
                batch = [self._queue.popleft() for _ in range(min(self._batch_size, len(self._queue)))]
                self._in_flight = batch
            left: list[dict[str, Any]] = []
            try:
                left = self._deliver(batch)
                self._requeue(left)
            except _Aborted:
                self._requeue(batch)
            except Exception:  # noqa: BLE001 - the worker thread must survive anything
                logger.exception("Plaudit feedback worker failed on a batch of %d", len(batch))
                self._refused(batch, "an internal error")
            finally:
                with self._cond:
                    self._in_flight = []
                    if self._spilled_now and not self._queue and not self._stopping:
                        self._spilled_now = False
                        self._replay_spool()
                    self._cond.notify_all()
            if left:  # the collector refuses the configuration: try again slowly
                try:
                    self._wait(self._config_backoff())
                except _Aborted:
                    return

    def _requeue(self, items: list[dict[str, Any]]) -> None:
        with self._cond:
            if not self._settled:
                self._queue.extendleft(reversed(items))

    def _wait(self, delay: float) -> None:
        if self._sleep is not None:
            self._sleep(delay)
        elif self._abort.wait(delay):
            raise _Aborted

    def _config_backoff(self) -> float:
        delay = self._next_config_wait
        self._next_config_wait = min(delay * 2, CONFIG_BACKOFF[1])
        return delay

    def _deliver(self, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Post a batch, splitting refused ones to find the bad items; returns items to keep for later."""
        response = self._post(batch, self._max_attempts)
        if response is not None and response.status_code < 300:
            self.sent += len(batch)
            FEEDBACK.add("sent", len(batch))
            self._next_config_wait = CONFIG_BACKOFF[0]
            return []
        if response is not None and response.status_code in CONFIG:
            config_problem(response.status_code, self.url)
            return batch
        if response is None or response.status_code in RETRYABLE:  # max_attempts reached
            self.failed += len(batch)
            FEEDBACK.add("dropped", len(batch))
            why = "collector unreachable" if response is None else f"HTTP {response.status_code}"
            notice(
                "feedback-dropped",  # one cause, lost feedback, said under one key whichever way it was lost
                "Plaudit dropped %d feedback item(s) because the collector did not take them in %d attempts "
                "(%s): check that it is up (%d since start; see plaudit.stats())",
                len(batch),
                self._max_attempts,
                why,
                FEEDBACK.get("dropped"),
            )
            return []
        if len(batch) > 1:  # refused: halve it, so only the bad items are lost
            half = len(batch) // 2
            first = self._deliver(batch[:half])
            return [*first, *batch[half:]] if first else self._deliver(batch[half:])
        self._refused(batch, f"HTTP {response.status_code}: {response.text[:300]}")
        return []

    def _post(self, batch: list[dict[str, Any]], max_attempts: int | None) -> httpx.Response | None:
        """POST with retries on 408/429/502/503/504 and connection errors; None when never answered."""
        body = {"items": batch} if len(batch) > 1 else batch[0]
        response: httpx.Response | None = None
        attempt = 0
        while True:
            if self._abort.is_set():
                raise _Aborted
            try:
                response = self._client().post(self.url, json=body)
            except httpx.HTTPError as exc:
                logger.debug("Plaudit feedback post failed (%s); retrying", exc)
                response = None
            else:
                if response.status_code not in RETRYABLE:
                    return response
            attempt += 1
            if max_attempts is not None and attempt >= max_attempts:
                return response
            self._wait(_retry_after(response, attempt - 1))

    # --- blocking calls -------------------------------------------------------------------------------------

    def send(self, item: dict[str, Any]) -> dict[str, Any]:
        """Post one item now; the collector's reply (``{"ids": [...], "items": [...]}``). Raises when not stored."""
        response = self._post([item], SEND_ATTEMPTS)
        if response is None or response.status_code >= 300:
            detail = response.text if response is not None else "collector unreachable"
            raise RuntimeError(f"feedback was not stored: {detail}")
        FEEDBACK.add("sent")
        return response.json()  # type: ignore[no-any-return]

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        """A blocking call to another collector route (tokens, score configs, deletes), retried like feedback."""
        response: httpx.Response | None = None
        for attempt in range(SEND_ATTEMPTS):
            try:
                response = self._client().request(method, f"{self.endpoint}{path}", json=body)
            except httpx.HTTPError as exc:
                if attempt + 1 == SEND_ATTEMPTS:
                    raise
                logger.debug("Plaudit request %s %s failed (%s); retrying", method, path, exc)
            else:
                if response.status_code not in RETRYABLE or attempt + 1 == SEND_ATTEMPTS:
                    return response
            (self._sleep or time.sleep)(_retry_after(response, attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    # --- flush, shutdown, spool -----------------------------------------------------------------------------

    def pending(self) -> int:
        """Items queued or in flight, not yet acknowledged."""
        with self._cond:
            return len(self._queue) + len(self._in_flight)

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every queued item was acknowledged or refused for good.

        False when the time ran out (logging what waits) or when any item was dropped or refused since the
        previous flush: True means everything given since then reached the collector.
        """
        deadline = time.monotonic() + max(timeout, 0.0)
        with self._cond:
            while self._queue or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    waiting = [*self._in_flight, *self._queue]
                    logger.warning(
                        "Plaudit flush timed out with %d feedback item(s) unacknowledged (%s)",
                        len(waiting),
                        _summary(waiting),
                    )
                    return False
                self._cond.wait(remaining)
            lost, self._lost_at_flush = self._lost() - self._lost_at_flush, self._lost()
        return lost == 0

    def shutdown(self, timeout: float = 10.0) -> bool:
        """Flush, then stop the worker, within ``timeout`` seconds; what is unsent is spooled or reported lost.

        Returns True when everything was delivered. A batch still in flight at the deadline is spooled too
        (its idempotency keys make a late delivery harmless).
        """
        if self._stopping:
            return True
        deadline = time.monotonic() + max(timeout, 0.0)
        delivered = self.flush(timeout)
        with self._cond:
            self._stopping = True
            self._abort.set()
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(max(deadline - time.monotonic(), 0.0))
        with self._cond:
            self._settled = True
            unsent = [*self._in_flight, *self._queue]
            self._queue.clear()
        if unsent:
            delivered = False
            lost = self._spill(unsent) if self._spool is not None else unsent
            if len(lost) < len(unsent):
                logger.info("Plaudit spooled %d unsent feedback item(s) to %s", len(unsent) - len(lost), self._spool)
            if lost:
                self._drop(
                    len(lost),
                    f"they were not delivered before shutdown ({_summary(lost)}) and no spool_dir is set"
                    " (PLAUDIT_SPOOL_DIR keeps them for the next start)",
                )
        if self._http is not None and (thread is None or not thread.is_alive()):
            self._http.close()
        return delivered

    def _replay_spool(self) -> None:
        """Queue what an earlier run (or an overflow) left in the spool; each file is claimed by one process."""
        assert self._spool is not None
        replayed = 0
        for path in spool.candidates(self._spool):
            claimed = spool.claim(path)
            if claimed is None:
                continue  # another process took it
            items = spool.read(claimed)
            if items is None:
                continue  # quarantined
            room = self._max_queue - len(self._queue)
            if len(items) > room and self._queue:  # an empty queue takes a file of any size, or it would never load
                spool.unclaim(claimed)  # no room now: leave the file for when the queue drains
                self._spilled_now = True
                break
            self._queue.extend(items)
            replayed += len(items)
            claimed.unlink(missing_ok=True)
        if replayed:
            logger.info("Plaudit replays %d feedback item(s) from %s", replayed, self._spool)
            self._ensure_worker()
            self._cond.notify_all()


def build_client(settings: Settings) -> FeedbackClient:
    """The SDK's feedback client for these settings; ``plaudit.shutdown`` (and exit) settle it."""
    return FeedbackClient(
        settings.endpoint, settings.api_key, spool_dir=settings.spool_dir, exit_hook=False, project=settings.project
    )


def _summary(items: list[dict[str, Any]]) -> str:
    counts = collections.Counter(str(item.get("name")) for item in items)
    return ", ".join(f"{name} x{count}" for name, count in counts.most_common(5))


class AsyncFeedbackClient(_BaseFeedbackClient):
    """Await the POST directly; failures are logged and reported as ``None``."""

    def __init__(
        self,
        endpoint: str,
        api_key: str | None = None,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        project: str | None = None,
    ) -> None:
        super().__init__(endpoint, api_key, timeout=timeout, project=project)
        self._transport = transport

    async def send(self, item: dict[str, Any]) -> dict[str, Any] | None:
        """Post one item; the collector's reply, or None (logged) when it was not stored."""
        try:
            async with httpx.AsyncClient(
                timeout=self.timeout, headers=self.headers, transport=self._transport
            ) as client:
                response = await client.post(self.url, json=item)
        except httpx.HTTPError as exc:
            logger.warning("Plaudit could not send feedback %r: %s", item.get("name"), exc)
            return None
        if response.status_code >= 300:
            logger.warning("Plaudit feedback %r rejected: %s", item.get("name"), response.text[:500])
            return None
        FEEDBACK.add("sent")
        return response.json()  # type: ignore[no-any-return]
