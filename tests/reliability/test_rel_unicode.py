"""NUL bytes and invalid Unicode, on SQLite and PostgreSQL: never a 5xx, never a row that later reads choke on.

PostgreSQL text cannot hold NUL, and a lone surrogate cannot be encoded as UTF-8. The collector's one
policy (docs/input.md): in text content each is replaced by U+FFFD; in names, ids and keys of the JSON API
and in every query and path parameter it is a 422 naming the field. Telemetry is never refused for it.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status
from rel_helpers import db_count

PROTOBUF = {"Content-Type": "application/x-protobuf"}
JSON = {"Content-Type": "application/json"}
NUL = "\x00"
SURROGATE = "\\ud800"  # as a JSON escape: json.dumps would refuse nothing, but this is what a hostile client sends
FFFD = "\ufffd"


@pytest.fixture(scope="module")
def server(process_collector: tuple[httpx.Client, str]) -> tuple[httpx.Client, str]:
    return process_collector


def kv(key: str, value: str) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(string_value=value))


def traces_body(trace_id: str, text: str) -> bytes:
    span = Span(
        trace_id=bytes.fromhex(trace_id),
        span_id=bytes.fromhex("00f067aa0ba902b7"),
        name=f"chat{text}",
        start_time_unix_nano=1_700_000_000_000_000_000,
        end_time_unix_nano=1_700_000_001_000_000_000,
        attributes=[
            kv("gen_ai.request.model", f"m{text}"),
            kv("plaudit.input", f"in{text}put"),
            kv("plaudit.output", f"out{text}put"),
            kv("session.id", f"s{text}"),
            kv(f"odd{text}key", "v"),
            KeyValue(key="nested", value=AnyValue(array_value={"values": [AnyValue(string_value=f"a{text}")]})),
        ],
        status=Status(code=Status.STATUS_CODE_ERROR, message=f"failed{text}"),
        events=[Span.Event(name=f"ev{text}", time_unix_nano=1, attributes=[kv("k", f"v{text}")])],
        links=[Span.Link(trace_id=bytes.fromhex(trace_id), span_id=b"\1" * 8, attributes=[kv("link", f"l{text}")])],
    )
    resource = Resource(attributes=[kv("service.name", f"svc{text}")])
    request = ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(resource=resource, scope_spans=[ScopeSpans(spans=[span])])]
    )
    return request.SerializeToString()


def assert_readable(http: httpx.Client, trace_id: str | None = None) -> None:
    """Every read that could hold the stored text answers 200 with valid JSON."""
    paths = ["/v1/feedback?history=true", "/v1/traces", "/v1/feedback/orphans", "/v1/export/spans"]
    if trace_id:
        paths.append(f"/v1/traces/{trace_id}")
    for path in paths:
        response = http.get(path)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
        for line in response.text.splitlines():
            json.loads(line)
    board = http.get("/v1/analytics/leaderboard", params={"score": "q", "group_by": "session.id", "min_count": 1})
    assert board.status_code == 200, board.text[:300]


def test_nul_anywhere_in_protobuf_spans_is_stored_as_replacement(server: tuple[httpx.Client, str]) -> None:
    http, _ = server
    trace_id = "1" * 31 + "a"
    response = http.post("/v1/traces", content=traces_body(trace_id, NUL), headers=PROTOBUF)
    assert response.status_code == 200, response.text[:300]
    assert http.post("/v1/feedback", json={"trace_id": trace_id, "name": "q", "value": 1}).status_code == 201
    assert_readable(http, trace_id)
    span = http.get(f"/v1/traces/{trace_id}").json()["spans"][0]
    text = json.dumps(span, ensure_ascii=False)
    assert NUL not in text
    assert span["name"] == f"chat{FFFD}" and span["model"] == f"m{FFFD}" and span["session_id"] == f"s{FFFD}"
    assert span["input"] == f"in{FFFD}put" and f"odd{FFFD}key" in span["attributes"]


def test_nul_and_surrogates_in_otlp_json_are_stored_as_replacement(server: tuple[httpx.Client, str]) -> None:
    http, _ = server
    trace_id = "1" * 31 + "b"
    attributes = [
        {"key": "plaudit.output", "value": {"stringValue": "x\\u0000y\\ud800z"}},
        {"key": "k\\udfff", "value": {"stringValue": "ok \\ud83d\\ude00"}},  # a valid pair stays an emoji
    ]
    span = {
        "traceId": trace_id,
        "spanId": "00f067aa0ba902b7",
        "name": "n\\u0000",
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": "1700000001000000000",
        "attributes": attributes,
    }
    body = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}).replace("\\\\u", "\\u")
    response = http.post("/v1/traces", content=body.encode(), headers=JSON)
    assert response.status_code == 200, response.text[:300]
    assert_readable(http, trace_id)
    stored = http.get(f"/v1/traces/{trace_id}").json()["spans"][0]
    assert stored["name"] == f"n{FFFD}"
    assert stored["output"] == f"x{FFFD}y{FFFD}z"
    assert stored["attributes"][f"k{FFFD}"] == "ok \U0001f600"


def test_nul_in_log_records_is_stored_as_replacement(server: tuple[httpx.Client, str]) -> None:
    http, _ = server
    trace_id = "1" * 31 + "c"
    record = LogRecord(
        trace_id=bytes.fromhex(trace_id),
        span_id=bytes.fromhex("00f067aa0ba902b7"),
        event_name=f"gen_ai.user.message{NUL}",
        body=AnyValue(string_value=f"hi{NUL}"),
        attributes=[kv(f"a{NUL}", f"b{NUL}")],
    )
    evaluation = LogRecord(
        trace_id=bytes.fromhex(trace_id),
        event_name="gen_ai.evaluation.result",
        attributes=[
            kv("gen_ai.evaluation.name", "q"),
            KeyValue(key="gen_ai.evaluation.score.value", value=AnyValue(double_value=0.5)),
            kv("gen_ai.evaluation.explanation", f"why{NUL}"),
        ],
    )
    request = ExportLogsServiceRequest(
        resource_logs=[ResourceLogs(scope_logs=[ScopeLogs(log_records=[record, evaluation])])]
    )
    response = http.post("/v1/logs", content=request.SerializeToString(), headers=PROTOBUF)
    assert response.status_code == 200, response.text[:300]
    assert_readable(http, trace_id)
    (item,) = http.get("/v1/feedback", params={"trace_id": trace_id, "name": "q"}).json()["data"]
    assert item["comment"] == f"why{FFFD}"


CONTENT_FIELDS = [("comment", None), ("correction", None), ("metadata", "value")]


@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "surrogate"])
@pytest.mark.parametrize(("field", "inner"), CONTENT_FIELDS, ids=[f for f, _ in CONTENT_FIELDS])
def test_feedback_text_content_is_stored_as_replacement(
    server: tuple[httpx.Client, str], field: str, inner: str | None, bad: str
) -> None:
    http, _ = server
    trace_id = "2" * 32
    text = f"a{bad}b"
    value: Any = {"note": text} if inner else text
    raw = json.dumps({"trace_id": trace_id, "name": f"t-{field}", "value": 1, field: value})
    response = http.post("/v1/feedback", content=raw.replace("\\\\ud800", "\\ud800").encode(), headers=JSON)
    assert response.status_code == 201, response.text[:300]
    stored = response.json()["items"][0][field]
    assert (stored["note"] if inner else stored) == f"a{FFFD}b"
    assert_readable(http, trace_id)


NAMED_FIELDS = {
    "name": lambda bad: {"name": f"n{bad}"},
    "author": lambda bad: {"author": f"a{bad}"},
    "value": lambda bad: {"value": f"label{bad}"},
    "idempotency_key": lambda bad: {"idempotency_key": f"k{bad}"},
    "metadata": lambda bad: {"metadata": {f"key{bad}": 1}},
}


@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "surrogate"])
@pytest.mark.parametrize("field", sorted(NAMED_FIELDS))
def test_feedback_names_ids_and_keys_refuse_nul_and_surrogates(
    server: tuple[httpx.Client, str], field: str, bad: str
) -> None:
    http, db_url = server
    before = db_count(db_url, "SELECT COUNT(*) FROM feedback")
    item = {"trace_id": "3" * 32, "name": "thumbs", "value": True, **NAMED_FIELDS[field](bad)}
    for body in (item, {"items": [item]}):
        raw = json.dumps(body).replace("\\\\ud800", "\\ud800").encode()
        response = http.post("/v1/feedback", content=raw, headers=JSON)
        assert response.status_code == 422, response.text[:300]
        assert response.json()["error"]["field"].endswith(field)
    session = {"session_id": f"s{bad}", "name": "resolved", "value": True}
    response = http.post("/v1/feedback", content=json.dumps(session).replace("\\\\ud800", "\\ud800"), headers=JSON)
    assert response.status_code == 422 and response.json()["error"]["field"] == "session_id"
    assert db_count(db_url, "SELECT COUNT(*) FROM feedback") == before


@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "surrogate"])
def test_other_json_routes_refuse_nul_and_surrogates_in_names(server: tuple[httpx.Client, str], bad: str) -> None:
    http, _ = server

    def send(method: str, path: str, doc: dict[str, Any]) -> httpx.Response:
        raw = json.dumps(doc).replace("\\\\ud800", "\\ud800").encode()
        return http.request(method, path, content=raw, headers=JSON)

    cases = [
        ("POST", "/v1/feedback-tokens", {"trace_id": "4" * 32, "names": [f"n{bad}"]}, "names"),
        ("POST", "/v1/feedback-tokens", {"trace_id": "4" * 32, "names": ["n"], "author": f"a{bad}"}, "author"),
        ("PUT", "/v1/score-configs/mood", {"type": "categorical", "categories": [f"c{bad}"]}, "categories"),
        (
            "POST",
            "/v1/preferences",
            {"a": {"trace_id": "4" * 32}, "b": {"trace_id": "5" * 32}, "winner": "a", "author": f"x{bad}"},
            "author",
        ),
    ]
    for method, path, doc, field in cases:
        response = send(method, path, doc)
        assert response.status_code == 422, (path, response.text[:300])
        assert response.json()["error"]["field"].startswith(field), response.text[:300]
    described = send("PUT", "/v1/score-configs/mood", {"type": "numeric", "description": f"d{bad}"})
    assert described.status_code == 200, described.text[:300]
    assert described.json()["description"] == f"d{FFFD}"


def test_every_query_and_path_parameter_refuses_nul(server: tuple[httpx.Client, str]) -> None:
    """Every parameter of every operation in the live schema, NUL in it: a 422 naming that parameter."""
    http, db_url = server
    before = db_count(db_url, "SELECT COUNT(*) FROM feedback")
    schema = http.get("/openapi.json").json()
    checked = 0
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            params = [p for p in operation.get("parameters", []) if p["in"] in ("query", "path")]
            for target in params:
                url, query = path, {}
                for param in params:
                    value = f"x{NUL}y" if param is target else _plausible(param)
                    if param["in"] == "path":
                        url = url.replace("{" + param["name"] + "}", quote(str(value), safe=""))
                    else:
                        query[param["name"]] = value
                response = http.request(method.upper(), url, params=query, headers=JSON, content=b"{}")
                assert response.status_code == 422, (method, url, query, response.status_code, response.text[:300])
                assert response.json()["error"]["field"] == target["name"], response.text[:300]
                checked += 1
    assert checked >= 30
    for key in ("attr.a\x00b", "metadata"):  # also inside a filter's key, not only its value
        name, value = ("group_by", key) if key.startswith("attr.") else ("metadata", "k\x00=v")
        response = http.get("/v1/analytics/leaderboard", params={"score": "q", name: value})
        assert response.status_code == 422 and response.json()["error"]["field"] == name
    assert db_count(db_url, "SELECT COUNT(*) FROM feedback") == before


def _plausible(param: dict[str, Any]) -> Any:
    name = param["name"]
    known = {"score": "q", "group_by": "model", "trace_id": "1" * 32, "limit": 10, "offset": 0, "feedback_id": 1}
    if name in known:
        return known[name]
    if name in ("a", "b"):
        return "model=m1"
    if name == "segment":
        return "user.id"
    return "x"


def test_a_browser_tokens_hostile_metadata_never_breaks_reads(server: tuple[httpx.Client, str]) -> None:
    """A lone surrogate once committed a row that every later read of the project failed on."""
    http, _ = server
    trace_id = "6" * 32
    minted = http.post("/v1/feedback-tokens", json={"trace_id": trace_id, "names": ["thumbs"]}).json()
    raw = json.dumps({"trace_id": trace_id, "name": "thumbs", "value": False, "metadata": {"x": "a\\ud800"}})
    response = http.post(
        "/v1/feedback",
        content=raw.replace("\\\\ud800", "\\ud800").encode(),
        headers={**JSON, minted["header"]: minted["token"]},
    )
    assert response.status_code == 201, response.text[:300]
    assert_readable(http, None)
