"""``plaudit.Client``: the read side (leaderboard, compare, trend, agreement, segments, exports, traces)
as pydantic models; every result has ``.to_pandas()`` when pandas is installed."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import httpx

from plaudit._internal.config import resolve
from plaudit._internal.experiment_client import ExperimentMethods
from plaudit._internal.judges_client import JudgeMethods
from plaudit._internal.query_models import (
    Agreement,
    Comparison,
    Leaderboard,
    Preferences,
    Segments,
    Trace,
    TracePage,
    TraceSummary,
    Trend,
)
from plaudit._internal.query_params import many, params_of
from plaudit._internal.queue_client import QueueMethods


class Client(ExperimentMethods, JudgeMethods, QueueMethods):
    """Query a Plaudit collector: ``plaudit.Client().leaderboard("thumbs", group_by=["model"])``.

    Every question accepts the same filters as keyword arguments (``query_params.FILTERS``): ``start``/``end`` (ISO
    8601, unix seconds or datetime), ``span_name``, ``span_kind``, ``tags``, ``metadata`` (dict), ``where``
    (dict of dimension → value), ``source`` ("human", "llm_judge", ...) and ``author``. An unknown keyword
    is a ``TypeError`` naming the close matches; the collector refuses unknown parameters too. ``project``
    (default ``PLAUDIT_PROJECT``) is the project read on a collector without keys; with a key, the key's.
    ``timeout`` bounds the wait for an answer (seconds); ``connect_timeout`` (5 s) bounds connecting, so a
    collector that is down or unreachable fails fast. A 404 that is not Plaudit's own error (no route at that
    path) is a ``ValueError`` naming the URL tried and asking to check the endpoint.
    """

    def __init__(
        self,
        endpoint: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 60.0,
        connect_timeout: float = 5.0,
        transport: httpx.BaseTransport | None = None,
        project: str | None = None,
    ) -> None:
        # A question over a large database may take a while to answer; a collector that is down or unreachable
        # should not: connecting has its own, shorter limit.
        settings = resolve(endpoint=endpoint, api_key=api_key, project=project)
        limits = httpx.Timeout(timeout, connect=min(connect_timeout, timeout))
        self._http = httpx.Client(
            base_url=settings.endpoint, headers=settings.headers(), timeout=limits, transport=transport
        )

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
            error, message = None, response.text[:500]
        if response.status_code == 404 and (error is None or error.get("message") == "Not Found"):
            # no route at that path (a missing row's 404 names the row instead)
            raise ValueError(_no_route(response.request.url))
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
        health: bool | None = None,
        higher_is_better: bool | None = None,
        confidence: float | None = None,
        estimator: str | None = None,
        human_source: str | None = None,
        judge_source: str | None = None,
        **filters: Any,
    ) -> Leaderboard:
        """Mean ``score`` per group, best first in the score's direction, with counts, intervals, coverage,
        error rate, latency, tokens and cost; ``leader`` only when separated (``sort``: "lower" or "mean";
        ``correction``: "holm" or "bh"; ``higher_is_better`` overrides the score config's direction;
        ``estimator="ppi"``: judge ratings corrected by human ones)."""
        options = {"score": score, "group_by": many(group_by), "sort": sort, "min_count": min_count}
        options.update(correction=correction, health=health, higher_is_better=higher_is_better, confidence=confidence)
        options.update(estimator=estimator, human_source=human_source, judge_source=judge_source)
        params = params_of("leaderboard", options, filters)
        return Leaderboard.model_validate(self._get("/v1/analytics/leaderboard", params))

    def compare(
        self,
        score: str,
        a: Mapping[str, Any],
        b: Mapping[str, Any],
        *,
        test: str | None = None,
        higher_is_better: bool | None = None,
        confidence: float | None = None,
        estimator: str | None = None,
        human_source: str | None = None,
        judge_source: str | None = None,
        **filters: Any,
    ) -> Comparison:
        """Group ``a`` against group ``b`` (dicts of dimension → value, e.g. ``{"variant": "v2"}``):
        difference with its interval, p-value, and the probability that A beats B."""
        options = {"score": score, "a": a, "b": b, "test": test, "higher_is_better": higher_is_better}
        options.update(confidence=confidence, estimator=estimator, human_source=human_source)
        options["judge_source"] = judge_source
        return Comparison.model_validate(self._get("/v1/analytics/compare", params_of("compare", options, filters)))

    def preferences(
        self, score: str = "preference", group_by: Sequence[str] | str = ("variant",), **filters: Any
    ) -> Preferences:
        """Pairwise preferences: win scores and a Bradley–Terry ranking with intervals."""
        params = params_of("preferences", {"score": score, "group_by": many(group_by)}, filters)
        return Preferences.model_validate(self._get("/v1/analytics/preferences", params))

    def trend(
        self,
        score: str,
        bucket: str = "day",
        group_by: Sequence[str] | str = (),
        *,
        correction: str | None = None,
        higher_is_better: bool | None = None,
        confidence: float | None = None,
        estimator: str | None = None,
        human_source: str | None = None,
        judge_source: str | None = None,
        **filters: Any,
    ) -> Trend:
        """``score`` per time bucket ("hour", "day", "week") and group; each change says whether it was
        ``better`` in the score's direction."""
        options = {"score": score, "bucket": bucket, "group_by": many(group_by), "correction": correction}
        options.update(higher_is_better=higher_is_better, confidence=confidence, estimator=estimator)
        options.update(human_source=human_source, judge_source=judge_source)
        return Trend.model_validate(self._get("/v1/analytics/trend", params_of("trend", options, filters)))

    def agreement(
        self,
        score: str | Sequence[str] | None = None,
        *,
        by: str | None = None,
        rater_a: str | None = None,
        rater_b: str | None = None,
        **filters: Any,
    ) -> Agreement:
        """How well two raters agree on the same items (Cohen's kappa, Spearman, confusion table); by default
        source "human" against "llm_judge"."""
        options = {"score": many(score), "by": by, "rater_a": rater_a, "rater_b": rater_b}
        return Agreement.model_validate(self._get("/v1/analytics/agreement", params_of("agreement", options, filters)))

    def segments(
        self,
        score: str,
        segment: str,
        group_by: Sequence[str] | str = ("variant",),
        *,
        limit: int | None = None,
        min_count: int | None = None,
        correction: str | None = None,
        higher_is_better: bool | None = None,
        confidence: float | None = None,
        **filters: Any,
    ) -> Segments:
        """The ranking inside each ``segment`` (e.g. "user.id" or "attr.plan"), flagging reversals; a
        segment's best is only a group with at least ``min_count`` rated items."""
        options = {"score": score, "segment": segment, "group_by": many(group_by), "limit": limit}
        options.update(min_count=min_count, correction=correction, higher_is_better=higher_is_better)
        options["confidence"] = confidence
        return Segments.model_validate(self._get("/v1/analytics/segments", params_of("segments", options, filters)))

    EXPORT_OPTIONS = {
        "spans": ("score",),
        "finetune": ("score", "min_score", "corrections", "format", "higher_is_better"),
        "preferences": ("preference", "score", "min_margin", "pairs", "max_pairs", "higher_is_better"),
    }
    """The options each export takes besides the filters."""

    def export(self, kind: str = "spans", **options: Any) -> Iterator[dict[str, Any]]:
        """Stream an export line by line: ``kind`` "spans", "finetune" or "preferences"; ``options`` are the
        export's options (see ``EXPORT_OPTIONS``: ``score``, ``min_score``, ``preference``, ...) plus the
        usual filters."""
        if kind not in self.EXPORT_OPTIONS:
            raise ValueError(f"kind must be one of {', '.join(self.EXPORT_OPTIONS)}, not {kind!r}")
        own = {k: options.pop(k) for k in list(options) if k in self.EXPORT_OPTIONS[kind]}
        params = params_of(f"export({kind!r})", own, options)
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

    def traces(
        self,
        q: str | None = None,
        *,
        status: str | None = None,
        has_feedback: str | None = None,
        missing_feedback: str | None = None,
        score: str | None = None,
        min_score: float | None = None,
        max_score: float | None = None,
        min_duration_ms: float | None = None,
        max_duration_ms: float | None = None,
        min_tokens: int | None = None,
        max_tokens: int | None = None,
        sort: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        higher_is_better: bool | None = None,
        **filters: Any,
    ) -> TracePage:
        """One page of a trace search, newest first by default: ``q`` searches input and output text,
        ``status="error"`` keeps failed traces, ``has_feedback``/``missing_feedback`` name a score,
        ``score`` with ``min_score``/``max_score`` bounds its mean; ``sort`` is "time", "latency", "cost" or
        "score". Pass the page's ``next_cursor`` as ``cursor`` for the next page."""
        options = {
            "q": q,
            "status": status,
            "has_feedback": has_feedback,
            "missing_feedback": missing_feedback,
            "score": score,
            "min_score": min_score,
            "max_score": max_score,
            "min_duration_ms": min_duration_ms,
            "max_duration_ms": max_duration_ms,
            "min_tokens": min_tokens,
            "max_tokens": max_tokens,
            "sort": sort,
            "limit": limit,
            "cursor": cursor,
            "higher_is_better": higher_is_better,
        }
        return TracePage.model_validate(self._get("/v1/traces", params_of("traces", options, filters)))

    def iter_traces(self, q: str | None = None, **options: Any) -> Iterator[TraceSummary]:
        """Every trace a search finds, page after page (same arguments as :meth:`traces`)."""
        cursor = options.pop("cursor", None)
        while True:
            page = self.traces(q, cursor=cursor, **options)
            yield from page.traces
            if page.next_cursor is None:
                return
            cursor = page.next_cursor


def _no_route(url: httpx.URL) -> str:
    """A 404 without Plaudit's error body: the endpoint is not a Plaudit collector's base URL, or the collector
    is older than this client."""
    base = str(url.copy_with(query=None)).split("/v1/", 1)[0]
    return (
        f"collector answered 404 at {url.copy_with(query=None)}: no such route there. Check that the endpoint "
        f"({base}) is a Plaudit collector's base URL, with no path (PLAUDIT_ENDPOINT, or --endpoint for the CLI), "
        "and that the collector is as new as this client"
    )
