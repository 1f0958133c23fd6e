"""Request models: what a feedback item may look like on the wire."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr, field_validator

MAX_TEXT = 64 * 1024
MAX_BATCH = 1000

Source = Literal["human", "end_user", "annotator", "llm_judge", "code"]


class FeedbackIn(BaseModel):
    """One rating of a span (``span_id`` set) or of a whole trace (``span_id`` null)."""

    model_config = ConfigDict(extra="forbid")

    trace_id: str = Field(pattern=r"^[0-9a-fA-F]{32}$", description="32 hex characters")
    span_id: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{16}$", description="16 hex characters")
    name: str = Field(min_length=1, max_length=200)
    value: StrictBool | StrictInt | StrictFloat | StrictStr | None = None
    comment: str | None = Field(default=None, max_length=MAX_TEXT)
    correction: str | None = Field(default=None, max_length=MAX_TEXT)
    source: Source = "human"
    author: str | None = Field(default=None, max_length=200)
    metadata: dict[str, Any] | None = None
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=200)

    @field_validator("trace_id")
    @classmethod
    def _trace_id(cls, value: str) -> str:
        if set(value) == {"0"}:
            raise ValueError("trace_id must not be all zeros")
        return value.lower()

    @field_validator("span_id")
    @classmethod
    def _span_id(cls, value: str | None) -> str | None:
        if value is None or set(value) == {"0"}:
            return None  # all zeros is how a trace-level SpanRef serialises
        return value.lower()

    @field_validator("value")
    @classmethod
    def _finite(cls, value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("value must be a finite number (no NaN or Infinity)")
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
            raise ValueError("value is too large")
        if isinstance(value, str) and len(value) > 200:
            raise ValueError("a label value must be at most 200 characters")
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("name must not be blank")
        return value

    def is_empty(self) -> bool:
        """Nothing to store: no value, no comment, no correction."""
        return self.value is None and self.comment is None and self.correction is None


class FeedbackBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[FeedbackIn] = Field(min_length=1, max_length=MAX_BATCH)


class FeedbackAccepted(BaseModel):
    ids: list[int]
