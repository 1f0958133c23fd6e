"""A local HTTP server speaking the OpenAI (chat completions, Responses, embeddings) and Anthropic wire formats.

The real ``openai``/``anthropic`` client libraries talk to it over real sockets (``base_url`` pointed
here), so instrumentation is tested against the libraries' actual parsing and streaming code. Only the
provider is fake. Shapes follow recorded OpenAI exchanges, the ``openai`` package's Responses types
(``openai/types/responses/``) and the Anthropic Messages API reference.

The request's ``model`` picks the scenario:

* anything ordinary: a text answer (``"Hello from the fake provider."``);
* ``...tool...``: a tool call (``get_weather`` with ``{"city": "Paris"}``);
* ``error-<status>``: an API error with that HTTP status;
* ``...stream-error...`` with ``stream=true``: two chunks, then an error inside the stream. On
  ``/v1/responses`` the ``error`` event nests its fields under ``error`` as the live API sends it, which
  makes the ``openai`` library raise;
* Responses only: ``...error-event...`` with ``stream=true`` sends the ``error`` event in the documented
  flat shape (the library yields it as an event), ``...failed...`` ends the stream with ``response.failed``,
  and ``...incomplete...`` stops at ``max_output_tokens``.

A chat request whose ``response_format`` (or a Responses request whose ``text.format``) has type
``json_schema``, as the ``parse`` helpers send, is answered with ``STRUCTURED``, which fits a model with one
``city: str`` field. ``POST /v1/embeddings`` answers one vector per input (``embedding_vector(i)``, with the
request's ``dimensions`` or ``EMBEDDING_DIMENSIONS`` floats), as little-endian float32 base64 when
``encoding_format`` is ``"base64"`` (the ``openai`` client's default), and ``EMBEDDING_TOKENS`` prompt
tokens per input; ``error-<status>`` and the replay apply there too.

``"stream": true`` answers with server-sent events; the first chunk waits ``first_chunk_delay`` seconds
so the time to first chunk is measurable. ``replay_openai_body`` answers the next OpenAI call with a
recorded body verbatim. ``answer``, when set, writes the text of plain (not streamed) chat completions and
Anthropic messages from the request body: a fake judge.
"""

from __future__ import annotations

import base64
import json
import struct
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TEXT = "Hello from the fake provider."
TEXT_PIECES = ["Hello", " from the", " fake provider."]
TOOL_ARGS = '{"city": "Paris"}'
INPUT_TOKENS = 12
OUTPUT_TOKENS = 7
STRUCTURED = '{"city": "Paris"}'
EMBEDDING_DIMENSIONS = 4
EMBEDDING_TOKENS = 3


class FakeProvider:
    """Start with ``FakeProvider().start()``; ``.openai_url``/``.anthropic_url`` are the clients' ``base_url``."""

    def __init__(self, first_chunk_delay: float = 0.05) -> None:
        self.first_chunk_delay = first_chunk_delay
        self.requests: list[dict[str, Any]] = []
        self.replay_openai_body: str | None = None
        self.answer: Callable[[dict[str, Any]], str] | None = None
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
            elif self.path.rstrip("/").endswith("/v1/responses"):
                self._responses(body)
            elif self.path.rstrip("/").endswith("/v1/embeddings"):
                self._openai_like(body, None, _embedding_list)
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
            self._openai_like(body, _openai_stream, _answered(provider, _openai_completion))

        def _responses(self, body: dict[str, Any]) -> None:
            self._openai_like(body, _responses_stream, lambda b: _response_object(b, "fake1"))

        def _openai_like(
            self,
            body: dict[str, Any],
            stream: Callable[[dict[str, Any]], Any] | None,
            answer: Callable[[dict[str, Any]], Any],
        ) -> None:
            """The OpenAI endpoints share the replay, error and stream switches (embeddings never stream)."""
            model = str(body.get("model", ""))
            if provider.replay_openai_body is not None:
                raw, provider.replay_openai_body = provider.replay_openai_body, None
                self._json(200, None, raw=raw)
                return
            if model.startswith("error-"):
                status = int(model.split("-", 1)[1])
                self._json(status, {"error": {"message": f"fake {status}", "type": "fake_error", "code": str(status)}})
                return
            if body.get("stream") and stream is not None:
                self._sse(stream(body))
                return
            self._json(200, answer(body))

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
            self._json(200, _answered(provider, _anthropic_message)(body))

    return Handler


def _answered(provider: FakeProvider, build: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], Any]:
    """``build``, with the text replaced by ``provider.answer(body)`` when that is set."""

    def answer(body: dict[str, Any]) -> Any:
        payload = build(body)
        if provider.answer is not None:
            text = provider.answer(body)
            if "choices" in payload:
                payload["choices"][0]["message"]["content"] = text
            else:
                payload["content"] = [{"type": "text", "text": text}]
        return payload

    return answer


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


def _structured(text_format: Any) -> bool:
    """Whether a request asks for JSON-schema output, as ``parse`` does with a pydantic class."""
    return isinstance(text_format, dict) and text_format.get("type") == "json_schema"


def _openai_completion(body: dict[str, Any]) -> dict[str, Any]:
    tool = "tool" in str(body.get("model"))
    text = STRUCTURED if _structured(body.get("response_format")) else TEXT
    message: dict[str, Any] = {"role": "assistant", "content": None if tool else text, "refusal": None}
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


def _responses_usage() -> dict[str, Any]:
    return {
        "input_tokens": INPUT_TOKENS,
        "input_tokens_details": {"cached_tokens": 2, "cache_write_tokens": 0},
        "output_tokens": OUTPUT_TOKENS,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": INPUT_TOKENS + OUTPUT_TOKENS,
    }


