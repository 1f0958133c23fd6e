"""Request models of the experiments API: register, change, and the sticky units an SDK reports.

Every string is checked for what the databases refuse (NUL characters, lone surrogates) and every payload
for depth, size and numbers JSON cannot carry, so a bad request is a 422 naming its field, never a 500.
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, model_validator

MAX_PAYLOAD_BYTES = 64 * 1024
MAX_DEPTH = 32
MAX_VARIANTS = 100
MAX_UNITS = 1000

Policy = Literal["thompson", "epsilon_greedy", "fixed"]
VariantStatus = Literal["active", "paused", "removed"]


def check_text(value: str) -> str:
    """Refuse what PostgreSQL cannot store (NUL) and what UTF-8 cannot encode (lone surrogates)."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        raise ValueError("must not contain lone surrogates (invalid UTF-16)")
    return value


def _check_name(value: str) -> str:
    check_text(value)
    if not value.strip():
        raise ValueError("must not be blank")
    if "/" in value or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("must not contain '/' or control characters")
    return value


def _check_payload(value: dict[str, Any]) -> dict[str, Any]:
    _walk(value, 0)
    if len(json.dumps(value, allow_nan=False)) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"must serialise to at most {MAX_PAYLOAD_BYTES} bytes of JSON")
    return value


def _walk(value: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ValueError(f"is nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        check_text(value)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if abs(value) > 2**53:
            raise ValueError("holds an integer too large to be exact in JSON (over 2**53)")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("holds NaN or Infinity, which JSON cannot carry")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key)
            _walk(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _walk(item, depth + 1)
    else:
        raise ValueError(f"holds a {type(value).__name__}, which is not JSON")


def _check_share(value: float | None) -> float | None:
    if value is not None and (not math.isfinite(value) or not 0.0 <= value <= 1.0):
        raise ValueError("must be a number from 0 to 1")
    return value


def _check_weight(value: float | None) -> float | None:
    if value is not None and (not math.isfinite(value) or value <= 0 or value > 1e6):
        raise ValueError("must be a positive number (at most 1e6)")
    return value


Name = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_check_name)]
Text = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(check_text)]
Payload = Annotated[dict[str, Any], AfterValidator(_check_payload)]
Share = Annotated[StrictFloat | StrictInt | None, AfterValidator(_check_share)]
Weight = Annotated[StrictFloat | StrictInt | None, AfterValidator(_check_weight)]


class _Settings(BaseModel):
    """What registering and changing share: the policy, its bounds, the direction and the segment key."""

    model_config = ConfigDict(extra="forbid")

    higher_is_better: StrictBool | None = None
    policy: Policy | None = None
    segment_by: Text | None = None
    sticky: StrictBool | None = None
    epsilon: Share = None
    min_share: Share = None
    max_share: Share = None
    description: Annotated[str, Field(max_length=2000), AfterValidator(check_text)] | None = None


class ExperimentIn(_Settings):
    """Register an experiment: created when new; otherwise its missing variants are added and the payloads
    named are updated (stored settings, statuses and removals are kept; the reply's ``notes`` say so)."""

    name: Name
    score: Text
    variants: dict[Name, Payload] = Field(min_length=1, max_length=MAX_VARIANTS)
    weights: dict[Name, Weight] | None = Field(default=None, description="relative shares under the fixed policy")

    @model_validator(mode="after")
    def _weights_name_variants(self) -> ExperimentIn:
        unknown = sorted(set(self.weights or {}) - set(self.variants))
        if unknown:
            raise ValueError(f"weights name variants the experiment does not list: {', '.join(unknown)}")
        return self


class VariantChange(BaseModel):
    """A variant's new payload, status (``active``, ``paused``, ``removed``) or weight; a new name adds one."""

    model_config = ConfigDict(extra="forbid")

    payload: Payload | None = None
    status: VariantStatus | None = None
    weight: Weight = None


class ExperimentChange(_Settings):
    """A PATCH: only the fields sent change. ``winner`` promotes a variant (stops the experiment and serves
    it); ``status: "running"`` resumes a stopped one."""

    score: Text | None = None
    status: Literal["running", "stopped"] | None = None
    winner: Name | None = None
    variants: dict[Name, VariantChange] | None = Field(default=None, max_length=MAX_VARIANTS)


class UnitIn(BaseModel):
    """A sticky assignment an SDK made locally."""

    model_config = ConfigDict(extra="forbid")

    unit: Text
    variant: Name
    probability: Annotated[StrictFloat | StrictInt, Field(gt=0, le=1)]
    segment: Text | None = None


class UnitsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    units: list[UnitIn] = Field(min_length=1, max_length=MAX_UNITS)
