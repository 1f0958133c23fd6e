"""Span exporters Plaudit builds: OpenTelemetry's own OTLP exporter, configured (and made durable)."""
