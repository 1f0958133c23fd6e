"""Request models: what feedback, preferences, score configs and feedback tokens may look like on the wire."""

from __future__ import annotations

import json
import math
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    field_validator,
)

from plaudit_collector.wire import check_tree, clean, text_problem

MAX_TEXT = 64 * 1024
MAX_METADATA = 64 * 1024
MAX_BATCH = 1000
MAX_TOKEN_TTL = 7 * 24 * 3600

Source = Literal["human", "end_user", "annotator", "llm_judge", "code"]
Kind = Literal["boolean", "numeric", "categorical", "text", "correction", "preference", "unknown"]
ScoreType = Literal["numeric", "boolean", "categorical", "text"]
WINNERS = ("a", "b", "tie")
UNKNOWN_OUTCOMES = ("unknown", "ongoing")
"""Session outcomes that say "not decided yet": stored with no score, so means leave them out."""

_TRACE_PATTERN = r"^[0-9a-fA-F]{32}$"
_SPAN_PATTERN = r"^[0-9a-fA-F]{16}$"
ScoreValue = StrictBool | StrictInt | StrictFloat | StrictStr


def _trace_id(value: str) -> str:
    if set(value) == {"0"}:
        raise ValueError("trace_id must not be all zeros")
    return value.lower()


def _span_id(value: str | None) -> str | None:
    if value is None or set(value) == {"0"}:
        return None  # all zeros is how a trace-level SpanRef serialises
    return value.lower()


MAX_NUMBER = 2**53
"""Largest magnitude of a score or a score-config bound: beyond it a float no longer holds every integer."""


def _check_identifier(value: str) -> str:
    """Names, ids and keys: a NUL or a lone surrogate is refused (see :mod:`plaudit_collector.wire`)."""
    problem = text_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _check_number(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("must be a finite number (no NaN or Infinity)")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) > MAX_NUMBER:
        raise ValueError(f"must be within ±2**53 ({MAX_NUMBER})")
    return value


def _check_value(value: Any) -> Any:
    if isinstance(value, str):
        if len(value) > 200:
            raise ValueError("a label value must be at most 200 characters")
        return _check_identifier(value)
    return _check_number(value)


def _check_name(value: str) -> str:
    if not value.strip():
        raise ValueError("name must not be blank")
    return _check_identifier(value)


def _check_metadata(value: dict[str, Any]) -> dict[str, Any]:
    cleaned, problem = check_tree(value, "metadata")
    if problem is not None:
        raise ValueError(problem)
    if len(json.dumps(cleaned, default=str)) > MAX_METADATA:
        raise ValueError(f"metadata must serialise to at most {MAX_METADATA} bytes of JSON")
    return cleaned  # type: ignore[no-any-return]


TraceId = Annotated[str, Field(pattern=_TRACE_PATTERN, description="32 hex characters"), AfterValidator(_trace_id)]
SpanId = Annotated[str, Field(pattern=_SPAN_PATTERN, description="16 hex characters"), AfterValidator(_span_id)]
ScoreName = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_check_name)]
Metadata = Annotated[dict[str, Any], AfterValidator(_check_metadata)]
Value = Annotated[ScoreValue, AfterValidator(_check_value)]
Identifier = Annotated[str, AfterValidator(_check_identifier)]
"""A name, id or key: NUL and lone surrogates refused."""
FreeText = Annotated[str, AfterValidator(clean)]
"""Text content: NUL and lone surrogates replaced by U+FFFD."""


