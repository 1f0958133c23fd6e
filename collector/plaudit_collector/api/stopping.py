"""A request the stopping collector cuts off gets a clean 503, not uvicorn's bare 500.

When the collector stops, requests still running after the grace period are cancelled (see
:mod:`plaudit_collector.server`). Their writes are one transaction each, so nothing of them is stored unless
it was committed; the client is told to retry, as for a database outage, and OTLP exporters and the SDK's
feedback client do.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from plaudit_collector.errors import error_body

_MESSAGE = "the collector is stopping and did not finish this request; retry after the delay in Retry-After"


class RefuseCutRequests:
    """ASGI middleware: a request cancelled before its reply started is answered 503 with ``Retry-After``."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: dict[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except asyncio.CancelledError:
            if started:
                raise
            settings = scope["app"].state.settings
            body = json.dumps(error_body("stopping", _MESSAGE, None)).encode()
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(max(1, settings.retry_after_seconds)).encode()),
                (b"connection", b"close"),
            ]
            await send({"type": "http.response.start", "status": 503, "headers": headers})
            await send({"type": "http.response.body", "body": body})
