"""A local HTTP server speaking the OpenAI chat-completions and Anthropic messages wire formats.

The real ``openai``/``anthropic`` client libraries talk to it over real sockets (``base_url`` pointed
here), so instrumentation is tested against the libraries' actual parsing and streaming code. Only the
provider is fake. Shapes follow recorded OpenAI exchanges and the Anthropic Messages API reference.

The request's ``model`` picks the scenario:

* anything ordinary: a text answer (``"Hello from the fake provider."``);
* ``...tool...``: a tool call (``get_weather`` with ``{"city": "Paris"}``);
* ``error-<status>``: an API error with that HTTP status;
* ``...stream-error...`` with ``stream=true``: two chunks, then an error inside the stream.

``"stream": true`` answers with server-sent events; the first chunk waits ``first_chunk_delay`` seconds
so the time to first chunk is measurable. ``replay_openai_body`` answers the next OpenAI call with a
recorded body verbatim.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TEXT = "Hello from the fake provider."
TEXT_PIECES = ["Hello", " from the", " fake provider."]
TOOL_ARGS = '{"city": "Paris"}'
INPUT_TOKENS = 12
OUTPUT_TOKENS = 7


class FakeProvider:
    """Start with ``FakeProvider().start()``; ``.openai_url``/``.anthropic_url`` are the clients' ``base_url``."""

    def __init__(self, first_chunk_delay: float = 0.05) -> None:
        self.first_chunk_delay = first_chunk_delay
        self.requests: list[dict[str, Any]] = []
        self.replay_openai_body: str | None = None
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-provider", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def openai_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def anthropic_url(self) -> str:
        return self.url

    def start(self) -> FakeProvider:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler_for(provider: FakeProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return None

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            provider.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            if self.path.rstrip("/").endswith("/chat/completions"):
                self._openai(body)
            elif self.path.rstrip("/").endswith("/v1/messages"):
                self._anthropic(body)
            else:
                self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

        # --- plumbing ---------------------------------------------------------------------------------------

        def _json(self, status: int, payload: Any, raw: str | None = None) -> None:
            data = (raw if raw is not None else json.dumps(payload)).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.send_header("request-id", "req_fake")
            self.end_headers()
            self.wfile.write(data)

        def _sse(self, events: list[tuple[str | None, Any]]) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("cache-control", "no-cache")
            self.send_header("connection", "close")
            self.end_headers()
            self.close_connection = True
            for i, (event, data) in enumerate(events):
                if i == 0 and provider.first_chunk_delay:
                    time.sleep(provider.first_chunk_delay)
                text = data if isinstance(data, str) else json.dumps(data)
                frame = (f"event: {event}\n" if event else "") + f"data: {text}\n\n"
                try:
                    self.wfile.write(frame.encode())
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    return  # the client closed the stream early

        # --- OpenAI ----------------------------------------------------------------------------------------

        def _openai(self, body: dict[str, Any]) -> None:
            model = str(body.get("model", ""))
            if provider.replay_openai_body is not None:
                raw, provider.replay_openai_body = provider.replay_openai_body, None
                self._json(200, None, raw=raw)
                return
            if model.startswith("error-"):
                status = int(model.split("-", 1)[1])
                self._json(status, {"error": {"message": f"fake {status}", "type": "fake_error", "code": str(status)}})
                return
            if body.get("stream"):
                self._sse(_openai_stream(body))
                return
            self._json(200, _openai_completion(body))

        # --- Anthropic -------------------------------------------------------------------------------------

        def _anthropic(self, body: dict[str, Any]) -> None:
            model = str(body.get("model", ""))
            if model.startswith("error-"):
                status = int(model.split("-", 1)[1])
                self._json(
                    status, {"type": "error", "error": {"type": "rate_limit_error", "message": f"fake {status}"}}
                )
                return
            if body.get("stream"):
                self._sse(_anthropic_stream(body))
                return
            self._json(200, _anthropic_message(body))

    return Handler


def _served_model(body: dict[str, Any]) -> str:
    return f"{body.get('model')}-2024-07-18"


def _usage() -> dict[str, Any]:
    return {
        "prompt_tokens": INPUT_TOKENS,
        "completion_tokens": OUTPUT_TOKENS,
        "total_tokens": INPUT_TOKENS + OUTPUT_TOKENS,
        "prompt_tokens_details": {"cached_tokens": 2, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    }


def _openai_completion(body: dict[str, Any]) -> dict[str, Any]:
    tool = "tool" in str(body.get("model"))
    message: dict[str, Any] = {"role": "assistant", "content": None if tool else TEXT, "refusal": None}
    if tool:
        message["tool_calls"] = [
            {"id": "call_fake1", "type": "function", "function": {"name": "get_weather", "arguments": TOOL_ARGS}}
        ]
    return {
        "id": "chatcmpl-fake1",
        "object": "chat.completion",
        "created": 1772011293,
        "model": _served_model(body),
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": "tool_calls" if tool else "stop"}
        ],
        "usage": _usage(),
        "service_tier": "default",
        "system_fingerprint": "fp_fake",
    }


def _openai_stream(body: dict[str, Any]) -> list[tuple[str | None, Any]]:
    model = str(body.get("model"))

    def chunk(delta: dict[str, Any], finish: str | None = None) -> tuple[None, dict[str, Any]]:
        return None, {
            "id": "chatcmpl-fake2",
            "object": "chat.completion.chunk",
            "created": 1772011293,
            "model": _served_model(body),
            "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }

    events: list[tuple[str | None, Any]] = [chunk({"role": "assistant", "content": "", "refusal": None})]
    if "stream-error" in model:
        events.append(chunk({"content": TEXT_PIECES[0]}))
        events.append((None, {"error": {"message": "fake failure mid-stream", "type": "server_error"}}))
        return events
    if "tool" in model:
        events.append(
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_fake2",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": ""},
                        }
                    ]
                }
            )
        )
        for piece in ('{"city"', ': "Par', 'is"}'):
            events.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
        events.append(chunk({}, "tool_calls"))
    else:
        events.extend(chunk({"content": piece}) for piece in TEXT_PIECES)
        events.append(chunk({}, "stop"))
    if (body.get("stream_options") or {}).get("include_usage"):
        last = chunk({})[1]
        last["choices"] = []
        last["usage"] = _usage()
        events.append((None, last))
    events.append((None, "[DONE]"))
    return events


