"""The :class:`Choice` an :meth:`plaudit.Experiment.choose` call returns: the variant and its payload, and as
a ``with`` block a span whose feedback (and that of every span opened inside) reaches the experiment."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from opentelemetry import context as context_api

from plaudit import semconv
from plaudit._internal.context import CONTEXT_KEY, current_attributes
from plaudit._internal.errors import handle_internal_errors
from plaudit._internal.feedback.refs import SpanRef
from plaudit._internal.prompt import Prompt
from plaudit._internal.span_block import span


class Choice:
    """One choice: ``variant``, ``payload``, ``probability`` (and ``prompt``, ``config``, ``model`` when the
    payload has them). As a ``with`` block it is a span, and every span opened inside carries the
    experiment, the variant, the probability and the segment; rate ``ref`` (or any of those spans).
    """

    def __init__(
        self,
        experiment: str,
        variant: str | None,
        payload: dict[str, Any],
        probability: float | None,
        segment: str | None,
        user_id: str | None,
    ) -> None:
        self.experiment = experiment
        self.variant = variant
        self.payload = payload
        self.probability = probability
        self.segment = segment
        self.user_id = user_id
        self.id = secrets.token_hex(8)
        self.ref: SpanRef | None = None
        self._span: Any = None
        self._token: object = None

    @property
    def prompt(self) -> Prompt | None:
        """The payload's ``prompt`` (``{"name", "version", "template"}`` or ``"name@version"`` with a
        ``template`` key) as a :class:`plaudit.Prompt`, or None."""
        raw = self.payload.get("prompt")
        try:
            if isinstance(raw, Mapping):
                return Prompt(raw["name"], raw.get("version", "1"), raw.get("template", ""))
            if isinstance(raw, str) and raw:
                name, _, version = raw.partition("@")
                return Prompt(name, version or "1", str(self.payload.get("template", "")))
        except (KeyError, TypeError):
            return None
        return None

    @property
    def config(self) -> dict[str, Any] | None:
        """The payload's ``config`` dict, or None."""
        raw = self.payload.get("config")
        return dict(raw) if isinstance(raw, Mapping) else None

    @property
    def model(self) -> str | None:
        """The payload's ``model``, or None."""
        raw = self.payload.get("model")
        return raw if isinstance(raw, str) else None

    @property
    def attributes(self) -> dict[str, Any]:
        """The span attributes this choice stamps (for spans the app opens some other way)."""
        if self.variant is None:
            return {}
        attrs: dict[str, Any] = {
            semconv.EXPERIMENT: self.experiment,
            semconv.VARIANT: self.variant,
            semconv.EXPERIMENT_CHOICE: self.id,
        }
        if self.probability is not None:
            attrs[semconv.EXPERIMENT_PROBABILITY] = self.probability
        if self.segment is not None:
            attrs[semconv.EXPERIMENT_SEGMENT] = self.segment
        if self.user_id is not None:
            attrs[semconv.USER_ID] = self.user_id
        return attrs

    def __repr__(self) -> str:
        return f"Choice({self.experiment!r}, variant={self.variant!r}, probability={self.probability!r})"

    def __enter__(self) -> Choice:
        with handle_internal_errors:
            merged = {**(current_attributes() or {}), **self.attributes}
            self._token = context_api.attach(context_api.set_value(CONTEXT_KEY, merged))
            config, model = self.config, self.model
            try:
                opener = span(
                    f"experiment {self.experiment}", kind="chain", prompt=self.prompt, config=config, model=model
                )
            except (TypeError, ValueError):  # a payload the span cannot take: no prompt/config on it
                opener = span(f"experiment {self.experiment}", kind="chain")
            handle = opener.__enter__()
            self._span = opener
            self.ref = handle.ref
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        opener, token = self._span, self._token
        self._span = self._token = None
        if opener is not None:
            opener.__exit__(exc_type, exc, tb)
        if token is not None:
            with handle_internal_errors:
                context_api.detach(token)  # type: ignore[arg-type]
