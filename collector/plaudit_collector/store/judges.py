"""Judge definitions: create, replace, read, delete; the definition hash that names a judge's ratings.

A definition never holds a secret: the API key is read at call time from the environment variable the
definition names (``api_key_env``), and replies say only whether that variable is set.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session as OrmSession

from plaudit_collector.store.db import Database
from plaudit_collector.store.feedback_reads import iso_utc
from plaudit_collector.store.tables import Judge, JudgeRun, JudgeUsage, Span, utcnow

JUDGE = Judge.__table__  # type: ignore[attr-defined]
RUNS = JudgeRun.__table__  # type: ignore[attr-defined]
USAGE = JudgeUsage.__table__  # type: ignore[attr-defined]

HASHED = ("score", "score_config", "prompt", "provider", "model", "temperature", "max_tokens")
"""What decides a rating. Changing any of these makes a new definition (a new author on its feedback);
changing the filter, sampling, budget, endpoint or enabled flag does not."""

EDITABLE = (
    *HASHED,
    "base_url",
    "api_key_env",
    "filter",
    "sample_rate",
    "enabled",
    "budget_per_hour",
    "rate_per_minute",
    "input_cost_per_mtok",
    "output_cost_per_mtok",
)
DEFAULT_KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}


def definition_hash(values: dict[str, Any]) -> str:
    """12 hex digits of SHA-256 over the canonical JSON of the rating-deciding fields."""
    canonical = json.dumps({key: values.get(key) for key in HASHED}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def author(name: str, digest: str) -> str:
    """The ``author`` of a judge's feedback: ``<name>@<definition hash>``."""
    return f"{name}@{digest}"


def trace_project(project: str) -> str:
    """The project a judge's own LLM calls are traced to, so their tokens and cost show apart."""
    return f"{project[:93]}-judges"


def put_judge(db: Database, project: str, name: str, values: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Create or replace a definition; returns (its JSON form, created). A new judge starts at the newest
    stored span: it scores spans that arrive from now on (``backfill`` queues older ones)."""
    fields = {key: values[key] for key in EDITABLE if key in values}
    fields["hash"] = definition_hash(fields)
    spans = Span.__table__  # type: ignore[attr-defined]
    with db.writing(), OrmSession(db.engine, expire_on_commit=False) as session, session.begin():
        row = session.execute(select(Judge).where(Judge.project == project, Judge.name == name)).scalar_one_or_none()
        created = row is None
        if row is None:
            newest = session.execute(select(func.max(spans.c.id)).where(spans.c.project == project)).scalar()
            row = Judge(project=project, name=name, watermark=int(newest or 0), floor=int(newest or 0), **fields)
            session.add(row)
        else:
            for key, value in fields.items():
                setattr(row, key, value)
            row.updated_at = utcnow()
        session.flush()
    return judge_dict(row), created


def get_row(db: Database, project: str, name: str) -> Judge | None:
    with OrmSession(db.engine, expire_on_commit=False) as session:
        return session.execute(select(Judge).where(Judge.project == project, Judge.name == name)).scalar_one_or_none()


def get_judge(db: Database, project: str, name: str) -> dict[str, Any] | None:
    """The definition with its run counts, or None."""
    row = get_row(db, project, name)
    if row is None:
        return None
    out = judge_dict(row)
    out["runs"] = run_counts(db, project, name)
    return out


def list_judges(db: Database, project: str) -> dict[str, Any]:
    with OrmSession(db.engine) as session:
        rows = session.execute(select(Judge).where(Judge.project == project).order_by(Judge.name)).scalars().all()
        data = [judge_dict(row) for row in rows]
    return {"data": data, "count": len(data)}


def enabled_judges(db: Database, project: str | None = None, name: str | None = None) -> list[Judge]:
    """Enabled definitions, of every project unless ``project`` is given."""
    query = select(Judge).where(Judge.enabled.is_(True))  # type: ignore[attr-defined]
    if project is not None:
        query = query.where(Judge.project == project)
    if name is not None:
        query = query.where(Judge.name == name)
    with OrmSession(db.engine, expire_on_commit=False) as session:
        return list(session.execute(query.order_by(Judge.id)).scalars())


def delete_judge(db: Database, project: str, name: str) -> bool:
    """Remove the definition and its queue; the feedback it wrote stays."""
    with db.writing(), db.engine.begin() as conn:
        gone = conn.execute(JUDGE.delete().where(JUDGE.c.project == project, JUDGE.c.name == name)).rowcount
        conn.execute(RUNS.delete().where(RUNS.c.project == project, RUNS.c.judge_name == name))
        conn.execute(USAGE.delete().where(USAGE.c.project == project, USAGE.c.judge_name == name))
    return bool(gone)


def set_watermark(db: Database, judge_id: int, watermark: int) -> None:
    with db.writing(), db.engine.begin() as conn:
        conn.execute(
            JUDGE.update().where(JUDGE.c.id == judge_id, JUDGE.c.watermark < watermark).values(watermark=watermark)
        )


def run_counts(db: Database, project: str, name: str) -> dict[str, int]:
    query = (
        select(RUNS.c.status, func.count())
        .where(RUNS.c.project == project, RUNS.c.judge_name == name)
        .group_by(RUNS.c.status)
    )
    with db.read_engine.connect() as conn:
        found = {status: int(n) for status, n in conn.execute(query)}
    return {status: found.get(status, 0) for status in ("pending", "running", "done", "dead")}


def key_env(row: Any) -> str:
    return row.api_key_env or DEFAULT_KEY_ENV.get(row.provider, "OPENAI_API_KEY")


def judge_dict(row: Judge) -> dict[str, Any]:
    env = key_env(row)
    return {
        "name": row.name,
        "score": row.score,
        "score_config": row.score_config,
        "prompt": row.prompt,
        "provider": row.provider,
        "model": row.model,
        "base_url": row.base_url,
        "api_key_env": env,
        "api_key_set": bool(os.environ.get(env)),
        "temperature": row.temperature,
        "max_tokens": row.max_tokens,
        "filter": row.filter,
        "sample_rate": row.sample_rate,
        "enabled": row.enabled,
        "budget_per_hour": row.budget_per_hour,
        "rate_per_minute": row.rate_per_minute,
        "input_cost_per_mtok": row.input_cost_per_mtok,
        "output_cost_per_mtok": row.output_cost_per_mtok,
        "hash": row.hash,
        "author": author(row.name, row.hash),
        "trace_project": trace_project(row.project),
        "created_at": iso_utc(row.created_at),
        "updated_at": iso_utc(row.updated_at),
    }