def _message_item(suffix: str, text: str, status: str = "completed") -> dict[str, Any]:
    content = [{"type": "output_text", "annotations": [], "logprobs": [], "text": text}] if text else []
    return {"id": f"msg_{suffix}", "type": "message", "status": status, "role": "assistant", "content": content}


def _function_call_item(suffix: str, arguments: str, status: str = "completed") -> dict[str, Any]:
    return {
        "id": f"fc_{suffix}",
        "type": "function_call",
        "status": status,
        "call_id": f"call_{suffix}",
        "name": "get_weather",
        "arguments": arguments,
    }


def _response_object(
    body: dict[str, Any], suffix: str, status: str = "completed", output: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A ``Response`` as ``POST /v1/responses`` returns it, or as a stream's lifecycle events carry it."""
    model = str(body.get("model"))
    text_format = (body.get("text") or {}).get("format")
    if output is None:
        tool = "tool" in model
        text = STRUCTURED if _structured(text_format) else TEXT
        output = [_function_call_item(suffix, TOOL_ARGS) if tool else _message_item(suffix, text)]
    if "incomplete" in model and status == "completed":
        status = "incomplete"
    return {
        "id": f"resp_{suffix}",
        "object": "response",
        "created_at": 1772011293,
        "status": status,
        "background": False,
        "completed_at": 1772011294 if status == "completed" else None,
        "error": {"code": "server_error", "message": "fake failure", "param": None, "type": None}
        if status == "failed"
        else None,
        "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "max_tool_calls": None,
        "model": _served_model(body),
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "prompt_cache_key": None,
        "reasoning": {"effort": None, "summary": None},
        "safety_identifier": None,
        "service_tier": "default",
        "store": True,
        "temperature": body.get("temperature", 1.0),
        "text": {"format": text_format or {"type": "text"}, "verbosity": "medium"},
        "tool_choice": "auto",
        "tools": body.get("tools") or [],
        "top_logprobs": 0,
        "top_p": body.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": _responses_usage() if status in ("completed", "incomplete") else None,
        "user": None,
        "metadata": {},
    }


def _responses_stream(body: dict[str, Any]) -> list[tuple[str | None, Any]]:
    """The typed events of a streamed response, each named by its ``type`` (no ``[DONE]`` on this endpoint)."""
    model = str(body.get("model"))
    events: list[tuple[str | None, Any]] = []

    def emit(kind: str, **fields: Any) -> None:
        events.append((kind, {"type": kind, "sequence_number": len(events), **fields}))

    suffix = "fake2"
    emit("response.created", response=_response_object(body, suffix, "in_progress", []))
    emit("response.in_progress", response=_response_object(body, suffix, "in_progress", []))
    if "tool" in model:
        item = _function_call_item(suffix, "", "in_progress")
        emit("response.output_item.added", output_index=0, item=item)
        for piece in ('{"city"', ': "Par', 'is"}'):
            emit("response.function_call_arguments.delta", item_id=item["id"], output_index=0, delta=piece)
        emit("response.function_call_arguments.done", item_id=item["id"], output_index=0, arguments=TOOL_ARGS)
        done_item = _function_call_item(suffix, TOOL_ARGS)
    else:
        item = _message_item(suffix, "", "in_progress")
        emit("response.output_item.added", output_index=0, item=item)
        part = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
        emit("response.content_part.added", item_id=item["id"], output_index=0, content_index=0, part=part)
        cut_short = any(s in model for s in ("stream-error", "error-event", "failed"))
        for piece in TEXT_PIECES[:1] if cut_short else TEXT_PIECES:
            emit(
                "response.output_text.delta",
                item_id=item["id"],
                output_index=0,
                content_index=0,
                delta=piece,
                logprobs=[],
            )
        if "stream-error" in model:
            error = {
                "type": "server_error",
                "code": "server_error",
                "message": "fake failure mid-stream",
                "param": None,
            }
            emit("error", error=error)
            return events
        if "error-event" in model:
            emit("error", code="server_error", message="fake failure mid-stream", param=None)
            return events
        if "failed" in model:
            partial = [_message_item(suffix, TEXT_PIECES[0], "incomplete")]
            emit("response.failed", response=_response_object(body, suffix, "failed", partial))
            return events
        emit("response.output_text.done", item_id=item["id"], output_index=0, content_index=0, text=TEXT, logprobs=[])
        part = {**part, "text": TEXT}
        emit("response.content_part.done", item_id=item["id"], output_index=0, content_index=0, part=part)
        done_item = _message_item(suffix, TEXT)
    emit("response.output_item.done", output_index=0, item=done_item)
    final = _response_object(body, suffix, output=[done_item])
    emit("response.incomplete" if final["status"] == "incomplete" else "response.completed", response=final)
    return events


def embedding_vector(index: int, dimensions: int = EMBEDDING_DIMENSIONS) -> list[float]:
    """The vector served for input ``index``: binary fractions, exact in float32, so base64 round-trips them."""
    return [index + (j + 1) / 8 for j in range(dimensions)]


def _embedding_list(body: dict[str, Any]) -> dict[str, Any]:
    """A ``CreateEmbeddingResponse``: one vector per input (a string, or a token array), in input order."""
    input_ = body.get("input")
    count = len(input_) if isinstance(input_, list) and not all(isinstance(i, int) for i in input_) else 1
    dimensions = body.get("dimensions") or EMBEDDING_DIMENSIONS
    data = []
    for index in range(count):
        vector: Any = embedding_vector(index, dimensions)
        if body.get("encoding_format") == "base64":
            vector = base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": vector})
    tokens = EMBEDDING_TOKENS * count
    return {
        "object": "list",
        "data": data,
        "model": _served_model(body),
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


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
