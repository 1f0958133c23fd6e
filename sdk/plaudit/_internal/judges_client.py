"""``plaudit.Client`` methods for LLM judges: definitions, runs, and how far to trust them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from plaudit._internal.query_params import many, params_of


class JudgeMethods:
    """Mixed into ``Client`` (which supplies ``_http``, ``_get`` and ``_raise_for``)."""

    _http: httpx.Client

    def _get(self, path: str, params: Any = None) -> Any:  # pragma: no cover - provided by Client
        raise NotImplementedError

    @staticmethod
    def _raise_for(response: httpx.Response) -> None:  # pragma: no cover - provided by Client
        raise NotImplementedError

    def _judge_send(self, method: str, path: str, body: Any = None) -> Any:
        response = self._http.request(method, path, json=body)
        self._raise_for(response)
        return response.json() if response.content else None

    def add_judge(self, name: str, *, replace: bool = False, **definition: Any) -> dict[str, Any]:
        """Define a judge: ``score``, ``score_config`` (e.g. ``{"type": "numeric", "min": 1, "max": 5}``),
        ``prompt`` (with ``{{input}}``/``{{output}}``), ``provider`` ("openai" or "anthropic"), ``model``,
        ``base_url``, ``api_key_env`` (the variable holding the key where the judge runs), ``filter``,
        ``sample_rate``, ``budget_per_hour``, ... ``replace=True`` overwrites a judge of that name."""
        if replace:
            return self._judge_send("PUT", f"/v1/judges/{name}", definition)  # type: ignore[no-any-return]
        return self._judge_send("POST", "/v1/judges", {"name": name, **definition})  # type: ignore[no-any-return]

    def update_judge(self, name: str, **changes: Any) -> dict[str, Any]:
        """Change some fields, e.g. ``enabled=False`` or ``sample_rate=0.1``."""
        return self._judge_send("PATCH", f"/v1/judges/{name}", changes)  # type: ignore[no-any-return]

    def judges(self) -> list[dict[str, Any]]:
        """Every judge of the project."""
        return self._get("/v1/judges")["data"]  # type: ignore[no-any-return]

    def judge(self, name: str) -> dict[str, Any]:
        """One judge, with its queue counts (pending, running, done, dead)."""
        return self._get(f"/v1/judges/{name}")  # type: ignore[no-any-return]

    def delete_judge(self, name: str) -> None:
        """Remove a judge; the ratings it wrote stay."""
        self._judge_send("DELETE", f"/v1/judges/{name}")

    def run_judge(self, name: str, *, limit: int = 100) -> dict[str, Any]:
        """Queue new matching spans and score up to ``limit`` now (the collector calls the model)."""
        return self._judge_send("POST", f"/v1/judges/{name}/run", {"limit": limit})  # type: ignore[no-any-return]

    def backfill_judge(
        self, name: str, *, start: str | None = None, end: str | None = None, limit: int = 10_000
    ) -> dict[str, Any]:
        """Queue stored spans (``start``/``end``: ISO 8601 or unix seconds) for the judge."""
        body: dict[str, Any] = {"limit": limit}
        if start is not None:
            body["from"] = start
        if end is not None:
            body["to"] = end
        return self._judge_send("POST", f"/v1/judges/{name}/backfill", body)  # type: ignore[no-any-return]

    def judge_dead_letters(self, name: str) -> list[dict[str, Any]]:
        """Spans the judge gave up on, with the last error."""
        return self._get(f"/v1/judges/{name}/dead-letters")["data"]  # type: ignore[no-any-return]

    def judge_report(
        self,
        score: str,
        group_by: Sequence[str] | str = ("variant",),
        *,
        human_source: str | None = None,
        judge_source: str | None = None,
        bootstrap: int | None = None,
        **filters: Any,
    ) -> dict[str, Any]:
        """Each judge against the humans: bias with its interval, correlations, kappa, alpha, the confusion
        table and the bias per group (``bootstrap``: draws for alpha's interval, 0 for none); ``filters`` as
        every question takes them (``start``, ``where``, ``source``, ...)."""
        options = {"score": score, "group_by": many(group_by), "human_source": human_source}
        options.update(judge_source=judge_source, bootstrap=bootstrap)
        return self._get("/v1/analytics/judges", params_of("judge_report", options, filters))  # type: ignore[no-any-return]

    def alpha(
        self,
        score: str,
        *,
        raters: str | None = None,
        level: str | None = None,
        bootstrap: int | None = None,
        **filters: Any,
    ) -> dict[str, Any]:
        """Krippendorff's alpha among the raters ("humans", "judges" or "all") at ``level`` ("nominal",
        "ordinal", "interval") with its bootstrap interval, and each rater against the human consensus."""
        options = {"score": score, "raters": raters, "level": level, "bootstrap": bootstrap}
        return self._get("/v1/analytics/alpha", params_of("alpha", options, filters))  # type: ignore[no-any-return]

    def disagreements(
        self, score: str, *, mode: str | None = None, limit: int | None = None, **filters: Any
    ) -> dict[str, Any]:
        """Items where raters differ most, most first (``["items"]``): ``mode`` "judge_vs_human" (default) or
        "raters" (the spread among every rater)."""
        options = {"score": score, "mode": mode, "limit": limit}
        return self._get("/v1/analytics/disagreements", params_of("disagreements", options, filters))  # type: ignore[no-any-return]

    def informative(
        self,
        score: str,
        group_by: Sequence[str] | str = ("variant",),
        *,
        human_source: str | None = None,
        judge_source: str | None = None,
        higher_is_better: bool | None = None,
        limit: int | None = None,
        **filters: Any,
    ) -> dict[str, Any]:
        """Judge-rated spans whose human rating would shrink the leaderboard's uncertainty most
        (``["items"]``), from the groups still contending for the lead in the score's direction."""
        options = {"score": score, "group_by": many(group_by), "human_source": human_source}
        options.update(judge_source=judge_source, higher_is_better=higher_is_better, limit=limit)
        return self._get("/v1/analytics/informative", params_of("informative", options, filters))  # type: ignore[no-any-return]
