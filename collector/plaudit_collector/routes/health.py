"""Liveness and the dashboard page."""

from __future__ import annotations

from importlib import resources
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from sqlalchemy import text

from plaudit_collector.deps import DatabaseDep

router = APIRouter()


@router.get("/healthz", tags=["health"], summary="Liveness and database reachability")
def healthz(db: DatabaseDep) -> dict[str, Any]:
    with db.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    from plaudit._version import __version__

    return {"status": "ok", "database": db.dialect, "version": __version__}


@router.get("/", include_in_schema=False, response_class=HTMLResponse)
def dashboard() -> HTMLResponse:
    page = resources.files("plaudit_collector").joinpath("dashboard.html").read_text(encoding="utf-8")
    return HTMLResponse(page)
