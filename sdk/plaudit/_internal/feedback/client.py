"""Ship feedback to the collector: queued and batched by default, blocking or async on request.

Durability: an item leaves the queue only when the collector acknowledged it (2xx) or refused it
for good (a 4xx other than 408/429, or a 500). Everything else (connection errors, timeouts, 408,
429, 502-504) is retried with capped exponential backoff and jitter, honouring ``Retry-After``.
Memory is bounded: past ``max_queue`` the oldest item is dropped (counted, logged with a rate
limit) or, with a spool directory, written to disk. Unsent items are spilled to the spool
directory at shutdown and replayed by the next client that starts with it. Every item carries an
idempotency key, so a retried or replayed item is stored once.
"""

from __future__ import annotations

import atexit
import collections
import json
import math
import os
import random
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from plaudit._internal.config import request_headers
from plaudit._internal.errors import logger

RETRYABLE = frozenset({408, 429, 502, 503, 504})
MAX_BACKOFF = 5.0
MAX_RETRY_AFTER = 30.0
SEND_ATTEMPTS = 4
"""A blocking ``send`` (``wait=True``) tries this often, then reports failure to the caller."""
_LOG_EVERY = 30.0


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
    """Shutdown interrupted a retry loop; the batch goes back to the queue."""


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
        self._http: httpx.Client | None = None
        self._spool = Path(spool_dir) / "feedback" if spool_dir else None
        self._spilled_now = False
        self._last_drop_log = -math.inf
        self.dropped = 0
        self.failed = 0
        self.spilled = 0
        self.sent = 0
        atexit.register(self.shutdown)
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

    # --- queueing -------------------------------------------------------------------------------------------

    def submit(self, item: dict[str, Any]) -> None:
        """Queue one item without blocking; past ``max_queue`` the oldest is spilled to disk or dropped."""
        with self._cond:
            if self._stopping:
                logger.warning("Plaudit feedback client is shut down; feedback %r not sent", item.get("name"))
                return
            if len(self._queue) >= self._max_queue:
                self._overflow(self._queue.popleft())
            self._queue.append(item)
            self._ensure_worker()
            self._cond.notify_all()

    def _ensure_worker(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="plaudit-feedback", daemon=True)
            self._thread.start()

    def _overflow(self, oldest: dict[str, Any]) -> None:
        if self._spool is not None and self._write_spool([oldest]):
            self.spilled += 1
            self._spilled_now = True
            return
        self.dropped += 1
        now = time.monotonic()
        if self.dropped == 1 or now - self._last_drop_log >= _LOG_EVERY:
            self._last_drop_log = now
            logger.warning("Plaudit feedback queue full: %d items dropped so far", self.dropped)

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
            try:
                self._deliver(batch)
            except _Aborted:
                with self._cond:
                    self._queue.extendleft(reversed(batch))
            except Exception:  # noqa: BLE001 - the worker thread must survive anything
                logger.exception("Plaudit feedback worker failed on a batch of %d", len(batch))
                self.failed += len(batch)
            finally:
                with self._cond:
                    self._in_flight = []
                    if self._spilled_now and not self._queue and not self._stopping:
                        self._spilled_now = False
                        self._replay_spool()
                    self._cond.notify_all()

    def _deliver(self, batch: list[dict[str, Any]]) -> None:
        response = self._post(batch, self._max_attempts)
        if response is not None and response.status_code < 300:
            self.sent += len(batch)
            return
        if response is not None and response.status_code == 422 and len(batch) > 1:
            for index, item in enumerate(batch):  # one bad item rejects its batch: resend singly so the good ones land
                try:
                    self._deliver([item])
                except _Aborted:
                    with self._cond:
                        self._queue.extendleft(reversed(batch[index:]))
                    return
            return
        self.failed += len(batch)
        detail = response.text[:500] if response is not None else "collector unreachable"
        logger.warning("Plaudit could not store %d feedback item(s): %s", len(batch), detail)

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
            delay = _retry_after(response, attempt - 1)
            if self._sleep is not None:
                self._sleep(delay)
            elif self._abort.wait(delay):
                raise _Aborted

    # --- blocking calls -------------------------------------------------------------------------------------

    def send(self, item: dict[str, Any]) -> dict[str, Any]:
        """Post one item now; the collector's reply (``{"ids": [...], "items": [...]}``). Raises when not stored."""
        response = self._post([item], SEND_ATTEMPTS)
        if response is None or response.status_code >= 300:
            detail = response.text if response is not None else "collector unreachable"
            raise RuntimeError(f"feedback was not stored: {detail}")
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
        """Wait until every queued item was acknowledged (or refused for good); False on timeout, logging what waits."""
        deadline = time.monotonic() + timeout
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
        return True

    def shutdown(self, timeout: float = 10.0) -> None:
        """Flush, then stop the worker; what is still unsent goes to the spool directory (or is reported lost)."""
        if self._stopping:
            return
        self.flush(timeout)
        with self._cond:
            self._stopping = True
            self._abort.set()
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=max(self.timeout, 1.0) + 1.0)
        with self._cond:
            unsent = [*self._in_flight, *self._queue]
            self._queue.clear()
        if unsent:
            if self._spool is not None and self._write_spool(unsent):
                self.spilled += len(unsent)
                logger.warning("Plaudit spooled %d unsent feedback item(s) to %s", len(unsent), self._spool)
            else:
                self.dropped += len(unsent)
                logger.warning(
                    "Plaudit shut down with %d feedback item(s) not delivered (%s); set PLAUDIT_SPOOL_DIR to keep them",
                    len(unsent),
                    _summary(unsent),
                )
        if self._http is not None:
            self._http.close()

    def _write_spool(self, items: list[dict[str, Any]]) -> bool:
        """Write items to a new file, atomically (a reader never sees half a file)."""
        assert self._spool is not None
        try:
            self._spool.mkdir(parents=True, exist_ok=True)
            name = f"{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            tmp = self._spool / f".{name}.tmp"
            tmp.write_text("\n".join(json.dumps(item) for item in items) + "\n", encoding="utf-8")
            os.replace(tmp, self._spool / f"{name}.jsonl")
            return True
        except OSError as exc:
            logger.warning("Plaudit could not write the feedback spool at %s: %s", self._spool, exc)
            return False

    def _replay_spool(self) -> None:
        """Queue what an earlier run (or an overflow) left in the spool; each file is claimed by one process."""
        assert self._spool is not None
        try:
            files = sorted(self._spool.glob("*.jsonl"))
        except OSError:
            return
        replayed = 0
        for path in files:
            claimed = path.with_suffix(f".claimed-{os.getpid()}")
            try:
                os.replace(path, claimed)  # another process that got there first makes this fail
                lines = claimed.read_text(encoding="utf-8").splitlines()
            except OSError:
                continue
            items = []
            for line in lines:
                try:
                    items.append(json.loads(line))
                except ValueError:
                    logger.warning("Plaudit skipped a damaged line in the feedback spool %s", path)
            room = self._max_queue - len(self._queue)
            if len(items) > room and self._queue:  # an empty queue takes a file of any size, or it would never load
                os.replace(claimed, path)  # no room now: leave the file for when the queue drains
                self._spilled_now = True
                break
            self._queue.extend(items)
            replayed += len(items)
            claimed.unlink(missing_ok=True)
        if replayed:
            logger.info("Plaudit replays %d feedback item(s) from %s", replayed, self._spool)
            self._ensure_worker()
            self._cond.notify_all()


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
        return response.json()  # type: ignore[no-any-return]
