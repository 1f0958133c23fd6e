"""Build the span exporter for the configured collector."""

from __future__ import annotations

from opentelemetry.sdk.trace.export import SpanExporter

from plaudit._internal.config import Settings


def build_span_exporter(settings: Settings) -> SpanExporter:
    """OpenTelemetry's OTLP/HTTP protobuf exporter pointed at ``{endpoint}/v1/traces``."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    headers = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else None
    return OTLPSpanExporter(endpoint=f"{settings.endpoint}/v1/traces", headers=headers)
