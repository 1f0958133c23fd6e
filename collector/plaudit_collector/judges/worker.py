"""The judge worker: queues new matching spans, claims due runs, calls the judge's model with bounded
concurrency, and writes each rating as feedback (``source="llm_judge"``, ``author="<name>@<hash>"``, the
judge's reasoning as the comment).

It runs beside the collector (a daemon thread the app starts when ``judges`` is on) or alone
(``plaudit judges worker``). Every step is its own short transaction on the shared database, so ingest never
waits on a model. Failures retry with exponential backoff and jitter (honouring ``Retry-After``) until
``max_attempts``, then land in the dead letters; permanent errors (a bad key, an unknown model) go there at
once. A per-judge rate (calls per minute) is kept in this process; the hourly budget in the database.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from plaudit_collector.judges import llm, scan
from plaudit_collector.judges.reply import ReplyError, instructions, parse_reply, scale_text
from plaudit_collector.judges.spec import render
from plaudit_collector.judges.tracing import record_call
from plaudit_collector.settings import CollectorSettings
from plaudit_collector.store import judge_runs, judges
from plaudit_collector.store.db import Database
from plaudit_collector.store.judge_runs import Claim, FeedbackRejected
from plaudit_collector.store.judges import author

log = logging.getLogger("plaudit_collector.judges")

MAX_ATTEMPTS = 5
BACKOFF_BASE = 2.0
BACKOFF_CAP = 600.0


@dataclass
class RunStats:
    """What one pass did."""

    queued: int = 0
    claimed: int = 0
    scored: int = 0
    retried: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "queued": self.queued,
            "claimed": self.claimed,
            "scored": self.scored,
            "retried": self.retried,
            "dead": self.dead,
            "errors": self.errors[:10],
        }


def backoff(attempt: int, rng: random.Random | None = None) -> float:
    """Seconds before attempt ``attempt + 1``: 2, 4, 8, ... capped at 10 minutes, times a 0.5–1.5 jitter."""
    base = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(attempt - 1, 0))
    return base * (0.5 + (rng or random).random())


class RateLimiter:
    """Spaces one judge's calls at least 60/rate seconds apart within this process."""

    def __init__(self) -> None:
        self._next: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def wait(self, key: tuple[str, str], per_minute: int | None, stop: threading.Event) -> bool:
        """Block until this call may go; False when ``stop`` is set meanwhile."""
        if not per_minute:
            return not stop.is_set()
        gap = 60.0 / per_minute
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next.get(key, now))
            self._next[key] = slot + gap
        return not stop.wait(max(0.0, slot - now))


