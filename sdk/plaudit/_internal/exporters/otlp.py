"""Build the span exporter for the configured collector."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from opentelemetry.sdk.trace.export import SpanExporter

from plaudit._internal.config import Settings
from plaudit._internal.exporters.durable import DurableSpanExporter

EXPORT_TIMEOUT_SECONDS = 5.0
"""One export attempt, OpenTelemetry's own retries included; past it the batch waits for the next try."""

_CREDENTIAL_ENV = (
    "OTEL_PYTHON_EXPORTER_OTLP_HTTP_CREDENTIAL_PROVIDER",
    "OTEL_PYTHON_EXPORTER_OTLP_HTTP_TRACES_CREDENTIAL_PROVIDER",
)


def build_span_exporter(settings: Settings) -> SpanExporter:
    """OpenTelemetry's OTLP/HTTP protobuf exporter pointed at ``{endpoint}/v1/traces``, made durable.

    Undelivered batches wait in memory (``settings.max_queue_spans`` spans) or, with ``spool_dir``, on disk.
    """
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    headers = settings.headers() or None
    session, last_status = _status_session()
    url = f"{settings.endpoint}/v1/traces"
    inner = OTLPSpanExporter(endpoint=url, headers=headers, timeout=EXPORT_TIMEOUT_SECONDS, session=session)
    return DurableSpanExporter(
        inner,
        max_buffer_spans=settings.max_queue_spans,
        spool_dir=settings.spool_dir,
        last_status=last_status,
        url=url,
    )


def _status_session() -> tuple[Any, Callable[[], int | None]]:
    """A requests session (the exporter's public ``session=`` hook) that remembers the last HTTP status per
    thread, so a batch the collector refuses (4xx) is told apart from an outage. Left out when the user
    configured a credential-provider session through the environment."""
    if any(os.environ.get(name) for name in _CREDENTIAL_ENV):
        return None, lambda: None
    try:
        import requests
    except ImportError:  # pragma: no cover - a dependency of the OTLP/HTTP exporter
        return None, lambda: None

    local = threading.local()

    class _StatusSession(requests.Session):
        def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> Any:
            local.status = None
            response = super().request(method, url, *args, **kwargs)
            local.status = response.status_code
            return response

    return _StatusSession(), lambda: getattr(local, "status", None)
