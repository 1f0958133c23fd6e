"""What a judge definition may hold on the wire, and its span filter in the analytics vocabulary."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr, model_validator

from plaudit_collector.analytics.core import Filters
from plaudit_collector.errors import ApiError
from plaudit_collector.schemas import ScoreConfigIn, ScoreName

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
KEY_ENV_PATTERN = r"^[A-Z][A-Z0-9_]{0,90}_API_KEY$"
PLACEHOLDERS = ("input", "output", "reference", "correction", "score", "scale", "span_name", "model")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class JudgeFilter(BaseModel):
    """Which spans a judge rates (every key optional): the analytics filters, as JSON."""

    model_config = ConfigDict(extra="forbid")

    span_name: list[StrictStr] = Field(default_factory=list, max_length=50)
    span_kind: list[StrictStr] = Field(default_factory=list, max_length=20)
    tag: list[StrictStr] = Field(default_factory=list, max_length=20)
    metadata: dict[str, StrictStr] = Field(default_factory=dict, max_length=20)
    where: dict[str, StrictStr | None] = Field(default_factory=dict, max_length=20)


class JudgeIn(BaseModel):
    """A judge: the score it writes, the rubric, the model that applies it, and which spans it rates.

    The API key is never part of a definition: ``api_key_env`` names the environment variable (of the process
    running the judge) that holds it, by default ``OPENAI_API_KEY`` or ``ANTHROPIC_API_KEY``."""

    model_config = ConfigDict(extra="forbid")

    score: ScoreName
    score_config: ScoreConfigIn | None = Field(
        default=None, description="the scale the judge answers on; default: the project's score config of that name"
    )
    prompt: str = Field(min_length=1, max_length=32 * 1024, description="rubric with {{input}}, {{output}}, ...")
    provider: Literal["openai", "anthropic"] = "openai"
    model: str = Field(min_length=1, max_length=200)
    base_url: str | None = Field(default=None, max_length=500, pattern=r"^https?://[^\s]+$")
    api_key_env: str | None = Field(default=None, pattern=KEY_ENV_PATTERN)
    temperature: StrictInt | StrictFloat | None = Field(default=None, ge=0, le=2, description="default: the model's")
    max_tokens: StrictInt = Field(default=512, ge=1, le=8192)
    filter: JudgeFilter = Field(default_factory=JudgeFilter)
    sample_rate: StrictInt | StrictFloat = Field(default=1.0, gt=0, le=1)
    enabled: StrictBool = True
    budget_per_hour: StrictInt | None = Field(default=None, ge=1, le=10_000_000)
    rate_per_minute: StrictInt | None = Field(default=None, ge=1, le=100_000)
    input_cost_per_mtok: StrictInt | StrictFloat | None = Field(default=None, ge=0, le=1e6)
    output_cost_per_mtok: StrictInt | StrictFloat | None = Field(default=None, ge=0, le=1e6)

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        """Text the databases can hold: no NUL character (PostgreSQL text refuses it), no lone surrogate."""
        bad = unstorable(data)
        if bad is not None:
            raise ValueError(f"{bad}: text must not contain NUL characters or lone surrogates")
        return data

    def problem(self) -> tuple[str, str] | None:
        """The first rule broken beyond field types, as (field, message)."""
        used = set(_PLACEHOLDER.findall(self.prompt))
        unknown = sorted(used - set(PLACEHOLDERS))
        if unknown:
            return "prompt", f"unknown placeholder {{{{{unknown[0]}}}}}; use {', '.join(PLACEHOLDERS)}"
        if not used & {"input", "output"}:
            return "prompt", "the rubric must show the judge the span: use {{output}} (and usually {{input}})"
        if self.api_key_env is not None and self.api_key_env.startswith("PLAUDIT_"):
            return "api_key_env", "must not name a PLAUDIT_ variable (the collector's own secrets)"
        if self.score_config is not None:
            if self.score_config.type == "text":
                return "score_config.type", "a judge writes a score: numeric, boolean or categorical"
            broken = self.score_config.problem()
            if broken is not None:
                return f"score_config.{broken[0]}", broken[1]
        try:
            to_filters(self.filter.model_dump())
        except ApiError as exc:
            return f"filter.{exc.field or 'where'}", exc.message
        return None


def to_filters(spec: dict[str, Any]) -> Filters:
    """A stored judge filter as analytics :class:`Filters` (dimensions checked against the whitelist)."""
    return Filters(
        span_names=tuple(spec.get("span_name") or ()),
        span_kinds=tuple(spec.get("span_kind") or ()),
        tags=tuple(spec.get("tag") or ()),
        metadata=tuple((spec.get("metadata") or {}).items()),
        where=tuple((k, v if v else None) for k, v in (spec.get("where") or {}).items()),
    )


def placeholders(prompt: str) -> set[str]:
    return set(_PLACEHOLDER.findall(prompt))


def render(prompt: str, values: dict[str, str]) -> str:
    """Fill ``{{name}}`` placeholders in one pass: text inside a value is never read as a placeholder."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), prompt)


def unstorable(data: Any, path: str = "body", depth: int = 0) -> str | None:
    """The path of the first string holding NUL or a lone surrogate, else None."""
    if depth > 8:
        return None  # deeper values fail the field types anyway
    if isinstance(data, str):
        if "\x00" in data:
            return path
        try:
            data.encode("utf-8")
        except UnicodeEncodeError:
            return path
        return None
    if isinstance(data, dict):
        for key, value in data.items():
            found = unstorable(key, path, depth + 1) or unstorable(
                value, f"{key}" if path == "body" else f"{path}.{key}", depth + 1
            )
            if found:
                return found
    if isinstance(data, list):
        for i, value in enumerate(data):
            found = unstorable(value, f"{path}[{i}]", depth + 1)
            if found:
                return found
    return None
