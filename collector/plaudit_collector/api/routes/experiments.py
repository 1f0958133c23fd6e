"""Experiments: register and change them, hand out their policy state and choices, report on them."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from plaudit_collector.analytics import experiment_report
from plaudit_collector.analytics import experiments as policy_state
from plaudit_collector.api.deps import DatabaseDep, ProjectDep, read_body
from plaudit_collector.errors import ApiError, validation_error
from plaudit_collector.experiment_schemas import ExperimentChange, ExperimentIn, UnitsIn, check_text
from plaudit_collector.store import experiments

router = APIRouter(tags=["experiments"])

MAX_BODY = 1024 * 1024
NamePath = Annotated[str, Path(min_length=1, max_length=200)]
Model = TypeVar("Model", bound=BaseModel)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a valid JSON number")


async def _parse(request: Request, model: type[Model]) -> Model:
    body = await read_body(request, MAX_BODY)
    try:
        data = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ApiError(400, "invalid_json", f"body is not valid JSON: {str(exc)[:200]}", "body") from None
    if not isinstance(data, dict):
        raise ApiError(422, "invalid_field", "body: expected a JSON object", "body")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc) from None
    except RecursionError:
        raise ApiError(422, "invalid_field", "body: nested too deeply", "body") from None


def only(*names: str) -> Callable[..., None]:
    """A dependency refusing query parameters the route does not take (422 naming the first), once the
    caller is known (a request without a valid key gets its 401 first)."""

    def check(request: Request, _project: ProjectDep) -> None:
        for key in request.query_params:
            if key not in names:
                raise ApiError(422, "unknown_parameter", f"{key}: unknown query parameter", key)

    return check


def _text(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    try:
        return check_text(value)
    except ValueError as exc:
        raise ApiError(422, "invalid_field", f"{field}: {exc}", field) from None


def _body_schema(model: type[BaseModel]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}},
        }
    }


@router.post(
    "/v1/experiments",
    summary="Register an experiment (create it, or add the variants it lacks)",
    openapi_extra=_body_schema(ExperimentIn),
    dependencies=[Depends(only())],
)
async def register(request: Request, response: Response, db: DatabaseDep, project: ProjectDep) -> Any:
    """201 with the definition when created; 200 when it existed (``notes`` name settings left as stored)."""
    spec = await _parse(request, ExperimentIn)
    definition, created, notes = await run_in_threadpool(experiments.register, db, project, spec.model_dump())
    response.status_code = 201 if created else 200
    return {**definition, "created": created, "notes": notes}


@router.get("/v1/experiments", summary="List experiments", dependencies=[Depends(only())])
async def list_experiments(db: DatabaseDep, project: ProjectDep) -> Any:
    return await run_in_threadpool(experiments.list_experiments, db, project)


@router.get("/v1/experiments/{name}", summary="One experiment's definition", dependencies=[Depends(only())])
async def get_experiment(name: NamePath, db: DatabaseDep, project: ProjectDep) -> Any:
    found = await run_in_threadpool(experiments.get_experiment, db, project, name)
    if found is None:
        raise ApiError(404, "not_found", f"no experiment named {name!r}", "name")
    return found


@router.patch(
    "/v1/experiments/{name}",
    summary="Change an experiment: add, pause or remove a variant, change the policy, stop, promote a winner",
    openapi_extra=_body_schema(ExperimentChange),
    dependencies=[Depends(only())],
)
async def change_experiment(name: NamePath, request: Request, db: DatabaseDep, project: ProjectDep) -> Any:
    change = await _parse(request, ExperimentChange)
    return await run_in_threadpool(
        experiments.update_experiment, db, project, name, change.model_dump(exclude_unset=True)
    )


@router.get(
    "/v1/experiments/{name}/state",
    summary="The probabilities choices sample from, overall and per segment",
    dependencies=[Depends(only("max_age"))],
)
async def state(
    name: NamePath,
    db: DatabaseDep,
    project: ProjectDep,
    max_age: Annotated[
        float, Query(ge=0, le=3600, description="seconds a cached state may be old; 0 recomputes it")
    ] = policy_state.STATE_TTL_SECONDS,
) -> Any:
    return await run_in_threadpool(lambda: policy_state.policy_state(db, project, name, max_age=max_age))


@router.get(
    "/v1/experiments/{name}/assign",
    summary="Choose a variant here (for apps in any language); the reply says which span attributes to set",
    dependencies=[Depends(only("segment", "unit"))],
)
async def assign(
    name: NamePath,
    db: DatabaseDep,
    project: ProjectDep,
    segment: Annotated[str | None, Query(min_length=1, max_length=200, description="the segment value")] = None,
    unit: Annotated[
        str | None, Query(min_length=1, max_length=200, description="the unit (user); sticky experiments keep it")
    ] = None,
) -> Any:
    segment, unit = _text(segment, "segment"), _text(unit, "unit")
    return await run_in_threadpool(lambda: policy_state.assign(db, project, name, segment=segment, unit=unit))


@router.post(
    "/v1/experiments/{name}/units",
    summary="Report sticky assignments made by an SDK; returns the stored ones (the first per unit wins)",
    openapi_extra=_body_schema(UnitsIn),
    dependencies=[Depends(only())],
)
async def units(name: NamePath, request: Request, db: DatabaseDep, project: ProjectDep) -> Any:
    body = await _parse(request, UnitsIn)
    items = [item.model_dump() for item in body.units]
    return await run_in_threadpool(policy_state.record_units, db, project, name, items)


@router.get(
    "/v1/experiments/{name}/report",
    summary="Traffic, scores with intervals, IPS estimates, probability of being best, regret, recommendation",
    dependencies=[Depends(only("from", "to", "bucket", "segments"))],
)
async def report(
    name: NamePath,
    db: DatabaseDep,
    project: ProjectDep,
    from_: Annotated[
        str | None, Query(alias="from", max_length=40, description="choices made at or after (ISO 8601 or unix s)")
    ] = None,
    to: Annotated[str | None, Query(max_length=40, description="choices made before (ISO 8601 or unix s)")] = None,
    bucket: Annotated[Literal["hour", "day"], Query(description="traffic share per hour or day")] = "day",
    segments: Annotated[int, Query(ge=0, le=1000, description="segments reported, the busiest first")] = 50,
) -> Any:
    return await run_in_threadpool(
        lambda: experiment_report.report(db, project, name, start=from_, end=to, bucket=bucket, segments=segments)
    )
