"""``plaudit.Client`` methods for LLM judges: definitions, runs, and how far to trust them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx


def _many(values: str | Sequence[str] | None) -> list[str]:
    if values is None:
        return []
    return [values] if isinstance(values, str) else list(values)


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

    def judge_report(self, score: str, group_by: Sequence[str] | str = ("variant",), **options: Any) -> dict[str, Any]:
        """Each judge against the humans: bias with its interval, correlations, kappa, alpha, the confusion
        table and the bias per group (``options``: human_source, judge_source, bootstrap, and the filters'
        REST names such as ``source`` or ``where``)."""
        params = [("score", score), *(("group_by", g) for g in _many(group_by)), *_options(options)]
        return self._get("/v1/analytics/judges", params)  # type: ignore[no-any-return]

    def alpha(self, score: str, *, raters: str = "all", level: str = "interval", **options: Any) -> dict[str, Any]:
        """Krippendorff's alpha among the raters ("humans", "judges" or "all") with its bootstrap interval."""
        params = [("score", score), ("raters", raters), ("level", level), *_options(options)]
        return self._get("/v1/analytics/alpha", params)  # type: ignore[no-any-return]

    def disagreements(self, score: str, *, mode: str = "judge_vs_human", limit: int = 100) -> list[dict[str, Any]]:
        """Items where raters differ most, most first."""
        params = {"score": score, "mode": mode, "limit": limit}
        return self._get("/v1/analytics/disagreements", params)["items"]  # type: ignore[no-any-return]

    def informative(self, score: str, group_by: Sequence[str] | str = ("variant",), *, limit: int = 50) -> list[Any]:
        """Judge-rated spans whose human rating would shrink the leaderboard's uncertainty most."""
        params = [("score", score), ("limit", str(limit)), *(("group_by", g) for g in _many(group_by))]
        return self._get("/v1/analytics/informative", params)["items"]  # type: ignore[no-any-return]


def _options(options: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for key, value in options.items():
        for one in _many(value) if not isinstance(value, (int, float)) else [value]:
            out.append((key, str(one)))
    return out


def estimator_params(
    estimator: str | None, human_source: str | None, judge_source: str | None
) -> list[tuple[str, str]]:
    """``estimator="ppi"`` and its sources, as query parameters (only those given)."""
    pairs = (("estimator", estimator), ("human_source", human_source), ("judge_source", judge_source))
    return [(key, value) for key, value in pairs if value is not None]
