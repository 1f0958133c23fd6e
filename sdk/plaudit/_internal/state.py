"""The one record of what :func:`plaudit.configure` set up, shared by everything that opens or stops spans.

Setup (``provider.py``) writes it; the span openers, instrumentations, the feedback API and
flush/shutdown (``shutdown.py``) read it. It lives in its own module, importing none of them, so each of
those can depend on it without depending on each other.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from opentelemetry import trace as trace_api
from opentelemetry.sdk.trace import TracerProvider

from plaudit._internal.config import Settings
from plaudit._internal.processors import Pipeline, ProviderHook
from plaudit._internal.sampling import RatioSampler


class _State:
    """Everything :func:`configure` sets up.

    Plaudit's own provider lives as long as the process (a global provider cannot be replaced);
    re-configuration swaps the :class:`Pipeline` its :class:`ProviderHook` forwards to.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.settings: Settings | None = None
        self.provider: TracerProvider | None = None  # the provider Plaudit's own spans start on
        self.owns_provider = False
        self.own_provider: TracerProvider | None = None
        self.own_resource: dict[str, str] | None = None
        self.global_provider: TracerProvider | None = None  # ours, if we installed it globally
        self.hooks: weakref.WeakKeyDictionary[TracerProvider, ProviderHook] = weakref.WeakKeyDictionary()
        self.sampler = RatioSampler()
        self.pipeline: Pipeline | None = None
        self.tracer: trace_api.Tracer | None = None
        self.feedback: Any = None  # FeedbackClient, imported lazily to keep `import plaudit` light
        self.exit_hook_registered = False


STATE = _State()
