"""Score configs: what a named score may hold (type, range, categories, direction), and the check that
strict configs make the collector enforce at write time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, delete, select
from sqlalchemy.orm import Session as OrmSession

from plaudit_collector.store import prepared
from plaudit_collector.store.db import Database
from plaudit_collector.store.feedback_reads import iso_utc
from plaudit_collector.store.tables import ScoreConfig, utcnow


class FeedbackRejected(ValueError):
    """An item breaks a strict score config: ``index`` in the request, the ``field`` and the rule broken."""

    def __init__(self, index: int, field: str, message: str, rule: str) -> None:
        super().__init__(message)
        self.index = index
        self.field = field
        self.message = message
        self.rule = rule


_CONFIGS = ScoreConfig.__table__  # type: ignore[attr-defined]
STRICT = select(_CONFIGS).where(_CONFIGS.c.project == bindparam("project"), _CONFIGS.c.strict.is_(True))
"""A project's strict configs (``project``). Built once, and without a list of names: a project has few strict
configs, and every write reads them."""


def check_configs(
    conn: Connection, project: str, items: Sequence[dict[str, Any]], strict: Sequence[Any] | None = None
) -> None:
    """Raise :class:`FeedbackRejected` for the first item that breaks a strict config of its score. ``strict``:
    the rows of :data:`STRICT` when the caller has read them already (with other statements at once)."""
    names = {item["name"] for item in items}
    if strict is None:
        strict = prepared.rows(conn, STRICT, {"project": project})
    configs = {cfg.name: cfg for cfg in strict if cfg.name in names}
    if not configs:
        return
    for index, item in enumerate(items):
        cfg = configs.get(item["name"])
        if cfg is None:
            continue
        broken = config_violation(cfg, item["kind"], item.get("value"))
        if broken is not None:
            rule, detail = broken
            message = f"{item.get('value')!r} breaks score config {cfg.name!r} (strict), rule {rule!r}: {detail}"
            raise FeedbackRejected(index, "value", message, rule)


def config_violation(cfg: Any, kind: str, value: Any) -> tuple[str, str] | None:
    """(rule, explanation) when ``value`` does not fit ``cfg``; None when it does.

    A missing value (a comment or a correction on that score) and a session's "unknown"/"ongoing"
    outcome fit every config: there is no score to check.
    """
    if value is None or kind == "unknown":
        return None
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if cfg.type == "text":
        return "type", "a text score takes a comment or correction, no value"
    if cfg.type == "boolean" and not isinstance(value, bool):
        return "type", "value must be true or false"
    if cfg.type == "numeric":
        if not is_number:
            return "type", "value must be a number"
        if cfg.min is not None and value < cfg.min:
            return "range", f"value must be at least {cfg.min:g} (range {_range(cfg)})"
        if cfg.max is not None and value > cfg.max:
            return "range", f"value must be at most {cfg.max:g} (range {_range(cfg)})"
    if cfg.type == "categorical":
        if not isinstance(value, str):
            return "type", "value must be one of the categories (a string)"
        if value not in (cfg.categories or []):
            return "categories", f"value must be one of {', '.join(map(repr, cfg.categories or []))}"
    return None


def _range(cfg: Any) -> str:
    low = "-inf" if cfg.min is None else f"{cfg.min:g}"
    high = "inf" if cfg.max is None else f"{cfg.max:g}"
    return f"[{low}, {high}]"


def put_score_config(db: Database, project: str, name: str, config: dict[str, Any]) -> dict[str, Any]:
    """Create or replace the config for ``name``; returns its JSON form."""
    keys = ("type", "min", "max", "categories", "strict", "higher_is_better", "description")
    values = {key: config.get(key) for key in keys}
    values["strict"] = bool(values["strict"]) if values["strict"] is not None else True
    values["higher_is_better"] = values["higher_is_better"] is not False
    with db.writing(), OrmSession(db.engine, expire_on_commit=False) as session, session.begin():
        row = session.execute(
            select(ScoreConfig).where(ScoreConfig.project == project, ScoreConfig.name == name)
        ).scalar_one_or_none()
        if row is None:
            row = ScoreConfig(project=project, name=name, **values)
            session.add(row)
        else:
            for key, value in values.items():
                setattr(row, key, value)
            row.updated_at = utcnow()
        session.flush()
    return score_config_dict(row)


def get_score_config(db: Database, project: str, name: str) -> dict[str, Any] | None:
    with OrmSession(db.engine) as session:
        row = session.execute(
            select(ScoreConfig).where(ScoreConfig.project == project, ScoreConfig.name == name)
        ).scalar_one_or_none()
        return None if row is None else score_config_dict(row)


def higher_is_better(conn: Connection, project: str, name: str) -> bool | None:
    """The direction the score config for ``name`` declares, or None without a config."""
    table = ScoreConfig.__table__  # type: ignore[attr-defined]
    query = select(table.c.higher_is_better).where(table.c.project == project, table.c.name == name)
    value = conn.execute(query).scalar_one_or_none()
    return None if value is None else bool(value)


def list_score_configs(db: Database, project: str) -> dict[str, Any]:
    with OrmSession(db.engine) as session:
        rows = session.execute(
            select(ScoreConfig).where(ScoreConfig.project == project).order_by(ScoreConfig.name)
        ).scalars()
        data = [score_config_dict(row) for row in rows]
    return {"data": data, "count": len(data)}


def delete_score_config(db: Database, project: str, name: str) -> bool:
    with db.writing(), db.engine.begin() as conn:
        result = conn.execute(delete(ScoreConfig).where(ScoreConfig.project == project, ScoreConfig.name == name))  # type: ignore[arg-type]
    return bool(result.rowcount)


def score_config_dict(cfg: ScoreConfig) -> dict[str, Any]:
    return {
        "name": cfg.name,
        "type": cfg.type,
        "min": cfg.min,
        "max": cfg.max,
        "categories": cfg.categories,
        "strict": cfg.strict,
        "higher_is_better": cfg.higher_is_better,
        "description": cfg.description,
        "created_at": iso_utc(cfg.created_at),
        "updated_at": iso_utc(cfg.updated_at),
    }


def split_by_configs(
    conn: Connection, project: str, items: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[str]]:
    """The items that fit this project's strict score configs, and a note for each left out.

    Telemetry cannot be answered item by item, so carried feedback that breaks a config is dropped and
    named in the reply instead of failing the export."""
    kept: list[dict[str, Any]] = []
    problems: list[str] = []
    pending = list(items)
    while pending:
        try:
            check_configs(conn, project, pending)
        except FeedbackRejected as exc:
            rejected = pending.pop(exc.index)
            problems.append(f"feedback {rejected['name']!r} not stored: {exc.message}")
            continue
        kept = pending
        break
    return kept, problems
