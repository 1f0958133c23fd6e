"""The sampler Plaudit's own tracer provider is built with.

A provider keeps the sampler it was constructed with, yet ``configure(sample_rate=...)`` may be called
again on a provider that lives as long as the process; this module owns the indirection that lets one
sampler object follow the latest rate. It knows nothing of Plaudit's other state.
"""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry import context as context_api
from opentelemetry import trace as trace_api
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_ON,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import Link, SpanKind
from opentelemetry.util.types import Attributes


class RatioSampler(Sampler):
    """OTel's ``ParentBased(TraceIdRatioBased(rate))`` behind a handle, so re-configuration can change the rate.

    Child spans follow their parent's decision, so a trace is kept or dropped whole.
    """

    def __init__(self) -> None:
        self._delegate: Sampler = ParentBased(ALWAYS_ON)
        self.keeps_all = True
        self.should_sample = self._delegate.should_sample  # type: ignore[method-assign]

    def set_rate(self, rate: float | None) -> None:
        """Follow ``rate`` (None or 1 keeps every trace); the delegate's method is bound here, once, so that
        each span's sampling decision costs no extra call through this handle."""
        keeps_all = rate is None or rate >= 1.0
        delegate = ParentBased(ALWAYS_ON) if keeps_all else ParentBased(TraceIdRatioBased(rate))  # type: ignore[arg-type]
        self._delegate = delegate
        self.keeps_all = keeps_all
        self.should_sample = delegate.should_sample  # type: ignore[method-assign]

    def should_sample(
        self,
        parent_context: context_api.Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: trace_api.TraceState | None = None,
    ) -> SamplingResult:
        return self._delegate.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def get_description(self) -> str:
        return f"Plaudit{{{self._delegate.get_description()}}}"
