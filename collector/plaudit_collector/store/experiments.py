"""Experiment definitions: register (create, or merge into the stored one), read, list and change.

The stored definition is the truth the apps follow. Registering from code creates an experiment, or adds
the variants it does not have yet and updates the payloads of those named; it never changes a stored policy,
bound or status, nor brings back a variant that was paused or removed (those are changed on purpose, with
:func:`update`, and must survive the app's next deploy).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, func, select, update
from sqlalchemy.exc import IntegrityError

from plaudit_collector.errors import ApiError
from plaudit_collector.store.db import Database
from plaudit_collector.store.feedback_reads import iso_utc
from plaudit_collector.store.tables import Experiment, ExperimentUnit, ExperimentVariant, utcnow

EXPERIMENTS = Experiment.__table__  # type: ignore[attr-defined]
VARIANTS = ExperimentVariant.__table__  # type: ignore[attr-defined]
UNITS = ExperimentUnit.__table__  # type: ignore[attr-defined]

SETTINGS = ("score", "higher_is_better", "policy", "segment_by", "sticky", "epsilon", "min_share", "max_share")
DEFAULTS: dict[str, Any] = {
    "higher_is_better": None,  # the score config's direction, read when the state or report is computed
    "policy": "thompson",
    "segment_by": None,
    "sticky": False,
    "epsilon": 0.1,
    "min_share": 0.02,
    "max_share": 1.0,
    "description": None,
}
STATUSES = ("active", "paused", "removed")


def _not_found(name: str) -> ApiError:
    return ApiError(404, "not_found", f"no experiment named {name!r}", "name")


def _row(conn: Connection, project: str, name: str) -> Any:
    e = EXPERIMENTS
    return conn.execute(select(e).where(e.c.project == project, e.c.name == name)).first()


def _variants(conn: Connection, experiment_id: int) -> list[Any]:
    v = VARIANTS
    return list(conn.execute(select(v).where(v.c.experiment_id == experiment_id).order_by(v.c.position, v.c.id)))


def definition(row: Any, variants: list[Any]) -> dict[str, Any]:
    """The JSON form: the settings, the status and the variants in their order (the first is the control)."""
    return {
        "name": row.name,
        **{key: getattr(row, key) for key in SETTINGS},
        "description": row.description,
        "status": row.status,
        "winner": row.winner,
        "version": row.version,
        "variants": {
            v.name: {
                "payload": v.payload,
                "status": v.status,
                "weight": v.weight,
                "created_at": iso_utc(v.created_at),
                "updated_at": iso_utc(v.updated_at),
            }
            for v in variants
        },
        "created_at": iso_utc(row.created_at),
        "updated_at": iso_utc(row.updated_at),
    }


def get_experiment(db: Database, project: str, name: str) -> dict[str, Any] | None:
    with db.reading() as conn:
        row = _row(conn, project, name)
        return None if row is None else definition(row, _variants(conn, row.id))


def require(db: Database, project: str, name: str) -> dict[str, Any]:
    """The definition with its row id (``_id``); 404 when there is none."""
    with db.reading() as conn:
        row = _row(conn, project, name)
        if row is None:
            raise _not_found(name)
        return {**definition(row, _variants(conn, row.id)), "_id": row.id}


def version_of(db: Database, project: str, name: str) -> int | None:
    """The definition's version (one indexed probe): what a cached state checks before it is reused."""
    e = EXPERIMENTS
    with db.reading() as conn:
        return conn.execute(select(e.c.version).where(e.c.project == project, e.c.name == name)).scalar()


def list_experiments(db: Database, project: str) -> dict[str, Any]:
    e, v = EXPERIMENTS, VARIANTS
    with db.reading() as conn:
        rows = list(conn.execute(select(e).where(e.c.project == project).order_by(e.c.name)))
        variants: dict[int, list[Any]] = {row.id: [] for row in rows}
        if rows:
            query = select(v).where(v.c.experiment_id.in_(list(variants))).order_by(v.c.position, v.c.id)
            for variant in conn.execute(query):
                variants[variant.experiment_id].append(variant)
    data = [definition(row, variants[row.id]) for row in rows]
    return {"data": data, "count": len(data)}


