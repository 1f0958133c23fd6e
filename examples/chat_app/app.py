"""A small chat app whose page rates answers straight from the browser, through feedback tokens.

The backend answers with a local deterministic fake LLM (no network), traces the call with
Plaudit, and mints a feedback token for that answer's span. The page shows the answer with 👍/👎,
a comment box, an "edit answer" box and a Copy button; each posts to the collector's
``/v1/feedback`` with the token (header ``X-Plaudit-Feedback-Token``) and no API key.

    python examples/chat_app/app.py --with-collector      # everything in one process, SQLite file
    # or, against your own collector (it must allow this page's origin):
    PLAUDIT_FEEDBACK_CORS_ORIGINS=http://127.0.0.1:8000 plaudit serve
    python examples/chat_app/app.py

Then open http://127.0.0.1:8000/ and rate an answer; `plaudit leaderboard --score thumbs --by model`.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import uuid
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fake_llm

import plaudit

PAGE = (Path(__file__).resolve().parent / "page.html").read_text(encoding="utf-8")
PROMPT = plaudit.Prompt("support-chat", "v1", "You are a helpful support agent. Question: {question}")
SCORES = ["thumbs", "copied", "correction"]


class Question(BaseModel):
    question: str = Field(min_length=1, max_length=2000)


USER_COOKIE = "plaudit_example_user"


@plaudit.trace(kind="llm", model=fake_llm.MODEL, provider="fake", prompt=PROMPT, config={"temperature": 0.0})
def answer(question: str) -> str:
    text, _tokens_in, _tokens_out = fake_llm.complete(PROMPT.format(question=question))
    return text


def create_app(collector_url: str, *, public_collector_url: str | None = None) -> FastAPI:
    """The chat app; ``public_collector_url`` is the collector as the browser reaches it."""
    app = FastAPI(title="Plaudit chat example")
    browser_collector = (public_collector_url or collector_url).rstrip("/")

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        return PAGE

    @app.post("/api/chat")
    def chat(body: Question, request: Request, response: Response) -> dict[str, Any]:
        # A real app knows its signed-in user; the example keeps one id per browser in a cookie.
        user = request.cookies.get(USER_COOKIE) or f"visitor-{uuid.uuid4().hex[:8]}"
        response.set_cookie(USER_COOKIE, user, max_age=365 * 24 * 3600, httponly=True, samesite="lax")
        with plaudit.context(user_id=user, session_id=user):
            text = answer(body.question)
        ref = plaudit.last_ref()  # the answer's span, what the user rates; never part of the answer itself
        if ref is None:  # tracing is off: the page still works, without rating controls
            return {"answer": text, "token": None}
        plaudit.flush(timeout=5)  # the span reaches the collector before the user can rate it (not required)
        token = plaudit.feedback_token(ref, names=SCORES, ttl=3600, author=user)
        return {
            "answer": text,
            "ref": str(ref),
            "trace_id": ref.trace_id,
            "span_id": ref.span_id,
            "token": token,
            "token_header": "X-Plaudit-Feedback-Token",
            "collector": browser_collector,
            "user": user,
        }

    return app


def _check_free(parser: argparse.ArgumentParser, host: str, port: int, option: str) -> None:
    """Stop with one line naming the port and the option to change when something already listens there."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: only a listener clashes
        try:
            probe.bind((host, port))
        except OSError as exc:
            parser.error(f"port {port} on {host} is already in use ({exc.strerror}): pass {option} with a free port")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--with-collector", action="store_true", help="start a collector in this process")
    parser.add_argument("--db", default="chat-example.db", help="SQLite file for --with-collector")
    parser.add_argument("--collector-port", type=int, default=4318, help="port for --with-collector's collector")
    args = parser.parse_args(argv)
    _check_free(parser, args.host, args.port, "--port")
    if args.with_collector:
        _check_free(parser, args.host, args.collector_port, "--collector-port")
    endpoint = os.environ.get("PLAUDIT_ENDPOINT", "http://127.0.0.1:4318")
    server = None
    if args.with_collector:
        from plaudit_collector.server import BackgroundServer
        from plaudit_collector.settings import CollectorSettings

        origin = f"http://{args.host}:{args.port}"
        settings = CollectorSettings(db_url=args.db, feedback_cors_origins=(origin,))
        server = BackgroundServer(settings, port=args.collector_port).start()
        endpoint = server.url
        print(f"collector on {endpoint} (database {args.db})", flush=True)
    plaudit.configure(endpoint=endpoint, service_name="chat-example")
    print(f"chat app on http://{args.host}:{args.port}/", flush=True)
    try:
        uvicorn.run(create_app(endpoint), host=args.host, port=args.port, log_level="warning")
    finally:
        plaudit.shutdown()
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
