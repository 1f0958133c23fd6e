"""Settings: explicit arguments win over ``PLAUDIT_*`` variables, which win over ``OTEL_*`` ones."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass

from plaudit.exceptions import PlauditConfigError
from plaudit.semconv import PROJECT_HEADER

DEFAULT_ENDPOINT = "http://127.0.0.1:4318"
DEFAULT_MAX_VALUE_LENGTH = 16 * 1024
DEFAULT_MAX_QUEUE_SPANS = 65_536
PROJECT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
"""What the collector accepts as a project name (its ``X-Plaudit-Project`` header)."""


@dataclass(frozen=True)
class Settings:
    """Resolved configuration; one instance per :func:`plaudit.configure` call."""

    endpoint: str = DEFAULT_ENDPOINT
    api_key: str | None = None
    project: str | None = None
    service_name: str = "unknown_service"
    capture_content: bool = True
    max_value_length: int = DEFAULT_MAX_VALUE_LENGTH
    send: bool = True
    max_queue_spans: int = DEFAULT_MAX_QUEUE_SPANS
    """Spans buffered in memory while the collector is slow or down; the oldest are dropped past it."""
    spool_dir: str | None = None
    """Where spans and feedback that could not be delivered are spilled to disk (``PLAUDIT_SPOOL_DIR``)."""
    sample_rate: float | None = None
    """Head-sampling ratio for new traces (``PLAUDIT_SAMPLE_RATE``); None keeps every trace."""
    redact: Callable[[str], str] | None = None
    """Applied to every captured text, error message and feedback comment before it leaves (code only, no env var)."""
    thread_context: bool = True
    """Spans opened in threads and thread pools started inside a span are its children (``PLAUDIT_THREAD_CONTEXT``)."""

    def headers(self) -> dict[str, str]:
        """The HTTP headers every request to the collector carries (see :func:`request_headers`)."""
        return request_headers(self.api_key, self.project)


def request_headers(api_key: str | None, project: str | None) -> dict[str, str]:
    """The API key, and the project: a collector without keys stores the data in the project the app names;
    with keys, the key's project must be the one named."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    if project:
        headers[PROJECT_HEADER] = project
    return headers


def _env(*names: str) -> str | None:
    for name in names:
        value = os.environ.get(name)
        if value:  # an empty variable counts as unset
            return value
    return None


def _parse_bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise PlauditConfigError(f"{name} must be true or false, got {raw!r}")


def resolve(
    *,
    endpoint: str | None = None,
    api_key: str | None = None,
    project: str | None = None,
    service_name: str | None = None,
    capture_content: bool | None = None,
    max_value_length: int | None = None,
    send: bool | None = None,
    spool_dir: str | None = None,
    sample_rate: float | None = None,
    redact: Callable[[str], str] | None = None,
    thread_context: bool | None = None,
) -> Settings:
    """Build :class:`Settings` from arguments, then the environment, then defaults."""
    # Explicit flags are type-checked: a truthy string such as "false" must not silently turn capture on.
    for flag_name, flag in (("capture_content", capture_content), ("send", send), ("thread_context", thread_context)):
        if flag is not None and not isinstance(flag, bool):
            raise PlauditConfigError(f"{flag_name} must be True or False, got {flag!r}")
    if max_value_length is not None and (isinstance(max_value_length, bool) or not isinstance(max_value_length, int)):
        raise PlauditConfigError(f"max_value_length must be an integer, got {max_value_length!r}")
    endpoint = endpoint or _env("PLAUDIT_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT") or DEFAULT_ENDPOINT
    if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
        raise PlauditConfigError(f"endpoint must start with http:// or https://, got {endpoint!r}")
    if capture_content is None:
        raw = _env("PLAUDIT_CAPTURE_CONTENT")
        capture_content = True if raw is None else _parse_bool("PLAUDIT_CAPTURE_CONTENT", raw)
    if send is None:
        raw = _env("PLAUDIT_SEND")
        send = True if raw is None else _parse_bool("PLAUDIT_SEND", raw)
    if thread_context is None:
        raw = _env("PLAUDIT_THREAD_CONTEXT")
        thread_context = True if raw is None else _parse_bool("PLAUDIT_THREAD_CONTEXT", raw)
    if max_value_length is None:
        raw = _env("PLAUDIT_MAX_VALUE_LENGTH")
        try:
            max_value_length = DEFAULT_MAX_VALUE_LENGTH if raw is None else int(raw)
        except ValueError:
            raise PlauditConfigError(f"PLAUDIT_MAX_VALUE_LENGTH must be an integer, got {raw!r}") from None
    if redact is not None and not callable(redact):
        raise PlauditConfigError(f"redact must be a callable taking and returning a string, got {redact!r}")
    if sample_rate is None:
        raw = _env("PLAUDIT_SAMPLE_RATE")
        if raw is not None:
            try:
                sample_rate = float(raw)
            except ValueError:
                raise PlauditConfigError(f"PLAUDIT_SAMPLE_RATE must be a number from 0 to 1, got {raw!r}") from None
    if sample_rate is not None:
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, float)):
            raise PlauditConfigError(f"sample_rate must be a number from 0 to 1, got {sample_rate!r}")
        if not math.isfinite(sample_rate) or not 0.0 <= sample_rate <= 1.0:
            raise PlauditConfigError(f"sample_rate must be a number from 0 to 1, got {sample_rate!r}")
        sample_rate = float(sample_rate)
    if max_value_length < 64:
        raise PlauditConfigError(f"max_value_length must be at least 64, got {max_value_length}")
    project = project or _env("PLAUDIT_PROJECT")
    if project is not None and (not isinstance(project, str) or not PROJECT_NAME.match(project)):
        raise PlauditConfigError(
            f"project must be 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit; got {project!r}"
        )
    return Settings(
        endpoint=endpoint.rstrip("/"),
        api_key=api_key or _env("PLAUDIT_API_KEY"),
        project=project,
        service_name=service_name or _env("PLAUDIT_SERVICE_NAME", "OTEL_SERVICE_NAME") or "unknown_service",
        capture_content=capture_content,
        max_value_length=max_value_length,
        send=send,
        spool_dir=spool_dir or _env("PLAUDIT_SPOOL_DIR"),
        sample_rate=sample_rate,
        redact=redact,
        thread_context=thread_context,
    )
