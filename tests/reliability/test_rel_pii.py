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
        (
            "on 2024-05-01, 15.01.2024, 12/05/2024, v1.2.3, $19.99",
            "on 2024-05-01, 15.01.2024, 12/05/2024, v1.2.3, $19.99",
        ),
        ("id 1234567890 in 2024 2025, 1.299.000 EUR, build 10.0.19041.1234", None),
        ("sha 3f786850e387550fdab836ed7e6dc881de23001b at 12:30:45", None),
        ("", ""),
        # Cards with any separator people use.
        ("card 4111.1111.1111.1111", "card [CARD]"),
        ("card 4111/1111/1111/1111", "card [CARD]"),
        ("card 4111_1111_1111_1111", "card [CARD]"),
        ("card 4111  1111  1111  1111", "card [CARD]"),
        ("card 4111\u00a01111\u00a01111\u00a01111", "card [CARD]"),
        # Emails in every spelling.
        ("mail ada@bücher.de", "mail [EMAIL]"),
        ("mail ada@例え.jp", "mail [EMAIL]"),
        ("mail user@xn--bcher-kva.de", "mail [EMAIL]"),
        ('mail "ada lovelace"@example.com', "mail [EMAIL]"),
        ("mail ada@[192.168.0.1] or ada@[IPv6:2001:db8::1]", "mail [EMAIL] or [EMAIL]"),
        ("mail ada%40example.com", "mail [EMAIL]"),
        ("mail ada\uff20example.com", "mail [EMAIL]"),
        # German and slash phone formats.
        ("ruf 030 12345678 an", "ruf [PHONE] an"),
        ("ruf +49 30 12345678 an", "ruf [PHONE] an"),
        ("ruf 0049 30 1234567", "ruf [PHONE]"),
        ("ruf +49 (0)30 1234567", "ruf [PHONE]"),
        ("ruf 030/1234567 oder 030 / 123 456 78", "ruf [PHONE] oder [PHONE]"),
        ("ruf 0171-1234567 oder 0171 1234567", "ruf [PHONE] oder [PHONE]"),
        # Secrets.
        ("key sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD", "key [OPENAI_KEY]"),
        ("key sk-abcdefghijklmnopqrstuvwxyz0123456789", "key [OPENAI_KEY]"),
        ("key sk-ant-api03-abcdefghijklmnopqrstuvwxyz-0123456789_AB", "key [ANTHROPIC_KEY]"),
        ("token ghp_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123", "token [GITHUB_TOKEN]"),
        ("token github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "token [GITHUB_TOKEN]"),
        ("aws AKIAIOSFODNN7EXAMPLE", "aws [AWS_ACCESS_KEY]"),
        ("secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "secret [AWS_SECRET_KEY]"),
        (
            "jwt eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
            "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "jwt [JWT]",
        ),
        ("iban DE89 3704 0044 0532 0130 00 and GB82WEST12345698765432", "iban [IBAN] and [IBAN]"),
        ("iban DE89 3704 0044 0532 0130 01 fails mod-97", None),
        ("from 192.168.10.200 and ::1 and 2001:db8::8a2e:370:7334", "from [IP] and [IP] and [IP]"),
        ("not an address 999.1.1.1", None),
    ],
)
def test_redact_pii_finds_personal_data_and_secrets(text: str, expected: str | None) -> None:
    assert plaudit.redact_pii(text) == (text if expected is None else expected)


def test_each_built_in_pattern_can_be_switched_off_by_name() -> None:
    text = f"mail {EMAIL} from 10.0.0.1"
    assert set(plaudit.redact_pii.enabled) == {
        "email", "card", "phone", "iban", "ipv4", "ipv6", "jwt",
        "openai_key", "anthropic_key", "github_token", "aws_access_key", "aws_secret_key",
    }  # fmt: skip
    try:
        plaudit.redact_pii.disable("ipv4", "ipv6")
        assert plaudit.redact_pii(text) == "mail [EMAIL] from 10.0.0.1"
        assert "ipv4" not in plaudit.redact_pii.enabled
    finally:
        plaudit.redact_pii.enable("ipv4", "ipv6")
    assert plaudit.redact_pii(text) == "mail [EMAIL] from [IP]"
    with pytest.raises(ValueError, match="unknown pattern"):
        plaudit.redact_pii.disable("passport")


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
    for secret in (EMAIL, CARD, PHONE, "4111 1111", "555-0132"):  # not "4111" alone: ids hold it by chance
        assert secret not in text
    llm = next(s for s in trace["spans"] if s["name"].endswith("answer"))
    assert "[PHONE]" in llm["input"] and "[EMAIL]" in llm["input"]
    assert "[EMAIL]" in llm["output"] and "[CARD]" in llm["output"]


def test_the_redact_hook_covers_errors_status_events_and_feedback_text(tmp_path: Path) -> None:
    """Exception messages and stack traces, status descriptions, GenAI content events, comments and corrections."""
    from opentelemetry import trace as trace_api
    from rel_helpers import db_rows

    db_url = f"sqlite:///{tmp_path / 'redact.db'}"
    with BackgroundServer(CollectorSettings(db_url=db_url)) as srv:
        plaudit.configure(endpoint=srv.url, service_name="pii", redact=plaudit.redact_pii)
        try:

            @plaudit.trace(kind="llm")
            def answer(question: str) -> str:
                trace_api.get_current_span().add_event(
                    "gen_ai.content.prompt", {"gen_ai.prompt": f"user wrote {EMAIL}", "tokens": 3}
                )
                raise ValueError(f"could not charge {CARD} for {EMAIL}")

            with pytest.raises(ValueError, match="4111"):  # the app still sees its own exception, unredacted
                answer("hello")
            ref = plaudit.last_ref()
            assert ref is not None
            plaudit.feedback(ref, "thumbs", False, comment=f"call me on {PHONE}", correction=f"mail {EMAIL}")
            assert plaudit.flush(20)
        finally:
            plaudit.shutdown()
        srv.app.state.db.dispose()
    stored = repr(db_rows(db_url, "SELECT status_message, events, input, output FROM spans"))
    feedback = repr(db_rows(db_url, "SELECT comment, correction FROM feedback"))
    for secret in (EMAIL, CARD, PHONE, "4111", "555-0132"):
        assert secret not in stored and secret not in feedback
    assert "[CARD]" in stored and "[EMAIL]" in stored  # the status, the exception event and the GenAI event
    assert "[PHONE]" in feedback and "[EMAIL]" in feedback


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
