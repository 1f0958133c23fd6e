"""The projects a caller may read: what the workspace's project picker offers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from plaudit_collector.api.deps import DatabaseDep, ProjectDep, SettingsDep
from plaudit_collector.store import projects as project_store

router = APIRouter(tags=["projects"])


@router.get("/v1/projects", summary="The projects this caller can read, and the one this request reads")
async def list_projects(db: DatabaseDep, settings: SettingsDep, project: ProjectDep) -> dict[str, Any]:
    """Without auth every project is readable (name one with ``X-Plaudit-Project``): the known ones (with
    settings, keys or a write naming them) and the default. With auth a key reads its own project only."""
    if settings.auth:
        names = [project]
    else:
        stored = await run_in_threadpool(project_store.list_projects, db)
        names = sorted({settings.default_project, project, *(p["name"] for p in stored)})
    return {"current": project, "default": settings.default_project, "projects": names}
