"""``import plaudit`` stays light and side-effect free; heavy pieces load only when used."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

FORBIDDEN = ["httpx", "pydantic", "fastapi", "sqlmodel", "sqlalchemy", "plaudit_collector", "google.protobuf"]


def run_python(code: str) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLAUDIT_", "OTEL_"))}
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env, check=True, timeout=60
    )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def test_import_plaudit_loads_no_heavy_or_collector_modules() -> None:
    result = run_python(
        f"""
        import json, sys, threading
        import plaudit
        from opentelemetry import trace
        forbidden = {FORBIDDEN!r}
        print(json.dumps({{
            "loaded": [m for m in forbidden if m in sys.modules],
            "threads": threading.active_count(),
            "global_provider": type(trace.get_tracer_provider()).__name__,
        }}))
        """
    )
    assert result == {"loaded": [], "threads": 1, "global_provider": "ProxyTracerProvider"}


def test_tracing_and_feedback_validation_stay_light_too() -> None:
    result = run_python(
        f"""
        import json, sys
        import plaudit, plaudit.semconv, plaudit.testing
        with plaudit.testing.capture_spans():
            @plaudit.trace(kind="llm", prompt=plaudit.Prompt("p", "1", "t"), config={{"t": 0}})
            def call(x):
                with plaudit.context(user_id="u"), plaudit.span("inner"):
                    return str(plaudit.current_ref())
            call(1)
        try:
            plaudit.feedback("not a ref", "thumbs", True)
        except ValueError:
            pass
        print(json.dumps([m for m in {FORBIDDEN!r} if m in sys.modules]))
        """
    )
    assert result == []


def test_client_is_loaded_lazily() -> None:
    result = run_python(
        """
        import json, sys
        import plaudit
        before = "pydantic" in sys.modules
        client_cls = plaudit.Client
        from plaudit import Client
        try:
            plaudit.NoSuchThing
        except AttributeError as exc:
            missing = str(exc)
        print(json.dumps({
            "before": before,
            "after": "pydantic" in sys.modules and "httpx" in sys.modules,
            "same": client_cls is Client,
            "name": client_cls.__name__,
            "missing": missing,
        }))
        """
    )
    assert result == {
        "before": False,
        "after": True,
        "same": True,
        "name": "Client",
        "missing": "module 'plaudit' has no attribute 'NoSuchThing'",
    }
