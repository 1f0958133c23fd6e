"""Judges: stored LLM-judge definitions, their queue and dead letters, and running them on demand."""

from __future__ import annotations

import json
import re
import time
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from plaudit_collector.analytics.core import parse_time
from plaudit_collector.api.deps import DatabaseDep, ProjectDep, read_body
from plaudit_collector.errors import ApiError, validation_error
from plaudit_collector.judges import scan
from plaudit_collector.judges.spec import NAME_PATTERN, JudgeIn, unstorable
from plaudit_collector.judges.worker import run_judge
from plaudit_collector.store import judge_runs, judges, score_configs

router = APIRouter(tags=["judges"])

JudgeName = Annotated[str, Path(pattern=NAME_PATTERN, description="letters, digits, '.', '_' or '-'")]
MAX_BODY = 64 * 1024
BODY_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/JudgeIn"}}},
    }
}


class BackfillIn(BaseModel):
    """Which stored spans to queue: a time range (ISO 8601 or unix seconds) and a cap."""

    model_config = ConfigDict(extra="forbid")

    from_: str | None = Field(default=None, alias="from", max_length=40)
    to: str | None = Field(default=None, max_length=40)
    limit: int = Field(default=10_000, ge=1, le=1_000_000)


class RunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=100, ge=1, le=1000)


async def _json(request: Request, *, required: bool = True) -> Any:
    body = await read_body(request, MAX_BODY)
    if not body.strip() and not required:
        return {}
    try:
        return json.loads(body)
    except RecursionError:
        raise ApiError(400, "invalid_json", "body is nested too deeply", "body") from None
    except ValueError as exc:
        raise ApiError(400, "invalid_json", f"body is not valid JSON: {exc}", "body") from None


def _parse(model: type[BaseModel], data: Any) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc) from None


def _definition(db: Any, project: str, data: Any) -> dict[str, Any]:
    """A validated definition as stored: the score config filled in from the project's when absent."""
    if isinstance(data, dict) and "name" in data:
        data = {k: v for k, v in data.items() if k != "name"}
    bad = unstorable(data)
    if bad is not None:
        raise ApiError(422, "invalid_field", f"{bad}: text must not contain NUL characters or lone surrogates", bad)
    spec: JudgeIn = _parse(JudgeIn, data)
    problem = spec.problem()
    if problem is not None:
        raise ApiError(422, "invalid_field", f"{problem[0]}: {problem[1]}", problem[0])
    values = spec.model_dump()
    config = values.pop("score_config")
    if config is None:
        stored = score_configs.get_score_config(db, project, spec.score)
        if stored is None or stored["type"] == "text":
            raise ApiError(
                422,
                "invalid_field",
                f"score_config: give the scale the judge answers on (no score config named {spec.score!r})",
                "score_config",
            )
        config = stored
    values["score_config"] = {k: config.get(k) for k in ("type", "min", "max", "categories")}
    return values


async def _save(name: str, data: Any, db: Any, project: str, response: Response, *, create_only: bool) -> Any:
    values = await run_in_threadpool(_definition, db, project, data)
    if create_only and await run_in_threadpool(judges.get_row, db, project, name) is not None:
        raise ApiError(409, "exists", f"a judge named {name!r} exists; PUT /v1/judges/{name} replaces it", "name")
    stored, created = await run_in_threadpool(judges.put_judge, db, project, name, values)
    response.status_code = 201 if created else 200
    return stored


@router.post("/v1/judges", status_code=201, summary="Define a judge", openapi_extra=BODY_SCHEMA)
async def create_judge(request: Request, response: Response, db: DatabaseDep, project: ProjectDep) -> Any:
    """Create a judge (``name`` in the body); 409 when the name is taken. It rates spans stored from now on."""
    data = await _json(request)
    name = data.get("name") if isinstance(data, dict) else None
    if not isinstance(name, str) or not _valid_name(name):
        raise ApiError(422, "invalid_field", "name: 1-100 letters, digits, '.', '_' or '-'", "name")
    return await _save(name, data, db, project, response, create_only=True)


@router.put("/v1/judges/{name}", summary="Create or replace a judge", openapi_extra=BODY_SCHEMA)
async def put_judge(name: JudgeName, request: Request, response: Response, db: DatabaseDep, project: ProjectDep) -> Any:
    """Replace the whole definition. A changed score, scale, prompt, model, temperature or max_tokens is a new
    definition hash: later ratings are authored ``<name>@<new hash>``."""
    return await _save(name, await _json(request), db, project, response, create_only=False)


