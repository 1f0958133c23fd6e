"""The HTTP surface: routes (one module per resource), their dependencies (database, settings, the
caller's project), feedback tokens and the mapping of errors to ``{"error": {...}}`` replies.

Requests enter here and leave as JSON or OTLP replies. Routes hold no SQL: telemetry goes through
:mod:`plaudit_collector.pipeline`, feedback and reads through :mod:`plaudit_collector.store`, questions
through :mod:`plaudit_collector.analytics`.
"""
