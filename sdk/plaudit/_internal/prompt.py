"""Versioned prompt templates whose use stamps the current span."""

from __future__ import annotations

import hashlib
import string
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import trace as trace_api

from plaudit import semconv
from plaudit._internal.context import capture_allowed
from plaudit._internal.errors import handle_internal_errors
from plaudit._internal.provider import get_settings
from plaudit._internal.serialize import capture_text


@dataclass(frozen=True)
class Prompt:
    """A named, versioned prompt template.

    Pass it as ``@plaudit.trace(prompt=...)`` or call :meth:`format` inside a traced call:
    either way the span records the prompt's name, version and template hash, which the
    leaderboard groups by.
    """

    name: str
    version: str
    template: str = ""
    template_hash: str = field(init=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError("Prompt name must be a non-empty string")
        if not isinstance(self.version, (str, int)) or self.version == "":
            raise TypeError("Prompt version must be a non-empty string")
        if not isinstance(self.template, str):
            raise TypeError("Prompt template must be a string")
        object.__setattr__(self, "version", str(self.version))
        object.__setattr__(self, "template_hash", hashlib.sha256(self.template.encode()).hexdigest()[:16])

    def attributes(self) -> dict[str, str]:
        """The span attributes that identify this prompt."""
        return {
            semconv.PROMPT_NAME: self.name,
            semconv.PROMPT_VERSION: self.version,
            semconv.PROMPT_TEMPLATE_HASH: self.template_hash,
        }

    def format(self, **variables: Any) -> str:
        """Render the template with ``str.format`` and stamp the prompt on the current span."""
        text = self.template.format(**variables)
        with handle_internal_errors:
            span = trace_api.get_current_span()
            if span.is_recording():
                span.set_attributes(self.attributes())
                settings = get_settings()
                if settings.capture_content and capture_allowed():  # variables are content: same rules
                    span.set_attribute(
                        semconv.PROMPT_VARIABLES,
                        capture_text(variables, settings.max_value_length, settings.redact),
                    )
        return text

    @property
    def variables(self) -> list[str]:
        """The placeholder names the template expects."""
        return [name for _, name, _, _ in string.Formatter().parse(self.template) if name]
