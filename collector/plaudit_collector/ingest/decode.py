"""Decode OTLP/HTTP requests (protobuf or JSON, gzip/deflate) with opentelemetry-proto's classes.

Follows opentelemetry-proto/docs/specification.md: an undecodable body is a 400 (never retried); a body that
decodes but holds some invalid spans is accepted with ``partial_success`` naming how many were rejected.
No database or web framework here: bytes in, messages and plain values out.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import zlib
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest, ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span as PbSpan
from opentelemetry.proto.trace.v1.trace_pb2 import Status as PbStatus

from plaudit_collector.errors import ApiError
from plaudit_collector.ingest.conventions import MAX_VALUE_CHARS, truncate
from plaudit_collector.wire import REPLACEMENT, clean_tree

PROTOBUF = "application/x-protobuf"
JSON = "application/json"

M = TypeVar("M", bound=Message)

KIND_NAMES = {
    PbSpan.SPAN_KIND_UNSPECIFIED: "INTERNAL",
    PbSpan.SPAN_KIND_INTERNAL: "INTERNAL",
    PbSpan.SPAN_KIND_SERVER: "SERVER",
    PbSpan.SPAN_KIND_CLIENT: "CLIENT",
    PbSpan.SPAN_KIND_PRODUCER: "PRODUCER",
    PbSpan.SPAN_KIND_CONSUMER: "CONSUMER",
}
STATUS_NAMES = {
    PbStatus.STATUS_CODE_UNSET: "UNSET",
    PbStatus.STATUS_CODE_OK: "OK",
    PbStatus.STATUS_CODE_ERROR: "ERROR",
}
_BAD_ID = base64.b64encode(b"\x00").decode()  # decodes to a 1-byte id, which span validation then rejects
_UNSTORABLE_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
"""In JSON, a NUL or a lone surrogate can only come from a \\u escape: the cue to clean the document."""
MAX_VALUE_DEPTH = 32
"""Attribute values nested deeper (arrays, key-value lists) are stored as :data:`TOO_DEEP`."""
TOO_DEEP = "[nested too deeply]"


try:  # orjson is several times faster on the attribute dicts that dominate ingest
    import orjson

    def dumps(value: Any) -> str:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()

except ImportError:  # pragma: no cover - orjson ships with the collector extra

    def dumps(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def check_media_type(content_type: str | None) -> None:
    """Refuse (415) a body that is neither OTLP protobuf nor OTLP JSON, before reading it."""
    if media_type(content_type) not in (PROTOBUF, JSON):
        raise ApiError(415, "unsupported_media_type", f"Content-Type must be {PROTOBUF} or {JSON}", "Content-Type")


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "body_too_large", f"decompressed body exceeds {limit} bytes", "body")


def _inflate(body: bytes, wbits: int, limit: int, *, members: bool) -> bytes:
    """Inflate ``body`` whole: every gzip member when ``members`` (RFC 1952 allows several, and each tool
    that concatenates files makes them), else one stream with nothing after it; past ``limit`` a 413."""
    out: list[bytes] = []
    size = 0
    data = body
    while True:
        inflater = zlib.decompressobj(wbits)
        chunk = inflater.decompress(data, limit + 1 - size)
        size += len(chunk)
        if size > limit or inflater.unconsumed_tail:
            raise _too_large(limit)
        if not inflater.eof:
            raise zlib.error("truncated stream")
        out.append(chunk)
        data = inflater.unused_data
        if not data or (members and not data.strip(b"\0")):  # gzip(1) tolerates zero padding after members
            return b"".join(out)
        if not members:
            raise zlib.error("data after the end of the stream")


def decompress(body: bytes, encoding: str | None, limit: int) -> bytes:
    """Undo Content-Encoding, refusing bodies that inflate past ``limit`` (zip bombs) and bodies that are
    not wholly valid (trailing data, a truncated member): a body is read whole or refused, never in part."""
    encoding = (encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "deflate"):
        raise ApiError(
            415, "unsupported_encoding", f"Content-Encoding {encoding!r} is not supported", "Content-Encoding"
        )
    try:
        if encoding == "gzip":
            return _inflate(body, 16 + zlib.MAX_WBITS, limit, members=True)
        try:
            return _inflate(body, zlib.MAX_WBITS, limit, members=False)
        except zlib.error:  # some clients send raw deflate without the zlib header
            return _inflate(body, -zlib.MAX_WBITS, limit, members=False)
    except zlib.error:
        raise ApiError(400, "bad_encoding", f"body is not valid {encoding} data", "body") from None


def _hex_id(value: Any, size: int) -> Any:
    """OTLP JSON carries ids as hex; protobuf's JSON mapping expects base64. A malformed id becomes one
    that span validation rejects, so one bad span does not sink the batch (partial success)."""
    if not isinstance(value, str) or value == "":
        return value
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        return _BAD_ID
    return base64.b64encode(raw).decode() if len(raw) == size else _BAD_ID


def _fix_ids(item: Any, keys: tuple[tuple[str, int], ...]) -> None:
    if isinstance(item, dict):
        for key, size in keys:
            if key in item:
                item[key] = _hex_id(item[key], size)


_SPAN_ID_KEYS = (
    ("traceId", 16),
    ("trace_id", 16),
    ("spanId", 8),
    ("span_id", 8),
    ("parentSpanId", 8),
    ("parent_span_id", 8),
)
_LINK_ID_KEYS = (("traceId", 16), ("trace_id", 16), ("spanId", 8), ("span_id", 8))


def _items(container: Any, *names: str) -> list[Any]:
    if not isinstance(container, dict):
        return []
    for name in names:
        value = container.get(name)
        if isinstance(value, list):
            return value
    return []


def _fix_json_trace_ids(doc: dict[str, Any]) -> None:
    for rs in _items(doc, "resourceSpans", "resource_spans"):
        for ss in _items(rs, "scopeSpans", "scope_spans"):
            for span in _items(ss, "spans"):
                _fix_ids(span, _SPAN_ID_KEYS)
                for link in _items(span, "links"):
                    _fix_ids(link, _LINK_ID_KEYS)


def _fix_json_log_ids(doc: dict[str, Any]) -> None:
    for rl in _items(doc, "resourceLogs", "resource_logs"):
        for sl in _items(rl, "scopeLogs", "scope_logs"):
            for record in _items(sl, "logRecords", "log_records"):
                _fix_ids(record, _SPAN_ID_KEYS)


def _parse(body: bytes, content_type: str, message: M, fix_ids: Any) -> M:
    media = media_type(content_type)
    if media == PROTOBUF:
        try:
            message.ParseFromString(body)
        except (DecodeError, RuntimeError, ValueError) as exc:
            raise ApiError(
                400, "invalid_protobuf", f"body is not a valid OTLP protobuf message: {exc}", "body"
            ) from None
        return message
    if media == JSON:
        try:
            doc = json.loads(body)
        except RecursionError:
            raise ApiError(400, "invalid_json", "body is nested too deeply", "body") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(400, "invalid_json", f"body is not valid JSON: {exc}", "body") from None
        if not isinstance(doc, dict):
            raise ApiError(400, "invalid_body", "OTLP JSON body must be an object", "body")
        if _UNSTORABLE_ESCAPE.search(body):
            doc = clean_tree(doc)  # protobuf refuses lone surrogates, and the database NUL
        fix_ids(doc)
        try:
            json_format.ParseDict(doc, message, ignore_unknown_fields=True)
        except RecursionError:
            raise ApiError(400, "invalid_otlp_json", "body is nested too deeply", "body") from None
        except (json_format.ParseError, binascii.Error, TypeError, ValueError) as exc:
            raise ApiError(400, "invalid_otlp_json", f"body is not a valid OTLP JSON message: {exc}", "body") from None
        return message
    raise ApiError(415, "unsupported_media_type", f"Content-Type must be {PROTOBUF} or {JSON}", "Content-Type")


def parse_request(body: bytes, content_type: str) -> ExportTraceServiceRequest:
    """Parse a trace export by content type; malformed input raises a 400 ApiError."""
    return _parse(body, content_type, ExportTraceServiceRequest(), _fix_json_trace_ids)


def parse_logs_request(body: bytes, content_type: str) -> ExportLogsServiceRequest:
    """Parse a logs export by content type; malformed input raises a 400 ApiError."""
    return _parse(body, content_type, ExportLogsServiceRequest(), _fix_json_log_ids)


def _encode(response: Message, content_type: str) -> tuple[bytes, str]:
    if media_type(content_type) == JSON:
        doc = json_format.MessageToDict(response)
        return json.dumps(doc).encode(), JSON
    return response.SerializeToString(), PROTOBUF


def encode_response(content_type: str, rejected: int = 0, message: str = "") -> tuple[bytes, str]:
    """The ExportTraceServiceResponse, with ``partial_success`` when spans were rejected or a warning is due."""
    response = ExportTraceServiceResponse()
    if rejected or message:
        response.partial_success.rejected_spans = rejected
        response.partial_success.error_message = message
    return _encode(response, content_type)


def encode_logs_response(content_type: str, rejected: int = 0, message: str = "") -> tuple[bytes, str]:
    response = ExportLogsServiceResponse()
    if rejected or message:
        response.partial_success.rejected_log_records = rejected
        response.partial_success.error_message = message
    return _encode(response, content_type)


def encode_metrics_response(content_type: str) -> tuple[bytes, str]:
    return _encode(ExportMetricsServiceResponse(), content_type)


def text(value: str) -> str:
    """A protobuf string as stored: NUL replaced (see :mod:`plaudit_collector.wire`; protobuf has already
    refused invalid UTF-8, so no lone surrogate can be left). Cheap when there is nothing to do."""
    return value.replace("\x00", REPLACEMENT) if "\x00" in value else value


def any_value(value: Any, depth: int = 0) -> Any:
    """An OTLP AnyValue as plain Python; long strings truncated, non-finite doubles as text, nesting past
    :data:`MAX_VALUE_DEPTH` replaced by :data:`TOO_DEEP` (stored, never refused)."""
    which = value.WhichOneof("value")
    if which == "string_value":
        string: str = text(value.string_value)
        return truncate(string) if len(string) > MAX_VALUE_CHARS else string
    if which == "int_value":
        return value.int_value
    if which == "double_value":
        number: float = value.double_value
        return number if math.isfinite(number) else str(number)
    if which == "bool_value":
        return value.bool_value
    if which in ("array_value", "kvlist_value") and depth >= MAX_VALUE_DEPTH:
        return TOO_DEEP
    if which == "array_value":
        return [any_value(v, depth + 1) for v in value.array_value.values]
    if which == "kvlist_value":
        return attributes(value.kvlist_value.values, depth + 1)
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return None


def attributes(kvs: Any, depth: int = 0) -> dict[str, Any]:
    """Key-value pairs as a dict (the hot path of ingest: one pass, no intermediate objects).

    Most values are non-empty strings, and reading ``string_value`` (empty unless the oneof holds a string)
    tells so without the ``WhichOneof`` call, which costs as much as the read."""
    out: dict[str, Any] = {}
    for kv in kvs:
        key = kv.key
        if "\x00" in key:
            key = text(key)
        value = kv.value
        string = value.string_value
        if string:
            if "\x00" in string:
                string = text(string)
            out[key] = truncate(string) if len(string) > MAX_VALUE_CHARS else string
            continue
        which = value.WhichOneof("value")
        if which == "int_value":
            out[key] = value.int_value
        elif which == "string_value":
            out[key] = string
        else:
            out[key] = any_value(value, depth)
    return out


def kind_name(kind: int) -> str:
    return KIND_NAMES.get(kind, "INTERNAL")  # type: ignore[call-overload]


def status_name(code: int) -> str:
    return STATUS_NAMES.get(code, "UNSET")  # type: ignore[call-overload]
