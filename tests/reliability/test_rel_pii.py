"""Privacy: personal data is redacted before a span leaves the process; a content-free project stores none."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

import plaudit
from plaudit_collector.server import BackgroundServer
from plaudit_collector.settings import CollectorSettings
from plaudit_collector.store import projects

EMAIL = "ada.lovelace+ai@example.co.uk"
CARD = "4111 1111 1111 1111"
PHONE = "+1 (415) 555-0132"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"write to {EMAIL} today", "write to [EMAIL] today"),
        (f"card {CARD}, exp 12/29", "card [CARD], exp 12/29"),
        ("card 4111-1111-1111-1111", "card [CARD]"),
        ("amex 378282246310005", "amex [CARD]"),
        (f"call {PHONE} or 020 7946 0958", "call [PHONE] or [PHONE]"),
        ("call 555-0132 or 415.555.0132", "call [PHONE] or [PHONE]"),
        # Not personal data: left alone.
        ("order 4111111111111112 (fails Luhn)", "order 4111111111111112 (fails Luhn)"),
        ("trace 4bf92f3577b34da6a3ce929d0e0e4736", "trace 4bf92f3577b34da6a3ce929d0e0e4736"),
        ("on 2024-05-01 from 192.168.10.200, v1.2.3, $19.99", "on 2024-05-01 from 192.168.10.200, v1.2.3, $19.99"),
        ("id 1234567890 in 2024 2025", "id 1234567890 in 2024 2025"),
        ("", ""),
    ],
)
def test_redact_pii_finds_emails_cards_and_phones(text: str, expected: str) -> None:
    assert plaudit.redact_pii(text) == expected


def test_redact_pii_takes_extra_patterns() -> None:
    try:
        plaudit.redact_pii.add_pattern(r"\bACCT-\d{6}\b", "[ACCOUNT]")
        plaudit.redact_pii.add_pattern(r"(?i)\bssn:\s*\d{3}-\d{2}-\d{4}", lambda m: "ssn: [SSN]")
        assert plaudit.redact_pii("ACCT-123456 / SSN: 123-45-6789 / x@y.io") == "[ACCOUNT] / ssn: [SSN] / [EMAIL]"
    finally:
        plaudit.redact_pii.clear_patterns()
    assert plaudit.redact_pii("ACCT-123456") == "ACCT-123456"
    with pytest.raises(TypeError):
        plaudit.redact_pii(b"bytes")  # type: ignore[arg-type]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[BackgroundServer]:
    srv = BackgroundServer(CollectorSettings(db_url=f"sqlite:///{tmp_path / 'pii.db'}")).start()
    try:
        yield srv
    finally:
        srv.stop()
        srv.app.state.db.dispose()


def test_configure_redact_scrubs_content_before_it_leaves_the_process(server: BackgroundServer) -> None:
    plaudit.configure(endpoint=server.url, service_name="pii", redact=plaudit.redact_pii)
    try:

        @plaudit.trace(kind="llm")
        def answer(question: str) -> str:
            return f"I emailed {EMAIL} and charged {CARD}"

        with plaudit.span("turn"):
            answer(f"my phone is {PHONE}, mail {EMAIL}")
            ref = plaudit.current_ref()
        assert ref is not None
        assert plaudit.flush(20)
    finally:
        plaudit.shutdown()
    with httpx.Client(base_url=server.url, timeout=30) as http:
        trace = http.get(f"/v1/traces/{ref.trace_id}").json()
    text = repr(trace)
    for secret in (EMAIL, CARD, PHONE, "4111"):
        assert secret not in text
    llm = next(s for s in trace["spans"] if s["name"].endswith("answer"))
    assert "[PHONE]" in llm["input"] and "[EMAIL]" in llm["input"]
    assert "[EMAIL]" in llm["output"] and "[CARD]" in llm["output"]


def test_a_content_free_project_stores_no_message_content(tmp_path: Path) -> None:
    settings = CollectorSettings(db_url=f"sqlite:///{tmp_path / 'quiet.db'}", auth=True)
    with BackgroundServer(settings) as srv:
        db = srv.app.state.db
        projects.ensure_project(db, "quiet", store_content=False)
        key, _ = projects.create_key(db, "quiet")
        attrs = [
            KeyValue(key="plaudit.input", value=AnyValue(string_value=f"from {EMAIL}")),
            KeyValue(key="plaudit.output", value=AnyValue(string_value="secret answer")),
            KeyValue(key="gen_ai.request.model", value=AnyValue(string_value="m1")),
        ]
        span = Span(
            trace_id=bytes.fromhex("6" * 32),
            span_id=bytes.fromhex("7" * 16),
            name="chat",
            start_time_unix_nano=1,
            end_time_unix_nano=2,
            attributes=attrs,
        )
        body = ExportTraceServiceRequest(
            resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=[span])])]
        ).SerializeToString()
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=srv.url, timeout=30, headers=headers) as http:
            assert http.post("/v1/traces", content=body, headers={"Content-Type": "application/x-protobuf"}).is_success
            stored = http.get(f"/v1/traces/{'6' * 32}").json()["spans"][0]
        db.dispose()
    assert stored["model"] == "m1"
    assert stored["input"] is None and stored["output"] is None
    assert EMAIL not in repr(stored) and "secret answer" not in repr(stored)
