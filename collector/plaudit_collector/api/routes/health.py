"""Liveness: the process answers and its database is reachable."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import text

from plaudit_collector.api.deps import DatabaseDep

router = APIRouter()


@router.get("/healthz", tags=["health"], summary="Liveness and database reachability", response_model=None)
def healthz(db: DatabaseDep) -> dict[str, Any]:
    with db.reading() as conn:
        conn.execute(text("SELECT 1"))
    from plaudit._version import __version__

    return {"status": "ok", "database": db.dialect, "version": __version__}
