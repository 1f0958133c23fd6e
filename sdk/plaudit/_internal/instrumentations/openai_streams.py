"""Observing an ``openai`` stream in place, and the base of what each endpoint accumulates from it.

A ``Stream``/``AsyncStream`` is handed back to the user unchanged; the span of the call that returned it ends
only when the stream does (exhausted, closed, failed, the HTTP response closed by a ``.stream()`` helper, or
the stream dropped unread). Observation swaps the private iterator the stream reads from for a generator
that passes each chunk through untouched and feeds it to a :class:`StreamState`; the chat completions and
Responses API modules subclass that with what their chunks add up to.
"""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from opentelemetry import trace as trace_api

from plaudit import semconv
from plaudit._internal.errors import handle_internal_errors, log_internal_error
from plaudit._internal.instrumentations.openai_common import record_error, record_failure


class StreamState:
    """What a stream's chunks add up to, turned into attributes when the stream ends; ends the span once."""

    def __init__(self, span: trace_api.Span, started: float, capture: bool) -> None:
        self.span = span
        self.started = started
        self.capture = capture
        self.first_chunk_at: float | None = None
        self.ended = False

    def add(self, chunk: Any) -> None:
        if self.first_chunk_at is None:
            self.first_chunk_at = time.perf_counter()
        self._add(chunk)

    def _add(self, chunk: Any) -> None:
        raise NotImplementedError

    def attributes(self) -> dict[str, Any]:
        attrs: dict[str, Any] = {}
        if self.first_chunk_at is not None:
            attrs[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = self.first_chunk_at - self.started
        return attrs

    def failure(self) -> tuple[str, str] | None:
        """A failure the provider reported inside the stream without the library raising it."""
        return None

    def end(self, error: BaseException | None = None) -> None:
        """End the span once: on exhaustion, close, or an error while reading (recorded, never raised here)."""
        if self.ended:
            return
        self.ended = True
        try:
            self.span.set_attributes(self.attributes())
            if error is not None:
                record_error(self.span, error)
            else:
                failure = self.failure()
                if failure is not None:
                    record_failure(self.span, *failure)
            self.span.end()
        except Exception:  # noqa: BLE001 - the stream is the user's; our failure stays ours
            log_internal_error()


def end_when_response_closes(stream: Any, state: StreamState, running: Callable[[], bool], is_async: bool) -> None:
    """End the span when the HTTP response is closed too: the ``.stream()`` helpers close it, not the ``Stream``.

    While our generator runs, the close comes from the library finishing or failing the stream inside it,
    and the generator ends the span itself, with the error if there is one.
    """
    response = getattr(stream, "response", None)
    name = "aclose" if is_async else "close"
    original = getattr(response, name, None)
    if original is None:
        return
    hooked: Callable[[], Any]
    if is_async:

        @functools.wraps(original)
        async def hooked_async() -> None:
            try:
                await original()
            finally:
                if not running():
                    state.end()

        hooked = hooked_async
    else:

        @functools.wraps(original)
        def hooked_sync() -> None:
            try:
                original()
            finally:
                if not running():
                    state.end()

        hooked = hooked_sync
    try:
        setattr(response, name, hooked)
    except (AttributeError, TypeError):
        pass  # a response that takes no instance attributes: an early helper close then ends the span at GC


def observe_sync(stream: Any, state: StreamState) -> None:
    inner: Iterator[Any] = stream._iterator

    def observed() -> Iterator[Any]:
        try:
            for chunk in inner:
                with handle_internal_errors:
                    state.add(chunk)
                yield chunk
        except GeneratorExit:
            state.end()
            raise
        except BaseException as exc:
            state.end(exc)
            raise
        state.end()

    original_close = stream.close

    @functools.wraps(original_close)
    def close() -> None:
        try:
            original_close()
        finally:
            state.end()

    generator = observed()
    stream._iterator = generator
    stream.close = close
    end_when_response_closes(stream, state, lambda: generator.gi_running, is_async=False)


def observe_async(stream: Any, state: StreamState) -> None:
    inner: AsyncIterator[Any] = stream._iterator

    async def observed() -> AsyncIterator[Any]:
        try:
            async for chunk in inner:
                with handle_internal_errors:
                    state.add(chunk)
                yield chunk
        except GeneratorExit:
            state.end()
            raise
        except BaseException as exc:
            state.end(exc)
            raise
        state.end()

    original_close = stream.close

    @functools.wraps(original_close)
    async def close() -> None:
        try:
            await original_close()
        finally:
            state.end()

    generator = observed()
    stream._iterator = generator
    stream.close = close
    end_when_response_closes(stream, state, lambda: generator.ag_running, is_async=True)