class JudgeWorker:
    """Runs enabled judges (of one project and judge, or of every project) until stopped."""

    def __init__(
        self,
        db: Database,
        *,
        concurrency: int = 4,
        poll_interval: float = 2.0,
        lease: float = 300.0,
        timeout: float = 60.0,
        max_attempts: int = MAX_ATTEMPTS,
        project: str | None = None,
        name: str | None = None,
        worker_id: str | None = None,
    ) -> None:
        self.db = db
        self.concurrency = max(1, concurrency)
        self.poll_interval = poll_interval
        self.lease = lease
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.project = project
        self.name = name
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._stop = threading.Event()
        self._limiter = RateLimiter()
        self._pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="plaudit-judge")
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ loop

    def start(self) -> JudgeWorker:
        self._thread = threading.Thread(target=self._loop, name="plaudit-judges", daemon=True)
        self._thread.start()
        return self

    def request_stop(self) -> None:
        """Stop claiming new runs, without waiting (a stopping collector calls this before its last requests)."""
        self._stop.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop claiming; calls in flight finish in the background or are re-claimed after their lease."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                stats = self.run_once()
            except Exception:
                log.exception("judge worker pass failed")
                stats = RunStats()
            if not stats.claimed:
                self._stop.wait(self.poll_interval)

    def run_once(self, limit: int | None = None) -> RunStats:
        """One pass: queue new spans for every enabled judge, then claim and run up to ``limit`` due runs."""
        stats = RunStats()
        defs = {(j.project, j.name): j for j in judges.enabled_judges(self.db, self.project, self.name)}
        for judge in defs.values():
            stats.queued += scan.discover(self.db, judge)
        if self._stop.is_set() or not defs:
            return stats
        claims = judge_runs.claim(
            self.db,
            self.worker_id,
            limit or self.concurrency * 2,
            time.time(),
            lease=self.lease,
            project=self.project,
            name=self.name,
        )
        stats.claimed = len(claims)
        futures = [self._pool.submit(self._run, defs[(c.project, c.judge_name)], c) for c in claims]
        wait(futures)
        for future in futures:
            outcome, error = future.result()
            if outcome != "released":
                setattr(stats, outcome, getattr(stats, outcome) + 1)
            if error:
                stats.errors.append(error)
        return stats

    # ------------------------------------------------------------------ one run

    def _run(self, judge: Any, claim: Claim) -> tuple[str, str | None]:
        """Score one claimed span; returns (scored | retried | dead | released, error)."""
        if not self._limiter.wait((judge.project, judge.name), judge.rate_per_minute, self._stop):
            judge_runs.release(self.db, [claim])
            return "released", None
        try:
            self._score(judge, claim)
            return "scored", None
        except _Failure as failure:
            retry_at = None
            if failure.retryable and claim.attempts < self.max_attempts:
                delay = failure.retry_after if failure.retry_after is not None else backoff(claim.attempts)
                retry_at = time.time() + delay
            status = judge_runs.fail(self.db, claim, str(failure), retry_at=retry_at)
            log.info("judge %s on %s/%s: %s (%s)", judge.name, claim.trace_id, claim.span_id, failure, status)
            return ("dead" if status == "dead" else "retried"), str(failure)
        except Exception as exc:
            log.exception("judge %s failed unexpectedly", judge.name)
            judge_runs.fail(self.db, claim, f"internal error: {exc}", retry_at=time.time() + backoff(claim.attempts))
            return "retried", f"internal error: {exc}"

    def _score(self, judge: Any, claim: Claim) -> None:
        values = scan.span_context(self.db, claim.project, claim.trace_id, claim.span_id)
        if values is None:
            raise _Failure("the span is no longer stored", retryable=False)
        values["score"] = judge.score
        values["scale"] = scale_text(judge.score_config)
        system = instructions(judge.score, judge.score_config)
        user = render(judge.prompt, values)
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        start = time.time_ns()
        reply = error = None
        try:
            reply = llm.call(judge, system, user, timeout=self.timeout)
        except llm.CallError as exc:
            error = exc
        trace_id = record_call(
            self.db,
            judge,
            target=(claim.trace_id, claim.span_id),
            messages=messages,
            reply=reply,
            error=str(error) if error else None,
            start_ns=start,
            end_ns=time.time_ns(),
        )
        if error is not None:
            raise _Failure(str(error), retryable=error.retryable, retry_after=error.retry_after)
        assert reply is not None
        try:
            value, reasoning = parse_reply(reply.text, judge.score_config)
        except ReplyError as exc:
            raise _Failure(str(exc), retryable=True) from None
        item = {
            "trace_id": claim.trace_id,
            "span_id": claim.span_id,
            "name": judge.score,
            "value": value,
            "comment": reasoning,
            "source": "llm_judge",
            "author": author(judge.name, judge.hash),
            "metadata": {"judge": judge.name, "judge_hash": judge.hash, "model": judge.model, "trace_id": trace_id},
        }
        try:
            judge_runs.complete(self.db, claim, item)
        except FeedbackRejected as exc:
            raise _Failure(f"rating refused by the score config: {exc.message}", retryable=False) from None


class _Failure(Exception):
    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


def run_judge(db: Database, project: str, name: str, *, limit: int = 100, concurrency: int = 4) -> dict[str, Any]:
    """Queue new spans for one judge and run up to ``limit`` due runs now (``POST /v1/judges/{name}/run``)."""
    worker = JudgeWorker(db, concurrency=concurrency, project=project, name=name)
    try:
        total = RunStats()
        while total.claimed < limit:
            stats = worker.run_once(limit=min(limit - total.claimed, concurrency * 4))
            for key in ("queued", "claimed", "scored", "retried", "dead"):
                setattr(total, key, getattr(total, key) + getattr(stats, key))
            total.errors += stats.errors
            if not stats.claimed:
                break
        return total.as_dict()
    finally:
        worker.stop()


def start_worker(db: Database, settings: CollectorSettings) -> JudgeWorker | None:
    """The collector's background judge worker, when ``settings.judges`` is on."""
    if not settings.judges:
        return None
    return JudgeWorker(db, concurrency=settings.judge_concurrency, poll_interval=settings.judge_poll_seconds).start()
