"""Score configs: declare what a named score may hold; strict configs make the collector enforce it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from plaudit_collector.api.deps import DatabaseDep, ProjectDep, read_json
from plaudit_collector.errors import ApiError, validation_error
from plaudit_collector.schemas import ScoreConfigIn
from plaudit_collector.store import score_configs

router = APIRouter(tags=["score configs"])

NamePath = Annotated[str, Path(min_length=1, max_length=200)]
MAX_CONFIG_BYTES = 64 * 1024


@router.put(
    "/v1/score-configs/{name}",
    summary="Declare a score's type, range or categories",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ScoreConfigIn"}}},
        }
    },
)
async def put_score_config(name: NamePath, request: Request, db: DatabaseDep, project: ProjectDep) -> Any:
    """Create or replace; later feedback for ``name`` is checked against it when ``strict`` (the default)."""
    if not name.strip():
        raise ApiError(422, "invalid_field", "name: must not be blank", "name")
    doc = await read_json(request, MAX_CONFIG_BYTES)
    try:
        config = ScoreConfigIn.model_validate(doc)
    except ValidationError as exc:
        raise validation_error(exc) from None
    problem = config.problem()
    if problem is not None:
        raise ApiError(422, "invalid_field", f"{problem[0]}: {problem[1]}", problem[0])
    return await run_in_threadpool(score_configs.put_score_config, db, project, name, config.model_dump())


@router.get("/v1/score-configs", summary="List score configs")
async def list_score_configs(db: DatabaseDep, project: ProjectDep) -> Any:
    return await run_in_threadpool(score_configs.list_score_configs, db, project)


@router.get("/v1/score-configs/{name}", summary="One score config")
async def get_score_config(name: NamePath, db: DatabaseDep, project: ProjectDep) -> Any:
    found = await run_in_threadpool(score_configs.get_score_config, db, project, name)
    if found is None:
        raise ApiError(404, "not_found", f"no score config named {name!r}", "name")
    return found


@router.delete("/v1/score-configs/{name}", status_code=204, summary="Remove a score config")
async def delete_score_config(name: NamePath, db: DatabaseDep, project: ProjectDep) -> None:
    if not await run_in_threadpool(score_configs.delete_score_config, db, project, name):
        raise ApiError(404, "not_found", f"no score config named {name!r}", "name")
