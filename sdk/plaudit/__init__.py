"""Plaudit: OpenTelemetry-native LLM tracing built around human feedback.

import plaudit

plaudit.configure()                       # http://127.0.0.1:4318 by default

@plaudit.trace(kind="llm", model="gpt-4o-mini", prompt=plaudit.Prompt("answer", "v2", "..."))
def answer(question: str) -> str: ...

answer("hi")
plaudit.feedback(plaudit.last_ref(), "thumbs", True, author="user-42")  # the call that just ended
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from plaudit._internal.context import context
from plaudit._internal.decorator import trace
from plaudit._internal.experiment_choice import Choice
from plaudit._internal.experiments import Experiment
from plaudit._internal.feedback.api import (
    afeedback,
    delete_feedback,
    feedback,
    feedback_token,
    preference,
    score_config,
    session_feedback,
    signal,
)
from plaudit._internal.feedback.refs import SpanRef, current_ref, last_ref
from plaudit._internal.handle import SpanHandle
from plaudit._internal.instrumentations import Instrumentation, instrument, instrument_anthropic, instrument_openai
from plaudit._internal.notices import PlauditWarning
from plaudit._internal.pii import redact_pii
from plaudit._internal.prompt import Prompt
from plaudit._internal.provider import configure
from plaudit._internal.shutdown import flush, shutdown
from plaudit._internal.span_block import span
from plaudit._internal.stats import stats
from plaudit._version import __version__
from plaudit.exceptions import PlauditConfigError

if TYPE_CHECKING:
    from plaudit._internal.query import Client

__all__ = [
    "Choice",
    "Client",
    "Experiment",
    "Instrumentation",
    "PlauditConfigError",
    "PlauditWarning",
    "Prompt",
    "SpanHandle",
    "SpanRef",
    "__version__",
    "afeedback",
    "configure",
    "context",
    "current_ref",
    "delete_feedback",
    "feedback",
    "feedback_token",
    "flush",
    "instrument",
    "instrument_anthropic",
    "instrument_openai",
    "last_ref",
    "preference",
    "redact_pii",
    "score_config",
    "session_feedback",
    "shutdown",
    "signal",
    "span",
    "stats",
    "trace",
]


def __getattr__(name: str) -> Any:
    # The query client pulls in pydantic; load it on first use so `import plaudit` stays light.
    if name == "Client":
        from plaudit._internal.query import Client

        return Client
    raise AttributeError(f"module 'plaudit' has no attribute {name!r}")
