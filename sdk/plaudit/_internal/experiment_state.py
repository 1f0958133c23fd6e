"""What an :class:`~plaudit.Experiment` keeps between refreshes: the collector's policy state, and how a
choice samples it.

The collector computes the probabilities (its policies learn from the feedback); the SDK only samples
them, locally, so choosing never waits on the network. The sampling here mirrors the collector's REST
assignment (``analytics/experiment_policy.py``: ``pick`` and ``unit_draw``), so both hand out the same
distribution and a sticky unit gets the same variant from either while the state is the same.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PolicyState:
    """One refresh's state: the active variants' payloads and the probabilities to sample, per segment."""

    version: int = 0
    status: str = "running"
    segment_by: str | None = None
    sticky: bool = False
    payloads: dict[str, dict[str, Any]] = field(default_factory=dict)
    overall: dict[str, float] = field(default_factory=dict)
    segments: dict[str, dict[str, float]] = field(default_factory=dict)
    other_segments: dict[str, float] = field(default_factory=dict)

    def probabilities(self, segment: str | None) -> dict[str, float]:
        """Served variants (probability above zero) for ``segment``, in the collector's order."""
        if segment is None:
            table = self.overall
        else:
            table = self.segments.get(segment) or self.other_segments or self.overall
        return {v: p for v, p in table.items() if p > 0 and v in self.payloads}


def uniform(variants: Mapping[str, Any]) -> PolicyState:
    """Before any state arrived: an even split over the variants the code named."""
    names = list(variants)
    shares = {name: 1 / len(names) for name in names} if names else {}
    return PolicyState(payloads={n: dict(variants[n]) for n in names}, overall=shares, other_segments=shares)


def parse_state(data: Mapping[str, Any]) -> PolicyState:
    """The collector's ``GET /v1/experiments/{name}/state`` reply; raises on a malformed one."""

    def table(raw: Any) -> dict[str, float]:
        if not isinstance(raw, Mapping):
            raise ValueError("probabilities must be an object")
        return {str(k): float(v) for k, v in raw.items()}

    payloads = data["variants"]
    if not isinstance(payloads, Mapping) or not all(isinstance(p, Mapping) for p in payloads.values()):
        raise ValueError("variants must map names to payload objects")
    segments = data.get("segments") or {}
    return PolicyState(
        version=int(data.get("version") or 0),
        status=str(data.get("status") or "running"),
        segment_by=data.get("segment_by"),
        sticky=bool(data.get("sticky")),
        payloads={str(k): dict(v) for k, v in payloads.items()},
        overall=table(data.get("probabilities") or {}),
        segments={str(k): table(v) for k, v in segments.items()},
        other_segments=table(data.get("other_segments") or {}),
    )


def pick(probabilities: Mapping[str, float], u: float) -> str | None:
    """The variant whose slice of [0, 1) holds ``u``, slices in the order given."""
    chosen = None
    edge = 0.0
    for name, p in probabilities.items():
        chosen = name
        edge += p
        if u < edge:
            return name
    return chosen


def unit_draw(experiment: str, unit: str) -> float:
    """A sticky unit's fixed point in [0, 1) (the collector computes the same)."""
    digest = hashlib.sha256(f"{experiment}\x1f{unit}".encode("utf-8", "surrogatepass")).hexdigest()
    return int(digest[:13], 16) / 16**13
