"""The experiment methods of ``plaudit.Client``: define, change, report on and assign experiments, without
redeploying the app that runs them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict


class ExperimentInfo(BaseModel):
    """An experiment's definition: settings, status, and its variants (payload, status, weight) in order."""

    model_config = ConfigDict(extra="allow")

    name: str
    score: str
    policy: str
    status: str
    version: int
    segment_by: str | None = None
    winner: str | None = None
    variants: dict[str, dict[str, Any]] = {}
    notes: list[str] = []


class ExperimentReport(BaseModel):
    """Overall and per segment: traffic share over time, each variant's score with its interval and count,
    its IPS and SNIPS estimates, probability of being best and expected loss, and a recommendation."""

    model_config = ConfigDict(extra="allow")

    experiment: str
    score: str
    status: str
    overall: dict[str, Any]
    segments: list[dict[str, Any]] = []

    def to_pandas(self) -> Any:
        """One row per (segment, variant); the overall rows have segment ``None`` (needs pandas)."""
        import pandas as pd

        records = [{"scope": "overall", "segment": None, **v} for v in self.overall["variants"]]
        for entry in self.segments:
            records += [{"scope": "segment", "segment": entry["segment"], **v} for v in entry["variants"]]
        return pd.DataFrame(records)


class Assignment(BaseModel):
    """A choice the collector made: the variant, its payload and probability, and the span attributes to set."""

    model_config = ConfigDict(extra="allow")

    experiment: str
    variant: str
    payload: dict[str, Any]
    probability: float
    segment: str | None = None
    unit: str | None = None
    attributes: dict[str, Any] = {}


def _path(name: str) -> str:
    return f"/v1/experiments/{quote(name, safe='')}"


def _time(value: str | float | datetime | None) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else str(value)


class ExperimentMethods:
    """Mixed into ``plaudit.Client`` (which provides the HTTP client and its error handling)."""

    _http: httpx.Client
    _raise_for: Callable[[httpx.Response], None]

    def _send(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, path, **kwargs)
        self._raise_for(response)
        return response.json()

    def experiments(self) -> list[ExperimentInfo]:
        """Every experiment of the project, by name."""
        return [ExperimentInfo.model_validate(e) for e in self._send("GET", "/v1/experiments")["data"]]

    def experiment(self, name: str) -> ExperimentInfo:
        """One experiment's definition."""
        return ExperimentInfo.model_validate(self._send("GET", _path(name)))

    def create_experiment(
        self, name: str, variants: Mapping[str, Mapping[str, Any]], *, score: str, **settings: Any
    ) -> ExperimentInfo:
        """Register an experiment (as ``plaudit.Experiment(..., variants=...)`` does): created when new, else
        the missing variants are added and the payloads named updated. ``settings``: ``policy``,
        ``segment_by``, ``higher_is_better``, ``sticky``, ``epsilon``, ``min_share``, ``max_share``,
        ``weights``, ``description``."""
        body = {"name": name, "score": score, "variants": {k: dict(v) for k, v in variants.items()}}
        body.update({k: v for k, v in settings.items() if v is not None})
        return ExperimentInfo.model_validate(self._send("POST", "/v1/experiments", json=body))

    def update_experiment(self, name: str, **changes: Any) -> ExperimentInfo:
        """Change settings (``policy="fixed"``, ``min_share=0.05``, ``segment_by=None``...), ``status``
        ("running"/"stopped"), ``winner`` (promote), or ``variants={name: {"payload"|"status"|"weight"}}``."""
        return ExperimentInfo.model_validate(self._send("PATCH", _path(name), json=changes))

    def add_variant(
        self, name: str, variant: str, payload: Mapping[str, Any], *, weight: float | None = None
    ) -> ExperimentInfo:
        """Add a variant (served from the apps' next refresh on)."""
        change: dict[str, Any] = {"payload": dict(payload)}
        if weight is not None:
            change["weight"] = weight
        return self.update_experiment(name, variants={variant: change})

    def pause_variant(self, name: str, variant: str) -> ExperimentInfo:
        """Stop serving a variant for now (it stays in the reports; ``resume_variant`` serves it again)."""
        return self.update_experiment(name, variants={variant: {"status": "paused"}})

    def resume_variant(self, name: str, variant: str) -> ExperimentInfo:
        """Serve a paused (or removed) variant again."""
        return self.update_experiment(name, variants={variant: {"status": "active"}})

    def remove_variant(self, name: str, variant: str) -> ExperimentInfo:
        """Stop serving a variant for good (its data stays in the reports)."""
        return self.update_experiment(name, variants={variant: {"status": "removed"}})

    def set_policy(self, name: str, policy: str, **bounds: Any) -> ExperimentInfo:
        """Change the policy ("thompson", "epsilon_greedy", "fixed"), optionally with ``epsilon``,
        ``min_share`` and ``max_share``."""
        return self.update_experiment(name, policy=policy, **{k: v for k, v in bounds.items() if v is not None})

    def stop_experiment(self, name: str) -> ExperimentInfo:
        """Stop learning: every choice gets the promoted winner, or the first active variant without one."""
        return self.update_experiment(name, status="stopped")

    def promote(self, name: str, variant: str) -> ExperimentInfo:
        """Stop the experiment and serve ``variant`` to everyone."""
        return self.update_experiment(name, winner=variant)

    def experiment_report(
        self,
        name: str,
        *,
        start: str | float | datetime | None = None,
        end: str | float | datetime | None = None,
        bucket: str = "day",
        segments: int | None = None,
    ) -> ExperimentReport:
        """The report: per segment, traffic share over time, scores with intervals and counts, IPS and
        SNIPS estimates, probability of being best, expected regret, and a recommendation."""
        params = {"from": _time(start), "to": _time(end), "bucket": bucket, "segments": segments}
        clean = {k: str(v) for k, v in params.items() if v is not None}
        return ExperimentReport.model_validate(self._send("GET", f"{_path(name)}/report", params=clean))

    def assign(self, name: str, *, segment: str | None = None, unit: str | None = None) -> Assignment:
        """A choice made by the collector (what apps in other languages call); set ``attributes`` on the
        spans of the request so their feedback reaches the experiment."""
        params = {k: v for k, v in (("segment", segment), ("unit", unit)) if v is not None}
        return Assignment.model_validate(self._send("GET", f"{_path(name)}/assign", params=params))
