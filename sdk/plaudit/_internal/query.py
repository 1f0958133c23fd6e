"""``plaudit.Client``: the read side (leaderboard, compare, trend, agreement, segments, exports, traces)
as pydantic models; every result has ``.to_pandas()`` when pandas is installed."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict

from plaudit._internal.config import resolve
from plaudit._internal.queue_models import QueueItem, ReviewQueue


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
    needed_per_group: int | None = None
    method: str | None = None

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
    verdict: str | None = None

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
    trace_id: str
    spans: list[SpanRecord]


def _time(value: str | float | datetime | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _filter_params(
    *,
    start: str | float | datetime | None = None,
    end: str | float | datetime | None = None,
    span_name: str | Sequence[str] | None = None,
    span_kind: str | Sequence[str] | None = None,
    tags: str | Sequence[str] | None = None,
    metadata: Mapping[str, Any] | None = None,
    where: Mapping[str, Any] | None = None,
    source: str | Sequence[str] | None = None,
) -> list[tuple[str, str]]:
    params: list[tuple[str, str]] = []
    for key, value in (("from", _time(start)), ("to", _time(end))):
        if value is not None:
            params.append((key, value))
    for key, values in (("span_name", span_name), ("span_kind", span_kind), ("tag", tags), ("source", source)):
        params += [(key, v) for v in _many(values)]
    params += [("metadata", f"{k}={v}") for k, v in (metadata or {}).items()]
    params += [("where", f"{k}={'' if v is None else v}") for k, v in (where or {}).items()]
    return params


def _many(values: str | Sequence[str] | None) -> list[str]:
    if values is None:
        return []
    return [values] if isinstance(values, str) else list(values)


def _group(name: str, group: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [(name, f"{k}={'' if v is None else v}") for k, v in group.items()]


class Client:
    """Query a Plaudit collector: ``plaudit.Client().leaderboard("thumbs", group_by=["model"])``.

    Every analysis accepts the same filters as keyword arguments: ``start``/``end`` (ISO 8601, unix
    seconds or datetime), ``span_name``, ``span_kind``, ``tags``, ``metadata`` (dict), ``where``
    (dict of dimension → value) and ``source`` ("human", "llm_judge", ...).
    """

    def __init__(
        self,
        endpoint: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        settings = resolve(endpoint=endpoint, api_key=api_key)
        headers = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
        self._http = httpx.Client(base_url=settings.endpoint, headers=headers, timeout=timeout, transport=transport)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connection pool; ``with plaudit.Client() as client:`` does it for you."""
        self._http.close()

    @staticmethod
    def _raise_for(response: httpx.Response) -> None:
        if response.status_code < 400:
            return
        try:
            error = response.json()["error"]
            message = f"{error.get('message')} (field: {error.get('field')})"
        except Exception:  # noqa: BLE001 - fall back to the raw body for non-JSON errors
            message = response.text[:500]
        raise ValueError(f"collector answered {response.status_code}: {message}")

    def _get(self, path: str, params: Any = None) -> Any:
        response = self._http.get(path, params=params)
        self._raise_for(response)
        return response.json()

    def leaderboard(
        self,
        score: str,
        group_by: Sequence[str] | str = ("variant",),
        *,
        sort: str | None = None,
        min_count: int | None = None,
        correction: str | None = None,
        **filters: Any,
    ) -> Leaderboard:
        """Mean ``score`` per group, best first, with counts, 95% intervals, coverage, error rate,
        latency and tokens; ``leader`` only when separated (``sort``: "lower" or "mean";
        ``correction``: "holm" or "bh")."""
        params = [("score", score), *(("group_by", d) for d in _many(group_by))]
        for key, value in (("sort", sort), ("min_count", min_count), ("correction", correction)):
            if value is not None:
                params.append((key, str(value)))
        params += _filter_params(**filters)
        return Leaderboard.model_validate(self._get("/v1/analytics/leaderboard", params))

    def compare(
        self, score: str, a: Mapping[str, Any], b: Mapping[str, Any], *, test: str = "auto", **filters: Any
    ) -> Comparison:
        """Group ``a`` against group ``b`` (dicts of dimension → value, e.g. ``{"variant": "v2"}``):
        difference with its interval, p-value, and the probability that A beats B."""
        params = [("score", score), *_group("a", a), *_group("b", b), ("test", test), *_filter_params(**filters)]
        return Comparison.model_validate(self._get("/v1/analytics/compare", params))

    def preferences(
        self, score: str = "preference", group_by: Sequence[str] | str = ("variant",), **filters: Any
    ) -> Preferences:
        """Pairwise preferences: win scores and a Bradley–Terry ranking with intervals."""
        params = [("score", score), *(("group_by", d) for d in _many(group_by)), *_filter_params(**filters)]
        return Preferences.model_validate(self._get("/v1/analytics/preferences", params))

    def trend(self, score: str, bucket: str = "day", group_by: Sequence[str] | str = (), **filters: Any) -> Trend:
        """``score`` per time bucket ("hour", "day", "week") and group."""
        params = [("score", score), ("bucket", bucket), *(("group_by", d) for d in _many(group_by))]
        return Trend.model_validate(self._get("/v1/analytics/trend", params + _filter_params(**filters)))

    def agreement(
        self,
        score: str | Sequence[str] | None = None,
        *,
        by: str = "source",
        rater_a: str = "human",
        rater_b: str = "llm_judge",
        **filters: Any,
    ) -> Agreement:
        """How well two raters agree on the same items (Cohen's kappa, Spearman, confusion table)."""
        params = [("score", s) for s in _many(score)] + [("by", by), ("rater_a", rater_a), ("rater_b", rater_b)]
        return Agreement.model_validate(self._get("/v1/analytics/agreement", params + _filter_params(**filters)))

    def segments(
        self,
        score: str,
        segment: str,
        group_by: Sequence[str] | str = ("variant",),
        *,
        limit: int = 50,
        min_count: int | None = None,
        **filters: Any,
    ) -> Segments:
        """The ranking inside each ``segment`` (e.g. "user.id" or "attr.plan"), flagging reversals."""
        params = [("score", score), ("segment", segment), ("limit", str(limit))]
        params += [("group_by", d) for d in _many(group_by)]
        if min_count is not None:
            params.append(("min_count", str(min_count)))
        return Segments.model_validate(self._get("/v1/analytics/segments", params + _filter_params(**filters)))

    def export(self, kind: str = "spans", **options: Any) -> Iterator[dict[str, Any]]:
        """Stream an export line by line: ``kind`` "spans", "finetune" or "preferences"; ``options`` are the
        route's parameters (``score``, ``min_score``, ``preference``, ...) plus the usual filters."""
        filter_keys = {"start", "end", "span_name", "span_kind", "tags", "metadata", "where", "source"}
        filters = {k: options.pop(k) for k in list(options) if k in filter_keys}
        params: list[tuple[str, str]] = []
        for key, value in options.items():
            if value is None:
                continue
            params.append((key, str(value).lower() if isinstance(value, bool) else str(value)))
        params += _filter_params(**filters)
        with self._http.stream("GET", f"/v1/export/{kind}", params=params) as response:
            if response.status_code >= 400:
                response.read()
                self._raise_for(response)
            for line in response.iter_lines():
                if line.strip():
                    yield json.loads(line)

    def trace(self, trace_id: str) -> Trace:
        """One trace with all its spans and their feedback."""
        return Trace.model_validate(self._get(f"/v1/traces/{trace_id}"))

    def traces(self, limit: int = 50) -> list[dict[str, Any]]:
        """The most recent traces, newest first."""
        return self._get("/v1/traces", {"limit": limit})["data"]  # type: ignore[no-any-return]

    # ---- review queues: items reserved one at a time for a reviewer; each verdict is annotator feedback

    def _send(self, method: str, path: str, body: Any = None, params: Any = None) -> Any:
        response = self._http.request(method, path, json=body, params=params)
        self._raise_for(response)
        return None if response.status_code == 204 or not response.content else response.json()

    def queues(self) -> list[ReviewQueue]:
        """Every review queue of the project, newest first, with its progress."""
        return [ReviewQueue.model_validate(q) for q in self._get("/v1/queues")["queues"]]

    def create_queue(
        self,
        name: str,
        scores: Sequence[str] = (),
        *,
        filter: Mapping[str, Any] | None = None,
        sample: int | None = None,
        overlap: int = 1,
        order: str = "random",
        kind: str = "single",
        items: Sequence[Mapping[str, Any]] | None = None,
        reserve_seconds: int | None = None,
        description: str | None = None,
    ) -> ReviewQueue:
        """A queue of the spans matching ``filter`` (trace-search terms, e.g. ``{"where": "model=m1"}``), or of
        ``items``; ``sample`` of them (None: every match) in ``order`` ("random", "oldest", "newest"), each to be
        rated by ``overlap`` different reviewers. ``kind="pairwise"``: pairs of spans with the same input from
        different variants, judged A/B/tie."""
        body: dict[str, Any] = {"name": name, "scores": list(scores), "overlap": overlap, "order": order, "kind": kind}
        for key, value in (
            ("filter", dict(filter) if filter else None),
            ("sample", sample),
            ("items", [dict(i) for i in items] if items is not None else None),
            ("reserve_seconds", reserve_seconds),
            ("description", description),
        ):
            if value is not None:
                body[key] = value
        return ReviewQueue.model_validate(self._send("POST", "/v1/queues", body))

    def queue(self, queue_id: int) -> ReviewQueue:
        """One queue with its progress overall and per reviewer."""
        return ReviewQueue.model_validate(self._get(f"/v1/queues/{int(queue_id)}"))

    def next_item(self, queue_id: int, reviewer: str) -> QueueItem | None:
        """Reserve the next item for ``reviewer`` (the same one again while they hold it); None when nothing is
        left for them."""
        found = self._send("GET", f"/v1/queues/{int(queue_id)}/next", params={"reviewer": reviewer})
        return None if found is None else QueueItem.model_validate(found)

    def submit_item(
        self,
        queue_id: int,
        item_id: int,
        reviewer: str,
        ratings: Mapping[str, Any] | None = None,
        *,
        comment: str | None = None,
        correction: str | None = None,
        winner: str | None = None,
        skip: bool = False,
    ) -> dict[str, Any]:
        """Rate an item (``ratings`` by score name; ``winner`` "a", "b" or "tie" in a pairwise queue, as the item
        showed the sides) or ``skip`` it. Returns ``{"item_id", "state", "feedback_ids"}``."""
        body: dict[str, Any] = {"reviewer": reviewer}
        if skip:
            body["skip"] = True
        for key, value in (("ratings", dict(ratings) if ratings else None), ("comment", comment)):
            if value is not None:
                body[key] = value
        for key, value in (("correction", correction), ("winner", winner)):
            if value is not None:
                body[key] = value
        return self._send("POST", f"/v1/queues/{int(queue_id)}/items/{int(item_id)}", body)  # type: ignore[no-any-return]

    def delete_queue(self, queue_id: int) -> None:
        """Remove a queue; the feedback given through it stays."""
        self._send("DELETE", f"/v1/queues/{int(queue_id)}")