class FeedbackIn(BaseModel):
    """One judgment: of a span (``span_id`` set), a whole trace (``span_id`` null) or a session
    (``session_id`` set, no ``trace_id``). A pairwise preference also names the B side
    (``other_trace_id``/``other_span_id``) and its ``value`` is ``"a"``, ``"b"`` or ``"tie"``."""

    model_config = ConfigDict(extra="forbid")

    trace_id: TraceId | None = None
    span_id: SpanId | None = None
    session_id: Identifier | None = Field(
        default=None, min_length=1, max_length=200, description="session-level target"
    )
    other_trace_id: TraceId | None = Field(default=None, description="preference: the B side's trace")
    other_span_id: SpanId | None = Field(default=None, description="preference: the B side's span")
    name: ScoreName
    kind: Kind | None = Field(default=None, description="inferred from the value when absent")
    value: Value | None = None
    comment: FreeText | None = Field(default=None, max_length=MAX_TEXT)
    correction: FreeText | None = Field(default=None, max_length=MAX_TEXT)
    source: Source = "human"
    author: Identifier | None = Field(default=None, max_length=200)
    metadata: Metadata | None = None
    idempotency_key: Identifier | None = Field(default=None, min_length=1, max_length=200)

    def is_empty(self) -> bool:
        """Nothing to store: no value, no comment, no correction."""
        return self.value is None and self.comment is None and self.correction is None

    def resolved_kind(self) -> str:
        """The stored kind: the declared one, else what the value and target imply."""
        if self.kind is not None:
            return self.kind
        if self.other_trace_id is not None:
            return "preference"
        if self.session_id is not None and self.trace_id is None and self.value in UNKNOWN_OUTCOMES:
            return "unknown"
        return value_kind(self.value, self.correction)

    def problem(self) -> tuple[str, str] | None:
        """The first rule this item breaks beyond field types, as (field, message); None when fine."""
        if self.trace_id is None and self.session_id is None:
            return "trace_id", "trace_id is required (or session_id, without trace_id, for session-level feedback)"
        if self.trace_id is None and self.span_id is not None:
            return "trace_id", "a span_id needs its trace_id"
        if self.trace_id is not None and self.session_id is not None:
            return "session_id", "give trace_id (span or trace feedback) or session_id (session feedback), not both"
        if self.is_empty():
            return "value", "feedback needs a value, a comment or a correction"
        kind = self.resolved_kind()
        if kind == "preference":
            if self.trace_id is None or self.other_trace_id is None:
                return "other_trace_id", "a preference needs both sides: trace_id (A) and other_trace_id (B)"
            if self.other_span_id is not None and self.other_trace_id is None:
                return "other_trace_id", "other_span_id needs its other_trace_id"
            if self.value not in WINNERS:
                return "value", "a preference's value must be 'a', 'b' or 'tie'"
            if (self.trace_id, self.span_id) == (self.other_trace_id, self.other_span_id):
                return "other_span_id", "a preference compares two different targets"
            return None
        if self.other_trace_id is not None or self.other_span_id is not None:
            return "other_trace_id", "other_trace_id/other_span_id are only for preferences"
        expected = {
            "boolean": lambda v: isinstance(v, bool),
            "numeric": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
            "categorical": lambda v: isinstance(v, str),
            "text": lambda v: v is None and self.comment is not None,
            "correction": lambda v: self.correction is not None,
            "unknown": lambda v: v is None or v in UNKNOWN_OUTCOMES,
        }
        if not expected[kind](self.value):
            return "kind", f"kind {kind!r} does not match value {self.value!r}"
        if kind == "unknown" and (self.session_id is None or self.trace_id is not None):
            return "kind", "an 'unknown'/'ongoing' outcome is for session-level feedback (session_id, no trace_id)"
        return None


