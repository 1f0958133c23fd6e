"""The score names a project uses: every name with current feedback and every configured one, so a picker
can offer them and a typo can be answered with the names that exist."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from plaudit_collector.store.db import Database
from plaudit_collector.store.score_configs import score_config_dict
from plaudit_collector.store.tables import Feedback, ScoreConfig

FEEDBACK = Feedback.__table__  # type: ignore[attr-defined]
CONFIGS = ScoreConfig.__table__  # type: ignore[attr-defined]


def list_scores(db: Database, project: str) -> dict[str, Any]:
    """``{"scores": [{"name", "count", "kind", "config"}]}``, most used first; ``kind`` is that of the newest
    item (``preference`` for pairwise names), ``config`` the score config or None."""
    current = [FEEDBACK.c.project == project, FEEDBACK.c.is_current.is_(True)]
    f = FEEDBACK.c
    with db.read_engine.connect() as conn:
        # one pass over the (project, name, is_current, kind) index, in its order, without reading rows
        found = conn.execute(
            select(f.name, func.count(), func.min(f.kind), func.max(f.kind)).where(*current).group_by(f.name)
        ).all()
        counts = {name: count for name, count, _, _ in found}
        # a name of one kind has it; only a name of several looks for its newest item (SQLite sorts all its items)
        kinds = {
            name: first
            if first == last
            else conn.execute(select(f.kind).where(*current, f.name == name).order_by(f.id.desc()).limit(1)).scalar()
            for name, _, first, last in found
        }
        configs = {
            row.name: score_config_dict(row)
            for row in conn.execute(select(CONFIGS).where(CONFIGS.c.project == project))
        }
    names = sorted(set(counts) | set(configs), key=lambda name: (-counts.get(name, 0), name))
    return {
        "scores": [
            {
                "name": name,
                "count": int(counts.get(name, 0)),
                "kind": kinds.get(name) or (configs[name]["type"] if name in configs else None),
                "config": configs.get(name),
            }
            for name in names
        ]
    }
