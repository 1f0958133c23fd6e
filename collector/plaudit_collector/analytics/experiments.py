"""An experiment's policy state (what the SDK samples from) and the REST assignment that samples it here.

The state is each active variant's probability of being served: overall (no segment), per segment that has
rated choices, and for any other segment (the global model with a segment's usual uncertainty). It is
recomputed from the feedback at most every :data:`STATE_TTL_SECONDS` per experiment and at once after any
change to the definition, so a paused or removed variant is never handed out after that change.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from plaudit import semconv
from plaudit_collector.analytics import experiment_policy as policy
from plaudit_collector.analytics.direction import Direction, resolve
from plaudit_collector.errors import ApiError
from plaudit_collector.store import copies, experiment_data, experiments
from plaudit_collector.store.db import Database
from plaudit_collector.store.experiment_data import Rewards

STATE_TTL_SECONDS = 1.0
MAX_SEGMENTS = 500
"""Segments with their own probabilities in a state (those with the most rated choices); others share one."""
_CACHE_SIZE = 1000
_cache: dict[tuple[str, str, str], tuple[float, int, dict[str, Any]]] = {}
_lock = threading.Lock()


def reward_kind(cells: Sequence[Rewards]) -> str:
    """Beta–Bernoulli while every rating is a yes/no; Normal once any is a number."""
    return policy.NORMAL if any(c.numeric for c in cells) else policy.BERNOULLI


def arms_by_segment(
    cells: Sequence[Rewards], reward: str, higher_is_better: bool
) -> tuple[dict[str, policy.Arm], dict[str | None, dict[str, policy.Arm]]]:
    """Oriented statistics: overall per variant, and per segment per variant."""
    overall: dict[str, policy.Arm] = {}
    segments: dict[str | None, dict[str, policy.Arm]] = {}
    for cell in cells:
        arm = policy.oriented(cell.n, cell.total, cell.total_sq, reward, higher_is_better)
        overall[cell.variant] = overall.get(cell.variant, policy.Arm()) + arm
        segment = segments.setdefault(cell.segment, {})
        segment[cell.variant] = segment.get(cell.variant, policy.Arm()) + arm
    return overall, segments


def direction_of(db: Database, project: str, definition: Mapping[str, Any]) -> Direction:
    """The experiment's own ``higher_is_better`` when set, else its score config's, else higher is better."""
    return resolve(db, project, definition["score"], definition["higher_is_better"], override_from="experiment")


def policy_of(definition: Mapping[str, Any], reward: str) -> policy.Policy:
    return policy.Policy(
        name=definition["policy"],
        epsilon=definition["epsilon"],
        min_share=definition["min_share"],
        max_share=definition["max_share"],
        reward=reward,
    )


def served(definition: Mapping[str, Any]) -> list[str]:
    """The variants that may be chosen, in order (the first is the control)."""
    return [name for name, v in definition["variants"].items() if v["status"] == "active"]


def compute_state(db: Database, project: str, definition: Mapping[str, Any]) -> dict[str, Any]:
    """The probabilities every choice samples from, per segment (see the module docstring)."""
    name = definition["name"]
    active = served(definition)
    state: dict[str, Any] = {
        "experiment": name,
        "version": definition["version"],
        "status": definition["status"],
        "policy": definition["policy"],
        "score": definition["score"],
        "segment_by": definition["segment_by"],
        "sticky": definition["sticky"],
        "variants": {v: definition["variants"][v]["payload"] for v in active},
        "probabilities": {},
        "segments": {},
        "other_segments": {},
        "computed_at": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
    }
    if not active:
        return state
    if definition["status"] == "stopped":
        winner = definition["winner"] if definition["winner"] in active else active[0]
        only = {v: (1.0 if v == winner else 0.0) for v in active}
        state.update(probabilities=only, other_segments=only)
        return state
    copies.heal(db, project)  # at most every 30 s: what a stopped collector left waiting is credited late
    cells = experiment_data.rewards(db, project, name, definition["score"])
    reward = reward_kind(cells)
    rules = policy_of(definition, reward)
    direction = direction_of(db, project, definition)
    overall, segments = arms_by_segment(cells, reward, direction.higher_is_better)
    weights = {v: definition["variants"][v]["weight"] for v in active}
    noise = policy.noise_variance(list(overall.values())) if reward == policy.NORMAL else None
    seed = policy.seed_of(name, definition["version"], sorted(overall.items()))
    state["probabilities"] = policy.allocate(rules, active, overall, weights=weights, noise=noise, seed=seed)
    if definition["segment_by"]:
        state["other_segments"] = policy.allocate(
            rules, active, {}, prior=overall, weights=weights, noise=noise, seed=seed
        )
        ranked = sorted(
            ((key, arms) for key, arms in segments.items() if key is not None),
            key=lambda item: -sum(a.n for a in item[1].values()),
        )
        for key, arms in ranked[:MAX_SEGMENTS]:
            state["segments"][key] = policy.allocate(
                rules, active, arms, prior=overall, weights=weights, noise=noise, seed=policy.seed_of(seed, key)
            )
    else:
        state["other_segments"] = state["probabilities"]
    return state


def policy_state(db: Database, project: str, name: str, *, max_age: float = STATE_TTL_SECONDS) -> dict[str, Any]:
    """The experiment's state, from the cache when it is younger than ``max_age`` seconds and its definition
    has not changed since (one indexed read decides); computed afresh otherwise.

    Raises:
        ApiError: 404 when there is no such experiment.
    """
    key = (db.url, project, name)
    version = experiments.version_of(db, project, name)
    if version is None:
        raise ApiError(404, "not_found", f"no experiment named {name!r}", "name")
    now = time.monotonic()
    with _lock:
        hit = _cache.get(key)
    if hit is not None and hit[1] == version and now - hit[0] < max_age:
        return hit[2]
    state = compute_state(db, project, experiments.require(db, project, name))
    with _lock:
        if len(_cache) >= _CACHE_SIZE:
            _cache.pop(next(iter(_cache)))
        _cache[key] = (now, state["version"], state)
    return state


def probabilities_for(state: Mapping[str, Any], segment: str | None) -> dict[str, float]:
    """The probabilities a choice for ``segment`` samples from."""
    if segment is None:
        return dict(state["probabilities"])
    return dict(state["segments"].get(segment) or state["other_segments"])


def assign(
    db: Database, project: str, name: str, *, segment: str | None = None, unit: str | None = None
) -> dict[str, Any]:
    """One choice made here (for apps in other languages): the variant, its payload, the probability it had,
    and the span attributes to set so feedback on those spans reaches the experiment. A sticky experiment
    gives a unit the variant it got first, for as long as that variant is served.

    Raises:
        ApiError: 404 for an unknown experiment; 409 when no variant is active.
    """
    state = policy_state(db, project, name)
    probabilities = {v: p for v, p in probabilities_for(state, segment).items() if p > 0}
    if not probabilities:
        raise ApiError(409, "nothing_to_serve", f"experiment {name!r} has no active variant", "name")
    variant = probability = None
    sticky = bool(state["sticky"] and unit is not None)
    if sticky:
        experiment_id = experiments.require(db, project, name)["_id"]
        stored = experiments.sticky_units(db, experiment_id, [unit]).get(unit)  # type: ignore[list-item]
        if stored is not None and stored["variant"] in probabilities:
            variant, probability = stored["variant"], stored["probability"]
        else:
            variant = policy.pick(probabilities, policy.unit_draw(name, unit))  # type: ignore[arg-type]
            kept = experiments.keep_units(
                db,
                experiment_id,
                [
                    {
                        "unit": unit,
                        "variant": variant,
                        "probability": probabilities[variant],  # type: ignore[index]
                        "segment": segment,
                        "replace": stored is not None,
                    }
                ],
            )[unit]  # type: ignore[index]
            variant, probability = kept["variant"], kept["probability"]
    else:
        variant = policy.pick(probabilities, secrets.randbelow(2**53) / 2**53)
        probability = probabilities[variant]  # type: ignore[index]
    return choice_reply(state, variant, probability, segment, unit, sticky)  # type: ignore[arg-type]


def choice_reply(
    state: Mapping[str, Any], variant: str, probability: float, segment: str | None, unit: str | None, sticky: bool
) -> dict[str, Any]:
    choice = secrets.token_hex(8)
    attributes: dict[str, Any] = {
        semconv.EXPERIMENT: state["experiment"],
        semconv.VARIANT: variant,
        semconv.EXPERIMENT_PROBABILITY: probability,
        semconv.EXPERIMENT_CHOICE: choice,
    }
    if segment is not None:
        attributes[semconv.EXPERIMENT_SEGMENT] = segment
    if unit is not None:
        attributes[semconv.USER_ID] = unit
    return {
        "experiment": state["experiment"],
        "variant": variant,
        "payload": state["variants"].get(variant, {}),
        "probability": probability,
        "segment": segment,
        "unit": unit,
        "sticky": sticky,
        "choice": choice,
        "version": state["version"],
        "attributes": attributes,
    }


def record_units(db: Database, project: str, name: str, assignments: list[dict[str, Any]]) -> dict[str, Any]:
    """Sticky assignments an SDK made locally: the first one stored for a unit wins (one made while its
    variant is no longer served is replaced); returns what is stored, for the SDK to follow."""
    definition = experiments.require(db, project, name)
    active = set(served(definition))
    current = experiments.sticky_units(db, definition["_id"], [a["unit"] for a in assignments])
    todo = []
    for item in assignments:
        stored = current.get(item["unit"])
        if stored is None or stored["variant"] not in active:
            if item["variant"] in active:
                todo.append({**item, "replace": stored is not None})
    kept = experiments.keep_units(db, definition["_id"], todo) if todo else {}
    merged = {**current, **kept}
    return {"units": [{"unit": unit, **value} for unit, value in merged.items() if value["variant"] in active]}