def value_kind(value: Any, correction: str | None) -> str:
    """What a bare value means: thumbs, a score, a label, or (with no value) a correction or comment."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "numeric"
    if isinstance(value, str):
        return "categorical"
    return "correction" if correction is not None else "text"


class FeedbackBatch(BaseModel):
    """Several items, stored all or none."""

    model_config = ConfigDict(extra="forbid")

    items: list[FeedbackIn] = Field(min_length=1, max_length=MAX_BATCH)


class FeedbackAccepted(BaseModel):
    """The stored ids in request order, and the stored items (a retried key returns the first answer)."""

    ids: list[int]
    items: list[dict[str, Any]] = []


class TargetIn(BaseModel):
    """One side of a preference: ids, or ``ref`` (a SpanRef string, ``00-<trace>-<span>-01``)."""

    model_config = ConfigDict(extra="forbid")

    ref: Identifier | None = Field(default=None, max_length=100)
    trace_id: TraceId | None = None
    span_id: SpanId | None = None

    def ids(self) -> tuple[str | None, str | None]:
        """(trace_id, span_id), reading ``ref`` when given; raises ValueError on a malformed ref."""
        if self.ref is None:
            return self.trace_id, self.span_id
        return parse_ref(self.ref)


def parse_ref(text: str) -> tuple[str, str | None]:
    """Read a SpanRef string (a W3C traceparent) into lowercase (trace_id, span_id or None)."""
    parts = text.strip().lower().split("-")
    if (
        len(parts) != 4
        or parts[0] != "00"
        or len(parts[1]) != 32
        or len(parts[2]) != 16
        or any(c not in "0123456789abcdef" for c in parts[1] + parts[2])
        or set(parts[1]) == {"0"}
    ):
        raise ValueError("not a span reference (expected 00-<32 hex trace id>-<16 hex span id>-<flags>)")
    return parts[1], _span_id(parts[2])


class PreferenceIn(BaseModel):
    """A pairwise judgment: which of two outputs (A, B) was better, or a tie."""

    model_config = ConfigDict(extra="forbid")

    a: TargetIn
    b: TargetIn
    winner: Literal["a", "b", "tie"]
    name: ScoreName = "preference"
    comment: FreeText | None = Field(default=None, max_length=MAX_TEXT)
    source: Source = "human"
    author: Identifier | None = Field(default=None, max_length=200)
    metadata: Metadata | None = None
    idempotency_key: Identifier | None = Field(default=None, min_length=1, max_length=200)


class ScoreConfigIn(BaseModel):
    """What a named score may hold. ``strict`` (the default) makes the collector refuse feedback that breaks it."""

    model_config = ConfigDict(extra="forbid")

    type: ScoreType
    min: StrictInt | StrictFloat | None = None
    max: StrictInt | StrictFloat | None = None
    categories: list[Annotated[StrictStr, AfterValidator(_check_identifier)]] | None = Field(
        default=None, min_length=1, max_length=100
    )
    strict: StrictBool = True
    higher_is_better: StrictBool = True
    """Score direction: false for scores where less is better (hallucination, latency, toxicity)."""
    description: FreeText | None = Field(default=None, max_length=2000)

    @field_validator("min", "max")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        return _check_number(value)  # type: ignore[no-any-return]

    def problem(self) -> tuple[str, str] | None:
        """A rule the declaration itself breaks, as (field, message)."""
        if self.type != "numeric" and (self.min is not None or self.max is not None):
            return "min", f"min/max apply only to numeric scores, not {self.type}"
        if self.min is not None and self.max is not None and self.min > self.max:
            return "max", f"max ({self.max}) must not be below min ({self.min})"
        if self.type == "categorical":
            if not self.categories:
                return "categories", "a categorical score needs its list of categories"
            if len(set(self.categories)) != len(self.categories):
                return "categories", "categories must be unique"
            if any(not c.strip() or len(c) > 200 for c in self.categories):
                return "categories", "each category must be a non-blank string of at most 200 characters"
        elif self.categories is not None:
            return "categories", f"categories apply only to categorical scores, not {self.type}"
        return None


class FeedbackTokenIn(BaseModel):
    """What a browser may rate with the token: one span, trace or session, and only the named scores."""

    model_config = ConfigDict(extra="forbid")

    ref: Identifier | None = Field(default=None, max_length=100, description="a SpanRef string, instead of the ids")
    trace_id: TraceId | None = None
    span_id: SpanId | None = None
    session_id: Identifier | None = Field(default=None, min_length=1, max_length=200)
    names: list[Annotated[StrictStr, AfterValidator(_check_identifier)]] = Field(min_length=1, max_length=50)
    ttl: StrictInt = Field(default=3600, ge=1, le=MAX_TOKEN_TTL, description="seconds until the token expires")
    author: Identifier | None = Field(
        default=None, max_length=200, description="when set, every item is by this author"
    )

    @field_validator("names")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not name.strip() or len(name) > 200:
                raise ValueError("each name must be a non-blank string of at most 200 characters")
        return list(dict.fromkeys(value))
