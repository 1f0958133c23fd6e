"""``plaudit.Client``: the read side (leaderboard, traces) as pydantic models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict

from plaudit._internal.config import resolve


class LeaderboardRow(BaseModel):
    """One group of the leaderboard: its mean score with a 95% confidence interval."""

    model_config = ConfigDict(extra="allow")

    group: dict[str, Any]
    count: int
    mean: float | None
    ci_low: float | None
    ci_high: float | None
    spans: int
    method: str | None = None


class Leaderboard(BaseModel):
    """Groups best first; ``leader`` is set only when the top group is separated from the rest."""

    model_config = ConfigDict(extra="allow")

    score: str
    group_by: list[str]
    rows: list[LeaderboardRow]
    leader: dict[str, Any] | None = None
    verdict: str | None = None

    def to_pandas(self) -> Any:
        """The rows as a DataFrame (needs pandas)."""
        import pandas as pd

        return pd.DataFrame([{**row.group, **row.model_dump(exclude={"group"})} for row in self.rows])


class SpanRecord(BaseModel):
    """A stored span with its normalised fields and feedback."""

    model_config = ConfigDict(extra="allow")

    span_id: str
    parent_span_id: str | None
    name: str
    model: str | None = None
    attributes: dict[str, Any] = {}
    feedback: list[dict[str, Any]] = []


class Trace(BaseModel):
    model_config = ConfigDict(extra="allow")

    trace_id: str
    spans: list[SpanRecord]


class Client:
    """Query a Plaudit collector: ``plaudit.Client().leaderboard("thumbs", group_by=["model"])``."""

    def __init__(
        self,
        endpoint: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
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

    def _get(self, path: str, params: Any = None) -> Any:
        response = self._http.get(path, params=params)
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
                message = f"{error.get('message')} (field: {error.get('field')})"
            except Exception:  # noqa: BLE001 - fall back to the raw body for non-JSON errors
                message = response.text[:500]
            raise ValueError(f"collector answered {response.status_code}: {message}")
        return response.json()

    def leaderboard(self, score: str, group_by: Sequence[str] | str = ("variant",), **filters: Any) -> Leaderboard:
        """Mean ``score`` per group, best first, with counts and 95% confidence intervals."""
        dims = [group_by] if isinstance(group_by, str) else list(group_by)
        params: list[tuple[str, Any]] = [("score", score), *(("group_by", d) for d in dims)]
        params += [(key, value) for key, value in filters.items() if value is not None]
        return Leaderboard.model_validate(self._get("/v1/analytics/leaderboard", params))

    def trace(self, trace_id: str) -> Trace:
        """One trace with all its spans and their feedback."""
        return Trace.model_validate(self._get(f"/v1/traces/{trace_id}"))

    def traces(self, limit: int = 50) -> list[dict[str, Any]]:
        """The most recent traces, newest first."""
        return self._get("/v1/traces", {"limit": limit})["data"]  # type: ignore[no-any-return]
