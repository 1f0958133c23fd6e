"""The result models of ``plaudit.Client``: pydantic models that keep every field the collector sends
(``extra="allow"``) and offer ``.to_pandas()`` when pandas is installed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict


def _frame(records: list[dict[str, Any]]) -> Any:
    import pandas as pd

    return pd.DataFrame(records)


def _flat(group: Mapping[str, Any], rest: Mapping[str, Any]) -> dict[str, Any]:
    return {**group, **rest}


class _Result(BaseModel):
    model_config = ConfigDict(extra="allow")


class LeaderboardRow(_Result):
    """One group of the leaderboard: its mean score with a 95% confidence interval and span health."""

    group: dict[str, Any]
    count: int
    rated: int | None = None
    mean: float | None
    ci_low: float | None
    ci_high: float | None
    spans: int
    method: str | None = None
    coverage: float | None = None
    max_raters: int | None = None
    error_rate: float | None = None
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    input_tokens_mean: float | None = None
    output_tokens_mean: float | None = None
    cost_mean: float | None = None
    score_per_dollar: float | None = None
    eligible: bool | None = None
    p_vs_leader: float | None = None


class Leaderboard(_Result):
    """Groups best first; ``leader`` is set only when the top group is separated from the rest."""

    score: str
    group_by: list[str]
    rows: list[LeaderboardRow]
    leader: dict[str, Any] | None = None
    candidate: dict[str, Any] | None = None
    verdict: str | None = None
    path: str | None = None  # "rollup" or "scan": how the collector answered
    path_hint: str | None = None
    needed_per_group: int | None = None
    method: str | None = None
    higher_is_better: bool | None = None
    direction: str | None = None
    confidence: float | None = None

    def to_pandas(self) -> Any:
        """The rows as a DataFrame, one column per dimension (needs pandas)."""
        return _frame([_flat(r.group, r.model_dump(exclude={"group"})) for r in self.rows])


class Comparison(_Result):
    """Group A against group B: difference with its interval, p-value, P(A better)."""

    score: str
    kind: str
    a: dict[str, Any]
    b: dict[str, Any]
    difference: float | None = None
    diff_ci_low: float | None = None
    diff_ci_high: float | None = None
    test: str | None = None
    p_value: float | None = None
    prob_a_better: float | None = None
    higher_is_better: bool | None = None
    verdict: str | None = None
    path: str | None = None  # "rollup" or "scan": how the collector answered
    path_hint: str | None = None

    def to_pandas(self) -> Any:
        """One row per side (needs pandas)."""
        return _frame(
            [_flat(side["group"], {k: v for k, v in side.items() if k != "group"}) for side in (self.a, self.b)]
        )


class Preferences(_Result):
    """Win scores and Bradley–Terry strengths with intervals, best first, plus the head-to-head table."""

    score: str
    group_by: list[str]
    rows: list[dict[str, Any]]
    head_to_head: list[dict[str, Any]] = []
    verdict: str | None = None

    def to_pandas(self) -> Any:
        """The ranking as a DataFrame (needs pandas)."""
        return _frame([_flat(r["group"], {k: v for k, v in r.items() if k != "group"}) for r in self.rows])


class Trend(_Result):
    """A score per time bucket and group, each point tested against the previous bucket."""

    score: str
    bucket: str
    group_by: list[str]
    points: list[dict[str, Any]]
    verdict: str | None = None
    path: str | None = None  # "rollup" or "scan": how the collector answered
    path_hint: str | None = None

    def to_pandas(self) -> Any:
        """One row per (group, bucket) (needs pandas)."""
        return _frame([_flat(p["group"], {k: v for k, v in p.items() if k != "group"}) for p in self.points])


class Agreement(_Result):
    """Per score name: kappa, Spearman and the confusion table between two raters."""

    rater_a: str
    rater_b: str
    scores: list[dict[str, Any]]
    verdict: str | None = None

    def to_pandas(self) -> Any:
        """One row per score name (needs pandas)."""
        return _frame([{k: v for k, v in s.items() if k not in ("table", "categories")} for s in self.scores])


class Segments(_Result):
    """Each segment's ranking, with the segments where the overall leader candidate loses flagged."""

    score: str
    group_by: list[str]
    segment: str
    segments: list[dict[str, Any]]
    candidate: dict[str, Any] | None = None
    verdict: str | None = None

    def to_pandas(self) -> Any:
        """One row per (segment, group) (needs pandas)."""
        records = []
        for entry in self.segments:
            for row in entry["rows"]:
                records.append(
                    {self.segment: entry["segment"], **row["group"], **{k: v for k, v in row.items() if k != "group"}}
                )
        return _frame(records)


class SpanRecord(_Result):
    """A stored span with its normalised fields and feedback."""

    span_id: str
    parent_span_id: str | None
    name: str
    model: str | None = None
    attributes: dict[str, Any] = {}
    feedback: list[dict[str, Any]] = []


class Trace(_Result):
    """One trace with all its spans and their feedback."""

    trace_id: str
    spans: list[SpanRecord]


class TraceSummary(_Result):
    """One trace of a search: its root span's name, model, variant, user, duration, status and feedback."""

    trace_id: str
    name: str | None = None
    start_time: str | None = None
    duration_ms: float | None = None
    status: str | None = None
    model: str | None = None
    variant: str | None = None
    user_id: str | None = None
    cost: float | None = None
    feedback: dict[str, Any] = {}


class TracePage(_Result):
    """One page of a trace search; pass ``next_cursor`` back as ``cursor`` for the next (None: the last)."""

    traces: list[TraceSummary]
    next_cursor: str | None = None

    def to_pandas(self) -> Any:
        """One row per trace (needs pandas)."""
        return _frame([t.model_dump(exclude={"feedback"}) for t in self.traces])
