"""Context crosses threads: spans opened in a ``threading.Thread`` or a ``ThreadPoolExecutor`` task are children
of the span that started them, with its :func:`plaudit.context` values, without user code.

This is OpenTelemetry's own ``opentelemetry-instrumentation-threading`` (it carries the whole OTel context,
where Plaudit keeps user, session and the enclosing prompt/variant). :func:`plaudit.configure` turns it on;
``configure(thread_context=False)``, ``PLAUDIT_THREAD_CONTEXT=false`` or OpenTelemetry's
``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=threading`` leave threading alone. Plaudit undoes only what it did:
threading instrumented by the host (``opentelemetry-instrument``, say) is never uninstrumented here.
"""

from __future__ import annotations

import os

from plaudit._internal.errors import logger

_ours = False


def _disabled_by_otel() -> bool:
    names = os.environ.get("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "")
    return any(name.strip() in ("threading", "*") for name in names.split(","))


def propagate_threads(enabled: bool) -> None:
    """Instrument threading (once) when ``enabled``; undo Plaudit's own instrumentation when not."""
    global _ours
    try:
        from opentelemetry.instrumentation.threading import ThreadingInstrumentor
    except ImportError:  # pragma: no cover - a core dependency; a trimmed install loses only this feature
        logger.info("opentelemetry-instrumentation-threading is not installed; context does not cross threads")
        return
    instrumentor = ThreadingInstrumentor()
    if enabled and not _disabled_by_otel():
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(skip_dep_check=True)
            _ours = True
    elif _ours and instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()
        _ours = False
