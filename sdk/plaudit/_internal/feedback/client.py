"""Ship feedback to the collector: queued and batched by default, blocking or async on request."""

from __future__ import annotations

import atexit
import collections
import math
import os
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from plaudit._internal.errors import logger

RETRYABLE = frozenset({429, 502, 503, 504})


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
                return min(max(delay, 0.0), 30.0)  # time.sleep() raises on a negative or NaN delay
    return min(0.1 * 2**attempt, 5.0) * (0.5 + random.random())  # jitter, not crypto


class _BaseFeedbackClient:
    """Request building shared by the sync and async clients."""

    def __init__(self, endpoint: str, api_key: str | None, *, timeout: float = 10.0) -> None:
        self.url = f"{endpoint.rstrip('/')}/v1/feedback"
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.timeout = timeout


class FeedbackClient(_BaseFeedbackClient):
    """A bounded queue drained by a daemon thread that posts batches and retries with backoff."""

    def __init__(
        self,
        endpoint: str,
        api_key: str | None = None,
        *,
        max_queue: int = 10_000,
        batch_size: int = 100,
        max_attempts: int = 8,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(endpoint, api_key, timeout=timeout)
        self._queue: collections.deque[dict[str, Any]] = collections.deque()
        self._max_queue = max_queue
        self._batch_size = batch_size
        self._max_attempts = max_attempts
        self._transport = transport
        self._sleep = sleep
        self._cond = threading.Condition()
        self._in_flight = 0
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._http: httpx.Client | None = None
        self.dropped = 0
        self.failed = 0
        atexit.register(self.shutdown)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._after_fork)

    def _after_fork(self) -> None:
        self._cond = threading.Condition()
        self._thread = None
        self._http = None
        self._in_flight = 0

    def _client(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(timeout=self.timeout, headers=self.headers, transport=self._transport)
        return self._http

    def submit(self, item: dict[str, Any]) -> None:
        """Queue one item without blocking; the oldest item is dropped when the queue is full."""
        with self._cond:
            if self._stopping:
                logger.warning("Plaudit feedback client is shut down; feedback %r not sent", item.get("name"))
                return
            if len(self._queue) >= self._max_queue:
                self._queue.popleft()
                self.dropped += 1
                if self.dropped == 1 or self.dropped % 1000 == 0:
                    logger.warning("Plaudit feedback queue full: %d items dropped so far", self.dropped)
            self._queue.append(item)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="plaudit-feedback", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def send(self, item: dict[str, Any]) -> dict[str, Any]:
        """Post one item now and return the collector's reply (``{"ids": [...]}``); raises on failure."""
        response = self._post([item])
        if response is None or response.status_code >= 300:
            detail = response.text if response is not None else "collector unreachable"
            raise RuntimeError(f"feedback was not stored: {detail}")
        return response.json()  # type: ignore[no-any-return]

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if not self._queue and self._stopping:
                    return
                batch = [self._queue.popleft() for _ in range(min(self._batch_size, len(self._queue)))]
                self._in_flight += len(batch)
            try:
                self._deliver(batch)
            except Exception:  # noqa: BLE001 - the worker thread must survive anything
                logger.exception("Plaudit feedback worker failed on a batch of %d", len(batch))
                self.failed += len(batch)
            finally:
                with self._cond:
                    self._in_flight -= len(batch)
                    self._cond.notify_all()

    def _deliver(self, batch: list[dict[str, Any]]) -> None:
        response = self._post(batch)
        if response is not None and response.status_code < 300:
            return
        if response is not None and response.status_code == 422 and len(batch) > 1:
            for item in batch:  # one bad item rejects its batch: resend singly so the good ones land
                self._deliver([item])
            return
        self.failed += len(batch)
        detail = response.text[:500] if response is not None else "collector unreachable"
        logger.warning("Plaudit could not store %d feedback item(s): %s", len(batch), detail)

    def _post(self, batch: list[dict[str, Any]]) -> httpx.Response | None:
        """POST with retries on 429/502/503/504 and connection errors; None when never answered."""
        body = {"items": batch} if len(batch) > 1 else batch[0]
        response: httpx.Response | None = None
        for attempt in range(self._max_attempts):
            try:
                response = self._client().post(self.url, json=body)
            except httpx.HTTPError as exc:
                logger.debug("Plaudit feedback post failed (%s); retrying", exc)
                response = None
            else:
                if response.status_code not in RETRYABLE:
                    return response
            if attempt + 1 < self._max_attempts:
                self._sleep(_retry_after(response, attempt))
        return response

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every queued item was sent (or given up on); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    logger.warning("Plaudit flush timed out with %d feedback item(s) unsent", len(self._queue))
                    return False
                self._cond.wait(remaining)
        return True

    def shutdown(self, timeout: float = 10.0) -> None:
        """Flush, then stop the worker thread."""
        self.flush(timeout)
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._http is not None:
            self._http.close()


class AsyncFeedbackClient(_BaseFeedbackClient):
    """Await the POST directly; failures are logged and reported as ``None``."""

    def __init__(
        self,
        endpoint: str,
        api_key: str | None = None,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(endpoint, api_key, timeout=timeout)
        self._transport = transport

    async def send(self, item: dict[str, Any]) -> dict[str, Any] | None:
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