@router.patch("/v1/judges/{name}", summary="Change some fields of a judge")
async def patch_judge(
    name: JudgeName, request: Request, response: Response, db: DatabaseDep, project: ProjectDep
) -> Any:
    """E.g. ``{"enabled": false}`` or ``{"sample_rate": 0.1}``."""
    current = await run_in_threadpool(judges.get_judge, db, project, name)
    if current is None:
        raise ApiError(404, "not_found", f"no judge named {name!r}", "name")
    changes = await _json(request)
    if not isinstance(changes, dict):
        raise ApiError(422, "invalid_field", "body: expected a JSON object", "body")
    keep = set(JudgeIn.model_fields)
    merged = {k: v for k, v in current.items() if k in keep}
    if current["api_key_env"] == judges.DEFAULT_KEY_ENV.get(current["provider"]):
        merged.pop("api_key_env")
    return await _save(name, {**merged, **changes}, db, project, response, create_only=False)


@router.get("/v1/judges", summary="List judges")
async def list_judges(db: DatabaseDep, project: ProjectDep) -> Any:
    return await run_in_threadpool(judges.list_judges, db, project)


@router.get("/v1/judges/{name}", summary="One judge, with its queue counts")
async def get_judge(name: JudgeName, db: DatabaseDep, project: ProjectDep) -> Any:
    found = await run_in_threadpool(judges.get_judge, db, project, name)
    if found is None:
        raise ApiError(404, "not_found", f"no judge named {name!r}", "name")
    return found


@router.delete("/v1/judges/{name}", status_code=204, summary="Remove a judge (its ratings stay)")
async def delete_judge(name: JudgeName, db: DatabaseDep, project: ProjectDep) -> None:
    if not await run_in_threadpool(judges.delete_judge, db, project, name):
        raise ApiError(404, "not_found", f"no judge named {name!r}", "name")


async def _row(db: Any, project: str, name: str) -> Any:
    row = await run_in_threadpool(judges.get_row, db, project, name)
    if row is None:
        raise ApiError(404, "not_found", f"no judge named {name!r}", "name")
    return row


@router.post("/v1/judges/{name}/backfill", summary="Queue stored spans for a judge")
async def backfill(name: JudgeName, request: Request, db: DatabaseDep, project: ProjectDep) -> Any:
    """Queue stored spans that match the judge's filter and sample (newest first, at most ``limit``); spans it
    already rated under this definition are not queued again."""
    spec: BackfillIn = _parse(BackfillIn, await _json(request, required=False))
    start, end = parse_time(spec.from_, "from"), parse_time(spec.to, "to")
    row = await _row(db, project, name)
    queued = await run_in_threadpool(scan.backfill, db, row, start_ns=start, end_ns=end, limit=spec.limit)
    return {"queued": queued}


@router.post("/v1/judges/{name}/run", summary="Run a judge now")
async def run(name: JudgeName, request: Request, db: DatabaseDep, project: ProjectDep) -> Any:
    """Queue new matching spans and score up to ``limit`` due ones in this request (the model is called from the
    collector, with its environment's key). Returns what was queued, scored, retried and dead-lettered."""
    spec: RunIn = _parse(RunIn, await _json(request, required=False))
    row = await _row(db, project, name)
    if not row.enabled:
        raise ApiError(409, "disabled", f'judge {name!r} is disabled; PATCH it with {{"enabled": true}}', "enabled")
    return await run_in_threadpool(run_judge, db, project, name, limit=spec.limit)


@router.get("/v1/judges/{name}/dead-letters", summary="Spans a judge gave up on, with the last error")
async def dead_letters(name: JudgeName, db: DatabaseDep, project: ProjectDep) -> Any:
    await _row(db, project, name)
    return await run_in_threadpool(judge_runs.dead_letters, db, project, name)


@router.post("/v1/judges/{name}/dead-letters/retry", summary="Queue a judge's dead letters again")
async def retry_dead_letters(name: JudgeName, db: DatabaseDep, project: ProjectDep) -> Any:
    row = await _row(db, project, name)
    return {"requeued": await run_in_threadpool(judge_runs.retry_dead, db, project, name, row.hash, time.time())}


def _valid_name(name: str) -> bool:
    return re.fullmatch(NAME_PATTERN, name) is not None
