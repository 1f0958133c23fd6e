"""Decode OTLP/HTTP trace requests (protobuf or JSON, gzip/deflate) with opentelemetry-proto's classes."""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as PbSpan
from opentelemetry.proto.trace.v1.trace_pb2 import Status as PbStatus

from plaudit_collector.errors import ApiError

PROTOBUF = "application/x-protobuf"
JSON = "application/json"

_KIND_NAMES = {
    PbSpan.SPAN_KIND_UNSPECIFIED: "INTERNAL",
    PbSpan.SPAN_KIND_INTERNAL: "INTERNAL",
    PbSpan.SPAN_KIND_SERVER: "SERVER",
    PbSpan.SPAN_KIND_CLIENT: "CLIENT",
    PbSpan.SPAN_KIND_PRODUCER: "PRODUCER",
    PbSpan.SPAN_KIND_CONSUMER: "CONSUMER",
}
_STATUS_NAMES = {
    PbStatus.STATUS_CODE_UNSET: "UNSET",
    PbStatus.STATUS_CODE_OK: "OK",
    PbStatus.STATUS_CODE_ERROR: "ERROR",
}


def decompress(body: bytes, encoding: str | None, limit: int) -> bytes:
    """Undo Content-Encoding, refusing bodies that inflate past ``limit`` (zip bombs)."""
    encoding = (encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "deflate"):
        raise ApiError(
            415, "unsupported_encoding", f"Content-Encoding {encoding!r} is not supported", "Content-Encoding"
        )
    wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
    try:
        inflater = zlib.decompressobj(wbits)
        data = inflater.decompress(body, limit + 1)
        if len(data) > limit or inflater.unconsumed_tail:
            raise ApiError(413, "body_too_large", f"decompressed body exceeds {limit} bytes", "body")
        if encoding == "deflate" and not inflater.eof:
            raise zlib.error("truncated stream")
    except zlib.error:
        if encoding == "deflate":  # some clients send raw deflate without the zlib header
            try:
                return zlib.decompress(body, -zlib.MAX_WBITS)
            except zlib.error:
                pass
        raise ApiError(400, "bad_encoding", f"body is not valid {encoding} data", "body") from None
    return data


def _hex_to_b64(value: Any, field: str, size: int) -> Any:
    """OTLP JSON carries ids as hex; protobuf's JSON mapping expects base64."""
    if not isinstance(value, str) or value == "":
        return value
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise ApiError(400, "invalid_id", f"{field} must be hex, got {value[:40]!r}", field) from None
    if len(raw) != size:
        raise ApiError(400, "invalid_id", f"{field} must be {size * 2} hex characters", field)
    return base64.b64encode(raw).decode()


def _fix_json_ids(doc: Any) -> None:
    if not isinstance(doc, dict):
        raise ApiError(400, "invalid_body", "OTLP JSON body must be an object", "body")
    for rs in doc.get("resourceSpans") or doc.get("resource_spans") or []:
        for ss in (rs or {}).get("scopeSpans") or (rs or {}).get("scope_spans") or []:
            for sp in (ss or {}).get("spans") or []:
                if not isinstance(sp, dict):
                    continue
                for key, size in (("traceId", 16), ("trace_id", 16), ("spanId", 8), ("span_id", 8)):
                    if key in sp:
                        sp[key] = _hex_to_b64(sp[key], key, size)
                for key in ("parentSpanId", "parent_span_id"):
                    if key in sp:
                        sp[key] = _hex_to_b64(sp[key], key, 8)
                for link in sp.get("links") or []:
                    if isinstance(link, dict):
                        for key, size in (("traceId", 16), ("spanId", 8)):
                            if key in link:
                                link[key] = _hex_to_b64(link[key], key, size)


def parse_request(body: bytes, content_type: str) -> ExportTraceServiceRequest:
    """Parse the body by content type; malformed input raises a 400 ApiError."""
    request = ExportTraceServiceRequest()
    media = (content_type or "").split(";")[0].strip().lower()
    if media == PROTOBUF:
        try:
            request.ParseFromString(body)
        except (DecodeError, RuntimeError, ValueError) as exc:
            raise ApiError(
                400, "invalid_protobuf", f"body is not a valid OTLP protobuf message: {exc}", "body"
            ) from None
        return request
    if media == JSON:
        try:
            doc = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(400, "invalid_json", f"body is not valid JSON: {exc}", "body") from None
        _fix_json_ids(doc)
        try:
            json_format.ParseDict(doc, request, ignore_unknown_fields=True)
        except (json_format.ParseError, binascii.Error, TypeError, ValueError) as exc:
            raise ApiError(400, "invalid_otlp_json", f"body is not a valid OTLP JSON message: {exc}", "body") from None
        return request
    raise ApiError(415, "unsupported_media_type", f"Content-Type must be {PROTOBUF} or {JSON}", "Content-Type")


def encode_response(content_type: str) -> tuple[bytes, str]:
    response = ExportTraceServiceResponse()
    if content_type.split(";")[0].strip().lower() == JSON:
        return b"{}", JSON
    return response.SerializeToString(), PROTOBUF


def any_value(value: AnyValue) -> Any:
    """An OTLP AnyValue as plain Python."""
    which = value.WhichOneof("value")
    if which == "string_value":
        return value.string_value
    if which == "bool_value":
        return value.bool_value
    if which == "int_value":
        return value.int_value
    if which == "double_value":
        return value.double_value
    if which == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return attributes(value.kvlist_value.values)
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return None


def attributes(kvs: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in kvs:
        kv_typed: KeyValue = kv
        out[kv_typed.key] = any_value(kv_typed.value)
    return out


def iter_spans(request: ExportTraceServiceRequest) -> Any:
    """Yield (resource attributes, scope name, span) for every span in the request."""
    for rs in request.resource_spans:
        resource = attributes(rs.resource.attributes)
        for ss in rs.scope_spans:
            for span in ss.spans:
                yield resource, ss.scope.name or None, span


def span_ids(span: PbSpan) -> tuple[str, str, str | None]:
    """Hex ids; raises a 400 for ids of the wrong length."""
    if len(span.trace_id) != 16 or not any(span.trace_id):
        raise ApiError(400, "invalid_id", "trace_id must be 16 non-zero bytes", "trace_id")
    if len(span.span_id) != 8 or not any(span.span_id):
        raise ApiError(400, "invalid_id", "span_id must be 8 non-zero bytes", "span_id")
    parent = span.parent_span_id
    if parent and len(parent) != 8:
        raise ApiError(400, "invalid_id", "parent_span_id must be 8 bytes", "parent_span_id")
    parent_hex = parent.hex() if parent and any(parent) else None
    return span.trace_id.hex(), span.span_id.hex(), parent_hex


def kind_name(kind: int) -> str:
    return _KIND_NAMES.get(kind, "INTERNAL")  # type: ignore[arg-type]


def status_name(code: int) -> str:
    return _STATUS_NAMES.get(code, "UNSET")  # type: ignore[arg-type]