def _anthropic_message(body: dict[str, Any]) -> dict[str, Any]:
    tool = "tool" in str(body.get("model"))
    content: list[dict[str, Any]] = [{"type": "text", "text": TEXT}]
    if tool:
        content = [
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "toolu_fake1", "name": "get_weather", "input": {"city": "Paris"}},
        ]
    return {
        "id": "msg_fake1",
        "type": "message",
        "role": "assistant",
        "model": _served_model(body),
        "content": content,
        "stop_reason": "tool_use" if tool else "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": INPUT_TOKENS,
            "output_tokens": OUTPUT_TOKENS,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }


def _anthropic_stream(body: dict[str, Any]) -> list[tuple[str | None, Any]]:
    model = str(body.get("model"))
    start = _anthropic_message(body)
    start.update(content=[], stop_reason=None)
    start["usage"] = {**start["usage"], "output_tokens": 1}
    events: list[tuple[str | None, Any]] = [("message_start", {"type": "message_start", "message": start})]
    if "tool" in model:
        events.append(
            (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "tool_use", "id": "toolu_fake2", "name": "get_weather", "input": {}},
                },
            )
        )
        for piece in ('{"city"', ': "Par', 'is"}'):
            events.append(
                (
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": {"type": "input_json_delta", "partial_json": piece},
                    },
                )
            )
        stop_reason = "tool_use"
    else:
        events.append(
            (
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            )
        )
        events.append(("ping", {"type": "ping"}))
        pieces = TEXT_PIECES[:1] if "stream-error" in model else TEXT_PIECES
        for piece in pieces:
            events.append(
                (
                    "content_block_delta",
                    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}},
                )
            )
        if "stream-error" in model:
            events.append(("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}))
            return events
        stop_reason = "end_turn"
    events.append(("content_block_stop", {"type": "content_block_stop", "index": 0}))
    events.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": OUTPUT_TOKENS},
            },
        )
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return events