def register(db: Database, project: str, spec: Mapping[str, Any]) -> tuple[dict[str, Any], bool, list[str]]:
    """Create the experiment, or merge ``spec`` into the stored one; returns (definition, created, notes).

    ``notes`` name the settings that were not applied because the stored experiment says otherwise.
    """
    for attempt in range(2):
        try:
            with db.writing(), db.engine.begin() as conn:
                row = _row(conn, project, spec["name"])
                if row is None:
                    return _create(conn, project, spec), True, []
                return _merge(conn, row, spec), False, _merge_notes(row, spec)
        except IntegrityError:  # created meanwhile by another process: merge into it
            if attempt:
                raise
    raise AssertionError("unreachable")


def _add_variant(
    conn: Connection,
    experiment_id: int,
    name: str,
    payload: Any,
    position: int,
    now: Any,
    *,
    status: str = "active",
    weight: float = 1.0,
) -> None:
    conn.execute(
        VARIANTS.insert().values(
            experiment_id=experiment_id,
            name=name,
            payload=payload,
            status=status,
            weight=weight,
            position=position,
            created_at=now,
            updated_at=now,
        )
    )


def _create(conn: Connection, project: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    now = utcnow()
    values = {key: spec[key] if spec.get(key) is not None else DEFAULTS.get(key) for key in (*SETTINGS, "description")}
    _check_bounds(values["min_share"], values["max_share"])
    result = conn.execute(
        EXPERIMENTS.insert().values(
            project=project, name=spec["name"], status="running", version=1, created_at=now, updated_at=now, **values
        )
    )
    experiment_id = result.inserted_primary_key[0]
    weights = spec.get("weights") or {}
    for position, (name, payload) in enumerate(spec["variants"].items()):
        _add_variant(conn, experiment_id, name, payload, position, now, weight=weights.get(name, 1.0))
    row = conn.execute(select(EXPERIMENTS).where(EXPERIMENTS.c.id == experiment_id)).one()
    return definition(row, _variants(conn, experiment_id))


def _merge(conn: Connection, row: Any, spec: Mapping[str, Any]) -> dict[str, Any]:
    now = utcnow()
    stored = {v.name: v for v in _variants(conn, row.id)}
    position = max((v.position for v in stored.values()), default=-1) + 1
    weights = spec.get("weights") or {}
    changed = False
    for name, payload in spec["variants"].items():
        variant = stored.get(name)
        if variant is None:
            _add_variant(conn, row.id, name, payload, position, now, weight=weights.get(name, 1.0))
            position += 1
            changed = True
        elif variant.payload != payload:
            conn.execute(update(VARIANTS).where(VARIANTS.c.id == variant.id).values(payload=payload, updated_at=now))
            changed = True
    if changed:
        _bump(conn, row.id, now)
    fresh = conn.execute(select(EXPERIMENTS).where(EXPERIMENTS.c.id == row.id)).one()
    return definition(fresh, _variants(conn, row.id))


def _merge_notes(row: Any, spec: Mapping[str, Any]) -> list[str]:
    notes = []
    for key in SETTINGS:
        wanted = spec.get(key)
        if wanted is not None and wanted != getattr(row, key):
            notes.append(
                f"{key}={wanted!r} not applied: the stored experiment has {key}={getattr(row, key)!r} "
                f"(change it with PATCH /v1/experiments/{row.name} or `plaudit experiments set`)"
            )
    return notes


def _bump(conn: Connection, experiment_id: int, now: Any) -> None:
    e = EXPERIMENTS
    conn.execute(update(e).where(e.c.id == experiment_id).values(version=e.c.version + 1, updated_at=now))


def _check_bounds(min_share: float, max_share: float) -> None:
    if min_share > max_share:
        raise ApiError(
            422, "invalid_field", f"min_share ({min_share}) must not exceed max_share ({max_share})", "min_share"
        )


def update_experiment(db: Database, project: str, name: str, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Apply a PATCH: settings, status (``running``/``stopped``), ``winner`` (promote: stop and serve it),
    and per-variant ``payload``/``status``/``weight`` (a new name with a payload adds a variant).

    Raises:
        ApiError: 404 for an unknown experiment; 409 when the change would leave nothing to serve or
            promotes a variant that was removed; 422 for a new variant without a payload.
    """
    with db.writing(), db.engine.begin() as conn:
        row = _row(conn, project, name)
        if row is None:
            raise _not_found(name)
        now = utcnow()
        values = {key: changes[key] for key in (*SETTINGS, "description") if key in changes}
        if "score" in values and values["score"] is None:
            raise ApiError(422, "invalid_field", "score: an experiment needs a score", "score")
        for key in ("higher_is_better", "policy", "sticky", "epsilon", "min_share", "max_share"):
            if key in values and values[key] is None:
                values[key] = DEFAULTS[key]
        _check_bounds(values.get("min_share", row.min_share), values.get("max_share", row.max_share))
        stored = {v.name: v for v in _variants(conn, row.id)}
        position = max((v.position for v in stored.values()), default=-1) + 1
        statuses = {n: v.status for n, v in stored.items()}
        for variant_name, change in (changes.get("variants") or {}).items():
            variant = stored.get(variant_name)
            field = f"variants.{variant_name}"
            if variant is None:
                if change.get("payload") is None:
                    raise ApiError(
                        422, "invalid_field", f"{field}.payload: a new variant needs its payload", f"{field}.payload"
                    )
                _add_variant(
                    conn,
                    row.id,
                    variant_name,
                    change["payload"],
                    position,
                    now,
                    status=change.get("status") or "active",
                    weight=change.get("weight") or 1.0,
                )
                statuses[variant_name] = change.get("status") or "active"
                position += 1
                continue
            patch = {k: change[k] for k in ("payload", "status", "weight") if change.get(k) is not None}
            if patch:
                conn.execute(update(VARIANTS).where(VARIANTS.c.id == variant.id).values(updated_at=now, **patch))
                statuses[variant_name] = patch.get("status", statuses[variant_name])
        status, winner = row.status, row.winner
        if changes.get("status") is not None:
            status = changes["status"]
            winner = None if status == "running" else winner
        if changes.get("winner") is not None:
            winner, status = changes["winner"], "stopped"
            if statuses.get(winner) is None:
                raise ApiError(409, "unknown_variant", f"winner: the experiment has no variant {winner!r}", "winner")
            if statuses[winner] == "removed":
                raise ApiError(409, "variant_removed", f"winner: variant {winner!r} was removed", "winner")
            if statuses[winner] == "paused":
                conn.execute(
                    update(VARIANTS)
                    .where(VARIANTS.c.experiment_id == row.id, VARIANTS.c.name == winner)
                    .values(status="active", updated_at=now)
                )
                statuses[winner] = "active"
        if winner is not None and statuses.get(winner) != "active":
            raise ApiError(
                409,
                "winner_not_served",
                f"variants.{winner}: the promoted variant must stay active",
                f"variants.{winner}",
            )
        if "active" not in statuses.values():
            raise ApiError(409, "nothing_to_serve", "variants: at least one variant must stay active", "variants")
        conn.execute(
            update(EXPERIMENTS)
            .where(EXPERIMENTS.c.id == row.id)
            .values(status=status, winner=winner, version=EXPERIMENTS.c.version + 1, updated_at=now, **values)
        )
        fresh = conn.execute(select(EXPERIMENTS).where(EXPERIMENTS.c.id == row.id)).one()
        return definition(fresh, _variants(conn, row.id))


def sticky_units(db: Database, experiment_id: int, units: list[str]) -> dict[str, dict[str, Any]]:
    """The stored assignments of ``units``: unit → {variant, probability, segment}."""
    u = UNITS
    found: dict[str, dict[str, Any]] = {}
    with db.reading() as conn:
        for start in range(0, len(units), 500):
            query = select(u.c.unit, u.c.variant, u.c.probability, u.c.segment).where(
                u.c.experiment_id == experiment_id, u.c.unit.in_(units[start : start + 500])
            )
            for row in conn.execute(query):
                found[row.unit] = {"variant": row.variant, "probability": row.probability, "segment": row.segment}
    return found


def keep_units(db: Database, experiment_id: int, assignments: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Store first assignments (a unit already assigned keeps its own) and return the stored ones.

    An assignment whose variant is no longer served is replaced: ``replace`` lists those units."""
    if not assignments:
        return {}
    now = utcnow()
    with db.writing(), db.engine.begin() as conn:
        replace = [a["unit"] for a in assignments if a.get("replace")]
        if replace:
            conn.execute(UNITS.delete().where(UNITS.c.experiment_id == experiment_id, UNITS.c.unit.in_(replace)))
        rows = [
            {
                "experiment_id": experiment_id,
                "unit": a["unit"],
                "variant": a["variant"],
                "probability": a["probability"],
                "segment": a.get("segment"),
                "created_at": now,
            }
            for a in assignments
        ]
        conn.execute(db.insert(UNITS).values(rows).on_conflict_do_nothing())
    return sticky_units(db, experiment_id, [a["unit"] for a in assignments])


def count_units(db: Database, experiment_id: int) -> int:
    with db.reading() as conn:
        return int(conn.execute(select(func.count()).where(UNITS.c.experiment_id == experiment_id)).scalar() or 0)
