"""Projects and API keys: create, list, revoke, and resolve a presented key to its project.

A key is 32 random bytes (``plk_`` + URL-safe base64). Only its SHA-256 is stored: a key that high in entropy
needs no slow password hash, and the lookup by hash is one indexed read. The final comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.orm import Session as OrmSession

from plaudit_collector.store import dimensions, prepared
from plaudit_collector.store.db import Database
from plaudit_collector.store.tables import ApiKey, Project, utcnow

KEY_PREFIX = "plk_"
PROJECT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


@dataclass(frozen=True)
class ProjectSettings:
    name: str
    store_content: bool = True
    dimensions: tuple[str | None, ...] = ()
    """The attribute key kept in each declared-dimension slot (``store/dimensions.py``), None for a free one."""


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def valid_project_name(name: str) -> bool:
    return bool(PROJECT_NAME.match(name))


def ensure_project(db: Database, name: str, *, store_content: bool | None = None) -> ProjectSettings:
    """Create the project row if missing; change ``store_content`` when given."""
    with db.writing(), OrmSession(db.engine) as session, session.begin():
        project = session.get(Project, name)
        if project is None:
            project = Project(name=name, store_content=True if store_content is None else store_content)
            session.add(project)
        elif store_content is not None:
            project.store_content = store_content
        return ProjectSettings(project.name, project.store_content)


def add_project(db: Database, name: str) -> None:
    """Create the project with the default settings unless it exists (safe when collectors race)."""
    with db.writing(), db.engine.begin() as conn:
        row = {"name": name, "store_content": True, "created_at": utcnow()}
        conn.execute(db.insert(Project.__table__).values(**row).on_conflict_do_nothing())  # type: ignore[attr-defined]


def has_active_keys(db: Database) -> bool:
    """Whether any API key is unrevoked: a collector requiring keys answers 401 to everything without one."""
    with db.reading() as conn:
        found = conn.execute(select(ApiKey.id).where(ApiKey.revoked_at.is_(None)).limit(1)).first()  # type: ignore[union-attr]
    return found is not None


def project_settings(db: Database, name: str) -> ProjectSettings:
    """The project's settings; a project without a row has the defaults."""
    with db.reading() as conn:
        row = conn.execute(_SETTINGS, {"name": name}).first()
    if row is None:
        return ProjectSettings(name)
    return ProjectSettings(name, bool(row.store_content), dimensions.parse(row.dimensions, True).keys)


STORES_CONTENT = select(Project.store_content).where(Project.name == bindparam("name"))  # type: ignore[arg-type]
"""The project's ``store_content`` setting (``name``); no row for a project never configured."""
_SETTINGS = select(Project.store_content, Project.dimensions).where(Project.name == bindparam("name"))  # type: ignore[arg-type]


def stores_content(conn: Connection, name: str) -> bool:
    """Whether the project keeps content (``plaudit projects set NAME --no-store-content`` turns it off)."""
    return keeps_content(prepared.rows(conn, STORES_CONTENT, {"name": name}))


def keeps_content(found: Sequence[Any]) -> bool:
    """Whether the rows of :data:`STORES_CONTENT` say the project keeps content (it does unless told not to)."""
    return True if not found or found[0][0] is None else bool(found[0][0])


def list_projects(db: Database) -> list[dict[str, Any]]:
    with OrmSession(db.engine) as session:
        rows = session.execute(select(Project).order_by(Project.name)).scalars().all()
        return [
            {
                "name": p.name,
                "store_content": p.store_content,
                "dimensions": dimensions.parse(p.dimensions, p.dimensions_ready).named,
                "dimensions_ready": p.dimensions_ready,
                "created_at": p.created_at,
            }
            for p in rows
        ]


def create_key(db: Database, project: str, *, name: str | None = None) -> tuple[str, int]:
    """A new key for ``project`` (created if missing): the clear key, shown once, and its id."""
    ensure_project(db, project)
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(project=project, name=name, prefix=key[:12], key_hash=hash_key(key))
    with db.writing(), OrmSession(db.engine) as session, session.begin():
        session.add(row)
        session.flush()
        key_id = int(row.id or 0)
    return key, key_id


def list_keys(db: Database, project: str | None = None) -> list[dict[str, Any]]:
    query = select(ApiKey).order_by(ApiKey.id)
    if project is not None:
        query = query.where(ApiKey.project == project)
    with OrmSession(db.engine) as session:
        return [
            {
                "id": k.id,
                "project": k.project,
                "name": k.name,
                "prefix": k.prefix,
                "created_at": k.created_at,
                "revoked_at": k.revoked_at,
            }
            for k in session.execute(query).scalars().all()
        ]


def revoke_key(db: Database, key_id: int) -> bool:
    """Revoke by id; False when no active key has that id."""
    with db.writing(), db.engine.begin() as conn:
        result = conn.execute(
            update(ApiKey)
            .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))  # type: ignore[union-attr]
            .values(revoked_at=utcnow())
        )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def resolve_key(db: Database, key: str) -> str | None:
    """The project of an active key, or None."""
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    digest = hash_key(key)
    with db.reading() as conn:
        row = conn.execute(
            select(ApiKey.project, ApiKey.key_hash, ApiKey.revoked_at).where(ApiKey.key_hash == digest)
        ).first()
    if row is None or row.revoked_at is not None:
        return None
    return str(row.project) if hmac.compare_digest(str(row.key_hash), digest) else None


def describe_time(moment: datetime | None) -> str:
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M")
