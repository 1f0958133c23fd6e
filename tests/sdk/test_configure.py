"""``plaudit.configure``: setting precedence, provider ownership, shutdown and re-configuration."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from opentelemetry import trace as trace_api
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

import plaudit
from plaudit import semconv
from plaudit._internal.provider import get_settings
from plaudit.testing import InMemorySpanExporter, capture_spans


@plaudit.trace
def work(x: int) -> int:
    return x * 2


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter with a clean Plaudit/OTel environment plus ``env``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PLAUDIT_", "OTEL_"))}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env={**clean, **env},
        check=True,
        timeout=60,
    )


# --- precedence ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("explicit", "env", "expected"),
    [
        (None, {}, "http://127.0.0.1:4318"),
        (None, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318"}, "http://otel:4318"),
        (
            None,
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318", "PLAUDIT_ENDPOINT": "http://plaudit:4318"},
            "http://plaudit:4318",
        ),
        (
            "https://explicit.example/",
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318", "PLAUDIT_ENDPOINT": "http://plaudit:4318"},
            "https://explicit.example",
        ),
        (None, {"PLAUDIT_ENDPOINT": "", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:1"}, "http://otel:1"),
    ],
)
def test_endpoint_precedence(
    monkeypatch: pytest.MonkeyPatch, explicit: str | None, env: dict[str, str], expected: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    plaudit.configure(endpoint=explicit, send=False)
    assert get_settings().endpoint == expected


def test_other_settings_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAUDIT_API_KEY", "env-key")
    monkeypatch.setenv("PLAUDIT_PROJECT", "env-project")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "otel-service")
    plaudit.configure(send=False)
    settings = get_settings()
    assert (settings.api_key, settings.project, settings.service_name) == ("env-key", "env-project", "otel-service")

    monkeypatch.setenv("PLAUDIT_SERVICE_NAME", "plaudit-service")
    plaudit.configure(api_key="arg-key", project="arg-project", send=False)
    settings = get_settings()
    assert (settings.api_key, settings.project, settings.service_name) == ("arg-key", "arg-project", "plaudit-service")


@pytest.mark.parametrize("endpoint", ["127.0.0.1:4318", "ftp://collector", "collector", "grpc://x:4317"])
def test_bad_explicit_endpoint_raises_config_error(endpoint: str) -> None:
    with pytest.raises(plaudit.PlauditConfigError, match="endpoint"):
        plaudit.configure(endpoint=endpoint)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"capture_content": "false"},  # truthy: would silently capture what the user meant to hide
        {"capture_content": 0},
        {"send": "no"},
        {"max_value_length": "4096"},
        {"max_value_length": 100.5},
        {"endpoint": 4318},
    ],
)
def test_wrongly_typed_explicit_settings_raise_config_error(kwargs: dict[str, object]) -> None:
    with pytest.raises(plaudit.PlauditConfigError):
        plaudit.configure(**kwargs)  # type: ignore[arg-type]


def test_failed_configure_keeps_the_previous_setup(exporter: InMemorySpanExporter) -> None:
    with pytest.raises(plaudit.PlauditConfigError):
        plaudit.configure(endpoint="nowhere")
    work(1)
    assert len(exporter.get_finished_spans()) == 1


def test_bad_endpoint_from_env_raises_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAUDIT_ENDPOINT", "localhost:4318")
    with pytest.raises(plaudit.PlauditConfigError):
        plaudit.configure()
    assert issubclass(plaudit.PlauditConfigError, ValueError)


def test_bad_send_env_raises_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAUDIT_SEND", "perhaps")
    with pytest.raises(plaudit.PlauditConfigError, match="PLAUDIT_SEND"):
        plaudit.configure()


def test_service_name_and_project_land_on_the_resource() -> None:
    with capture_spans(service_name="chatbot", project="support") as exporter:
        work(1)
        (span,) = exporter.get_finished_spans()
    assert span.resource.attributes["service.name"] == "chatbot"
    assert span.resource.attributes[semconv.PROJECT] == "support"


# --- lifecycle ----------------------------------------------------------------------------------------------------


def test_flush_reports_success(exporter: InMemorySpanExporter) -> None:
    work(1)
    assert plaudit.flush(timeout=5) is True


def test_reconfigure_replaces_the_exporter(exporter: InMemorySpanExporter) -> None:
    work(1)
    with capture_spans() as second:
        work(2)
    assert len(exporter.get_finished_spans()) == 1
    assert len(second.get_finished_spans()) == 1


def test_after_shutdown_tracing_is_a_no_op_and_code_still_runs(exporter: InMemorySpanExporter) -> None:
    plaudit.shutdown()
    seen: list[object] = []

    @plaudit.trace
    def handler() -> str:
        seen.append(plaudit.current_ref())
        return "ok"

    assert handler() == "ok"
    with plaudit.span("ignored") as handle:
        handle.set_output("x")
        assert handle.ref is None
    assert seen == [None]
    assert exporter.get_finished_spans() == ()
    plaudit.shutdown()  # idempotent
    assert plaudit.flush() is True


def test_wrong_tracer_provider_type_raises() -> None:
    with pytest.raises(plaudit.PlauditConfigError):
        plaudit.configure(tracer_provider=trace_api.NoOpTracerProvider(), send=False)  # type: ignore[arg-type]


def test_tracer_provider_argument_attaches_to_the_hosts_provider() -> None:
    host_exporter = InMemorySpanExporter()
    host = TracerProvider()
    host.add_span_processor(SimpleSpanProcessor(host_exporter))
    ours = InMemorySpanExporter()
    plaudit.configure(tracer_provider=host, _span_exporter=ours, _simple_processor=True, send=False)

    work(3)
    with plaudit.context(user_id="u-7"), host.get_tracer("third.party").start_as_current_span("http-call"):
        pass  # a span from another instrumentation on the host's provider

    host_spans = {s.name.rsplit(".", 1)[-1]: s for s in host_exporter.get_finished_spans()}
    our_spans = {s.name.rsplit(".", 1)[-1]: s for s in ours.get_finished_spans()}
    assert set(host_spans) == set(our_spans) == {"work", "http-call"}
    assert host_spans["http-call"].attributes[semconv.USER_ID] == "u-7"  # our processor stamps third-party spans
    assert host_spans["work"].instrumentation_scope.name == "plaudit"

    plaudit.shutdown()  # stops our processors, never the host's provider
    with host.get_tracer("third.party").start_as_current_span("after-shutdown"):
        pass
    assert "after-shutdown" in {s.name for s in host_exporter.get_finished_spans()}
    assert "after-shutdown" not in {s.name for s in ours.get_finished_spans()}
    host.shutdown()


def test_an_existing_global_provider_is_kept() -> None:
    out = run_python(
        """
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        host = TracerProvider()
        trace.set_tracer_provider(host)
        import plaudit
        plaudit.configure(send=False)
        print(trace.get_tracer_provider() is host)
        """
    )
    assert out.stdout.strip() == "True"


def test_without_a_global_provider_plaudit_installs_its_own() -> None:
    out = run_python(
        """
        from opentelemetry import trace
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        import plaudit
        exporter = InMemorySpanExporter()
        plaudit.configure(_span_exporter=exporter, _simple_processor=True)
        with trace.get_tracer("third.party").start_as_current_span("instrumented"):
            pass
        print([s.name for s in exporter.get_finished_spans()])
        """
    )
    assert out.stdout.strip() == "['instrumented']"


def test_first_use_without_configure_and_a_bad_environment_never_breaks_the_app() -> None:
    out = run_python(
        """
        import logging
        logging.basicConfig(level=logging.WARNING)
        import plaudit

        @plaudit.trace
        def handler(x):
            return x + 1

        with plaudit.span("block") as s:
            s.set_output(1)
        print(handler(41), plaudit.current_ref())
        """,
        PLAUDIT_ENDPOINT="not a url",
    )
    assert out.stdout.strip() == "42 None"
    assert out.stderr.count("could not configure itself from the environment") == 1  # one warning, not one per call


def test_first_use_without_configure_sets_up_from_the_environment() -> None:
    out = run_python(
        """
        import plaudit
        from plaudit._internal.provider import get_settings

        @plaudit.trace
        def handler():
            return plaudit.current_ref() is not None

        print(handler(), get_settings().endpoint)
        """,
        PLAUDIT_ENDPOINT="http://from-env:9999",
        PLAUDIT_SEND="false",
    )
    assert out.stdout.strip() == "True http://from-env:9999"
