"""Queue, batching, retry and back-off semantics of the feedback clients, over ``httpx.MockTransport``.

Only the HTTP transport and the sleep function are replaced; the queue, the worker thread and
the retry logic are the real ones. End-to-end delivery to a real collector is tested elsewhere.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

import plaudit
from plaudit._internal.feedback.client import AsyncFeedbackClient, FeedbackClient
from plaudit._internal.feedback.items import build_item
from plaudit._internal.state import STATE
from plaudit.testing import InMemorySpanExporter

ENDPOINT = "http://collector.test:4318/"
REF = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
WAIT = 5.0  # generous: only reached when something is broken


def item(name: str = "thumbs", value: Any = True) -> dict[str, Any]:
    return build_item(REF, name, value)


class Collector:
    """A stand-in for the collector's HTTP answers; records every request it sees."""

    def __init__(self, respond: Callable[[httpx.Request, int], httpx.Response] | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.respond = respond or (lambda request, n: httpx.Response(200, json={"ids": ["1"]}))
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.requests.append(request)
            n = len(self.requests)
        self.entered.set()
        assert self.gate.wait(WAIT), "test never released the gate"
        return self.respond(request, n)

    @property
    def bodies(self) -> list[Any]:
        return [json.loads(r.content) for r in self.requests]

    def items(self) -> list[dict[str, Any]]:
        """Every item received, batches unpacked, in arrival order."""
        out: list[dict[str, Any]] = []
        for body in self.bodies:
            out.extend(body["items"] if "items" in body else [body])
        return out

    def hold(self) -> None:
        """Block the worker inside its next request until :meth:`release`."""
        self.gate.clear()
        self.entered.clear()

    def release(self) -> None:
        self.gate.set()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_client(sleeps: list[float]) -> Iterator[Callable[..., FeedbackClient]]:
    clients: list[FeedbackClient] = []

    def make(collector: Collector, **kwargs: Any) -> FeedbackClient:
        client = FeedbackClient(
            ENDPOINT, "secret-key", transport=httpx.MockTransport(collector), sleep=sleeps.append, **kwargs
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.shutdown(timeout=WAIT)


def test_single_item_is_posted_bare_with_auth(make_client: Callable[..., FeedbackClient]) -> None:
    collector = Collector()
    client = make_client(collector)
    sent = item()
    client.submit(sent)
    assert client.flush(WAIT) is True

    (request,) = collector.requests
    assert request.method == "POST"
    assert str(request.url) == "http://collector.test:4318/v1/feedback"
    assert request.headers["authorization"] == "Bearer secret-key"
    assert request.headers["content-type"] == "application/json"
    assert collector.bodies == [sent]
    assert (client.dropped, client.failed) == (0, 0)


def test_queued_items_are_sent_in_batches(make_client: Callable[..., FeedbackClient]) -> None:
    collector = Collector()
    client = make_client(collector, batch_size=100)
    collector.hold()
    client.submit(item("warm-up"))
    assert collector.entered.wait(WAIT)  # the worker is busy: the next items queue up
    queued = [item(f"n{i}", i) for i in range(250)]
    for it in queued:
        client.submit(it)
    collector.release()
    assert client.flush(WAIT) is True

    bodies = collector.bodies
    assert bodies[0]["name"] == "warm-up"
    assert [len(b["items"]) for b in bodies[1:]] == [100, 100, 50]
    assert collector.items()[1:] == queued  # order kept
    assert (client.dropped, client.failed) == (0, 0)


def test_503_is_retried_honouring_retry_after(make_client: Callable[..., FeedbackClient], sleeps: list[float]) -> None:
    def respond(request: httpx.Request, n: int) -> httpx.Response:
        if n == 1:
            return httpx.Response(503, headers={"Retry-After": "2"})
        return httpx.Response(200, json={"ids": ["a"]})

    collector = Collector(respond)
    client = make_client(collector)
    client.submit(item())
    assert client.flush(WAIT) is True

    assert sleeps == [2.0]
    first, second = collector.bodies
    assert first == second  # same idempotency key: the collector stores it once
    assert client.failed == 0


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_retryable_statuses_back_off_with_jitter(
    make_client: Callable[..., FeedbackClient], sleeps: list[float], status: int
) -> None:
    collector = Collector(lambda request, n: httpx.Response(status if n <= 3 else 200, json={}))
    client = make_client(collector)
    client.submit(item())
    assert client.flush(WAIT) is True

    assert len(collector.requests) == 4
    assert len(sleeps) == 3
    for attempt, delay in enumerate(sleeps):
        base = 0.1 * 2**attempt
        assert 0.5 * base <= delay <= 1.5 * base  # exponential, jittered


def test_retry_after_is_capped(make_client: Callable[..., FeedbackClient], sleeps: list[float]) -> None:
    responses = iter([httpx.Response(429, headers={"Retry-After": "3600"}), httpx.Response(200, json={})])
    client = make_client(Collector(lambda request, n: next(responses)))
    client.submit(item())
    assert client.flush(WAIT) is True
    assert sleeps == [30.0]


@pytest.mark.parametrize(
    ("header", "expected"),
    [("-5", 0.0), ("0", 0.0), ("1.5", 1.5), ("nan", None), ("Wed, 21 Oct 2015 07:28:00 GMT", None)],
)
def test_odd_retry_after_values_never_break_the_worker(
    make_client: Callable[..., FeedbackClient], sleeps: list[float], header: str, expected: float | None
) -> None:
    responses = iter([httpx.Response(503, headers={"Retry-After": header}), httpx.Response(200, json={})])
    client = make_client(Collector(lambda request, n: next(responses)))
    client.submit(item())
    assert client.flush(WAIT) is True
    assert client.failed == 0
    (delay,) = sleeps
    if expected is None:  # unusable header: our own jittered backoff
        assert 0.05 <= delay <= 0.15
    else:
        assert delay == expected


def test_connection_errors_are_retried(make_client: Callable[..., FeedbackClient], sleeps: list[float]) -> None:
    def respond(request: httpx.Request, n: int) -> httpx.Response:
        if n < 3:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(200, json={})

    collector = Collector(respond)
    client = make_client(collector)
    client.submit(item())
    assert client.flush(WAIT) is True
    assert len(collector.requests) == 3
    assert len(sleeps) == 2
    assert client.failed == 0


def test_gives_up_after_max_attempts_and_logs(
    make_client: Callable[..., FeedbackClient], sleeps: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    collector = Collector(lambda request, n: httpx.Response(503, text="overloaded"))
    client = make_client(collector, max_attempts=4)
    with caplog.at_level(logging.WARNING, logger="plaudit"):
        client.submit(item())
        assert client.flush(WAIT) is False  # drained, but an item was given up on: not everything arrived

    assert len(collector.requests) == 4
    assert len(sleeps) == 3  # no sleep after the last attempt
    assert client.failed == 1
    (said,) = [r.getMessage() for r in caplog.records if "feedback item" in r.getMessage()]
    assert "dropped 1 feedback item(s)" in said and "in 4 attempts (HTTP 503)" in said, said
    assert "check that it is up" in said  # what to do


@pytest.mark.parametrize("status", [400, 409, 422, 500])
def test_a_refused_item_is_not_retried_and_flush_says_so(
    make_client: Callable[..., FeedbackClient], sleeps: list[float], status: int
) -> None:
    collector = Collector(lambda request, n: httpx.Response(status, json={"error": {"code": "x"}}))
    client = make_client(collector)
    client.submit(item())
    assert client.flush(WAIT) is False  # the item was refused: lost, and flush says so
    assert len(collector.requests) == 1
    assert sleeps == []
    assert client.failed == 1
    assert plaudit.stats()["feedback"]["rejected"] >= 1
    client.submit(item())
    collector.respond = lambda request, n: httpx.Response(200, json={"ids": ["1"]})
    assert client.flush(WAIT) is True  # nothing lost since the previous flush


@pytest.mark.parametrize("status", [401, 403, 404])
def test_a_configuration_error_is_said_once_and_retried_slowly_keeping_the_items(
    make_client: Callable[..., FeedbackClient], status: int, caplog: pytest.LogCaptureFixture
) -> None:
    waits: list[float] = []
    released = threading.Event()

    def slow_sleep(delay: float) -> None:
        waits.append(delay)
        released.wait(delay)

    collector = Collector(lambda request, n: httpx.Response(status, json={"error": {"code": "x"}}))
    client = FeedbackClient(ENDPOINT, "wrong-key", transport=httpx.MockTransport(collector), sleep=slow_sleep)
    try:
        with caplog.at_level(logging.WARNING, logger="plaudit"):
            for _ in range(3):
                client.submit(item())
            assert client.flush(0.5) is False
        assert len(collector.requests) == 1, "no flood: one try, then a wait of minutes"
        assert waits and waits[0] >= 30
        assert client.pending() == 3 and client.failed == 0, "the items are kept"
        said = [r.getMessage() for r in caplog.records if f"HTTP {status}:" in r.getMessage()]
        assert len(said) == 1 and ENDPOINT.rstrip("/") in said[0]
        assert ("API key" in said[0]) if status != 404 else ("no Plaudit collector answers" in said[0])
    finally:
        released.set()
        client.shutdown(timeout=1)


def test_422_on_a_batch_falls_back_to_single_items(make_client: Callable[..., FeedbackClient]) -> None:
    def respond(request: httpx.Request, n: int) -> httpx.Response:
        body = json.loads(request.content)
        if "items" in body or body["name"] == "bad":
            return httpx.Response(422, json={"error": {"code": "invalid", "message": "bad item", "field": "name"}})
        return httpx.Response(200, json={"ids": [body["name"]]})

    collector = Collector(respond)
    client = make_client(collector)
    collector.hold()
    client.submit(item("warm-up"))
    assert collector.entered.wait(WAIT)
    for name in ("good-1", "bad", "good-2"):
        client.submit(item(name))
    collector.release()
    assert client.flush(WAIT) is False  # one item was refused: flush says not everything arrived

    bodies = collector.bodies
    assert [b["name"] for b in bodies[1]["items"]] == ["good-1", "bad", "good-2"]  # the rejected batch
    singles = [b["name"] for b in bodies[2:] if "items" not in b]
    assert sorted(singles) == ["bad", "good-1", "good-2"]  # halved until the bad one stood alone
    assert client.failed == 1 and client.sent == 3  # only the bad one is lost (warm-up + two good)


def test_one_bad_item_in_a_large_batch_costs_one_item(make_client: Callable[..., FeedbackClient]) -> None:
    def respond(request: httpx.Request, n: int) -> httpx.Response:
        body = json.loads(request.content)
        names = [i["name"] for i in body.get("items", [body])]
        return httpx.Response(500, text="boom") if "bad" in names else httpx.Response(200, json={"ids": names})

    collector = Collector(respond)
    client = make_client(collector, batch_size=64)
    collector.hold()
    client.submit(item("warm-up"))
    assert collector.entered.wait(WAIT)
    for index in range(63):
        client.submit(item("bad" if index == 40 else f"good-{index}"))
    collector.release()
    assert client.flush(WAIT) is False
    assert (client.sent, client.failed) == (63, 1)
    assert len(collector.requests) <= 2 + 2 * 7, "halving: a few requests, not one per item"


def test_flush_returns_false_on_timeout_then_true_when_drained(make_client: Callable[..., FeedbackClient]) -> None:
    collector = Collector()
    client = make_client(collector)
    collector.hold()
    client.submit(item("stuck"))
    assert collector.entered.wait(WAIT)
    client.submit(item("queued"))

    assert client.flush(timeout=0.05) is False
    collector.release()
    assert client.flush(WAIT) is True
    assert [it["name"] for it in collector.items()] == ["stuck", "queued"]


def test_flush_on_an_idle_client_is_immediate(make_client: Callable[..., FeedbackClient]) -> None:
    assert make_client(Collector()).flush(timeout=0) is True


def test_full_queue_drops_the_oldest_and_counts(
    make_client: Callable[..., FeedbackClient], caplog: pytest.LogCaptureFixture
) -> None:
    collector = Collector()
    client = make_client(collector, max_queue=5, batch_size=100)
    collector.hold()
    client.submit(item("in-flight"))
    assert collector.entered.wait(WAIT)
    with caplog.at_level(logging.WARNING, logger="plaudit"):
        for i in range(8):
            client.submit(item(f"n{i}"))

    assert client.dropped == 3
    warnings = [r for r in caplog.records if "more than 5 items waited" in r.getMessage()]
    assert len(warnings) == 1  # rate-limited, not one per dropped item
    collector.release()
    assert client.flush(WAIT) is False  # drained, but three were dropped
    assert [it["name"] for it in collector.items()] == ["in-flight", "n3", "n4", "n5", "n6", "n7"]


def test_worker_survives_a_crashing_transport(
    make_client: Callable[..., FeedbackClient], caplog: pytest.LogCaptureFixture
) -> None:
    def respond(request: httpx.Request, n: int) -> httpx.Response:
        if n == 1:
            raise RuntimeError("transport bug")
        return httpx.Response(200, json={})

    collector = Collector(respond)
    client = make_client(collector)
    with caplog.at_level(logging.ERROR, logger="plaudit"):
        client.submit(item("first"))
        assert client.flush(WAIT) is False  # "first" was lost to the crash, and flush says so
    client.submit(item("second"))
    assert client.flush(WAIT) is True

    assert client.failed == 1
    assert [it["name"] for it in collector.items()] == ["first", "second"]
    assert any("worker failed" in r.getMessage() for r in caplog.records)


def test_submit_after_shutdown_is_dropped_with_a_warning(
    make_client: Callable[..., FeedbackClient], caplog: pytest.LogCaptureFixture
) -> None:
    collector = Collector()
    client = make_client(collector)
    client.submit(item("before"))
    client.shutdown(timeout=WAIT)
    with caplog.at_level(logging.WARNING, logger="plaudit"):
        client.submit(item("after"))
    assert [it["name"] for it in collector.items()] == ["before"]
    assert any("shut down" in r.getMessage() for r in caplog.records)


def test_send_posts_now_and_returns_the_reply(make_client: Callable[..., FeedbackClient]) -> None:
    client = make_client(Collector(lambda request, n: httpx.Response(201, json={"ids": ["fb-1"]})))
    assert client.send(item()) == {"ids": ["fb-1"]}


def test_send_raises_when_not_stored(make_client: Callable[..., FeedbackClient]) -> None:
    client = make_client(Collector(lambda request, n: httpx.Response(422, text="bad value")))
    with pytest.raises(RuntimeError, match="bad value"):
        client.send(item())


def test_async_client_returns_the_reply() -> None:
    seen: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ids": ["x"]})

    client = AsyncFeedbackClient(ENDPOINT, "k", transport=httpx.MockTransport(handler))
    sent = item()
    assert asyncio.run(client.send(sent)) == {"ids": ["x"]}
    assert json.loads(seen[0].content) == sent
    assert seen[0].headers["authorization"] == "Bearer k"


def test_async_client_logs_and_returns_none_on_failure(caplog: pytest.LogCaptureFixture) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if json.loads(request.content)["name"] == "down":
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(500, text="db is down")

    client = AsyncFeedbackClient(ENDPOINT, transport=httpx.MockTransport(handler))
    with caplog.at_level(logging.WARNING, logger="plaudit"):
        assert asyncio.run(client.send(item("rejected"))) is None
        assert asyncio.run(client.send(item("down"))) is None
    messages = [r.getMessage() for r in caplog.records]
    assert any("rejected" in m and "db is down" in m for m in messages)
    assert any("could not send feedback 'down'" in m for m in messages)


def test_plaudit_feedback_goes_through_the_configured_client(
    exporter: InMemorySpanExporter, sleeps: list[float]
) -> None:
    """The facade: ``ref=None`` means the current span, a ref string works, ``flush()`` drains, ``wait`` replies."""
    collector = Collector(lambda request, n: httpx.Response(200, json={"ids": [f"fb-{n}"]}))
    STATE.feedback = FeedbackClient(ENDPOINT, transport=httpx.MockTransport(collector), sleep=sleeps.append)

    @plaudit.trace
    def handler() -> plaudit.SpanRef | None:
        assert plaudit.feedback(None, "auto", True) is None  # queued, not sent inline
        return plaudit.current_ref()

    ref = handler()
    assert ref is not None
    plaudit.feedback(str(ref), "stars", 4, comment="nice", author="ada")
    assert plaudit.flush(timeout=WAIT) is True
    assert [(it["name"], it["trace_id"], it["span_id"]) for it in collector.items()] == [
        ("auto", ref.trace_id, ref.span_id),
        ("stars", ref.trace_id, ref.span_id),
    ]
    assert collector.items()[1]["comment"] == "nice"

    reply = plaudit.feedback(plaudit.SpanRef(ref.trace_id), "overall", "good", wait=True)
    assert reply == {"ids": [f"fb-{len(collector.requests)}"]}  # the collector's answer to that very request
    assert collector.items()[-1]["span_id"] is None


def test_408_and_long_outages_are_retried_until_acknowledged(
    make_client: Callable[..., FeedbackClient], sleeps: list[float]
) -> None:
    def respond(request: httpx.Request, n: int) -> httpx.Response:
        if n <= 20:
            return httpx.Response(408 if n % 2 else 503)
        return httpx.Response(201, json={"ids": [1]})

    client = make_client(Collector(respond))  # default max_attempts: keep trying
    client.submit(item())
    assert client.flush(WAIT) is True
    assert len(sleeps) == 20
    assert max(sleeps) <= 7.5  # capped backoff (5 s, jittered)
    assert (client.failed, client.sent) == (0, 1)


def test_flush_timeout_reports_what_waits(
    make_client: Callable[..., FeedbackClient], caplog: pytest.LogCaptureFixture
) -> None:
    collector = Collector()
    client = make_client(collector)
    collector.hold()
    client.submit(item("stuck"))
    assert collector.entered.wait(WAIT)
    client.submit(item("stars", 3))
    with caplog.at_level(logging.WARNING, logger="plaudit"):
        assert client.flush(timeout=0.05) is False
    assert client.pending() == 2
    assert any(
        "2 feedback item(s) unacknowledged" in r.getMessage() and "stars x1" in r.getMessage() for r in caplog.records
    )
    collector.release()


def test_shutdown_spools_unsent_items_and_a_new_client_replays_them(
    tmp_path: Any, sleeps: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    down = Collector(lambda request, n: httpx.Response(503))
    first = FeedbackClient(ENDPOINT, transport=httpx.MockTransport(down), sleep=sleeps.append, spool_dir=tmp_path)
    sent = [item(f"n{i}") for i in range(5)]
    for it in sent:
        first.submit(it)
    with caplog.at_level(logging.INFO, logger="plaudit"):
        first.shutdown(timeout=0.1)
    assert first.spilled == 5
    assert any("spooled 5" in r.getMessage() for r in caplog.records)

    up = Collector()
    second = FeedbackClient(ENDPOINT, transport=httpx.MockTransport(up), sleep=sleeps.append, spool_dir=tmp_path)
    try:
        assert second.flush(WAIT) is True
    finally:
        second.shutdown(timeout=WAIT)
    assert sorted(it["idempotency_key"] for it in up.items()) == sorted(it["idempotency_key"] for it in sent)
    assert list((tmp_path / "feedback").iterdir()) == []
