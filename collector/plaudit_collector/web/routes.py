"""The workspace's routes: one HTML shell for every page, and the static files it loads.

The pages hold no data: their scripts read everything from the REST API (``/v1/...``) with the caller's
API key, so serving them needs no key and reveals nothing. Every response carries a Content-Security-Policy
that allows only this origin's scripts and connections.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
PAGES = (
    "/",
    "/traces",
    "/traces/{trace_id}",
    "/sessions",
    "/users",
    "/queues",
    "/queues/{queue_id}",
    "/leaderboard",
    "/compare",
    "/trend",
    "/segments",
    "/agreement",
    "/preferences",
    "/judges",
    "/experiments",
    "/experiments/{name}",
)
"""Workspace paths; each serves the shell, whose script renders the page the path names."""

router = APIRouter(include_in_schema=False)


def _shell() -> HTMLResponse:
    page = (WEB_DIR / "index.html").read_text(encoding="utf-8")
    return HTMLResponse(page, headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"})


for _path in PAGES:
    router.add_api_route(_path, _shell, methods=["GET"], response_class=HTMLResponse)


class WorkspaceStatic(StaticFiles):
    """The workspace's scripts, styles and vendored libraries, with the security headers."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: dict) -> None:  # type: ignore[type-arg]
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                headers.append((b"cache-control", b"no-cache"))
                message = {**message, "headers": headers}
            await send(message)

        await super().__call__(scope, receive, send_with_headers)


def static_files() -> WorkspaceStatic:
    return WorkspaceStatic(directory=STATIC_DIR)
