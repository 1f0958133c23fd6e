"""Review queues: create one from a filter (or explicit items), see its progress, take the next item, rate it.

Every rating given through a queue is ordinary feedback (``source="annotator"``, ``author`` = the reviewer),
so every analysis counts it; a pairwise queue's verdicts are preferences.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.concurrency import run_in_threadpool

from plaudit_collector.analytics import review_sample
from plaudit_collector.api.deps import DatabaseDep, ProjectDep, SettingsDep, read_json
from plaudit_collector.errors import ApiError, validation_error
from plaudit_collector.schemas import MAX_TEXT, ScoreName, SpanId, TargetIn, TraceId, Value
from plaudit_collector.store import queue_work, queues

router = APIRouter(tags=["review queues"])

QueueId = Annotated[int, Path(ge=1, le=2**31 - 1)]
ItemId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _clean(value: Any) -> Any:
    """PostgreSQL stores neither NUL nor lone surrogates: refuse them here rather than fail at the write."""
    if not isinstance(value, str):
        return value
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (no lone surrogates)") from None
    return value


Clean = AfterValidator(_clean)
Reviewer = Annotated[str, Field(min_length=1, max_length=200), Clean]
Comment = Annotated[str, Field(max_length=MAX_TEXT), Clean]


class ItemIn(BaseModel):
    """An item named explicitly: a span (or, without ``span_id``, a trace); pairwise: ``a`` and ``b``."""

    model_config = ConfigDict(extra="forbid")

    trace_id: TraceId | None = None
    span_id: SpanId | None = None
    a: TargetIn | None = None
    b: TargetIn | None = None


class QueueIn(BaseModel):
    """A review queue: which spans (``filter`` or ``items``), which scores, how many, in which order, and
    how many different reviewers each item needs (``overlap``)."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200), Clean]
    kind: Literal["single", "pairwise"] = "single"
    filter: dict[str, Any] = Field(default_factory=dict, description="trace-search filters, e.g. {'where': 'model=m1'}")
    scores: list[Annotated[ScoreName, Clean]] = Field(
        default_factory=list, max_length=20, description="score names to fill"
    )
    sample: int | None = Field(default=None, ge=1, le=review_sample.MAX_ITEMS, description="null: every match")
    overlap: int = Field(default=1, ge=1, le=20, description="different reviewers per item")
    order: Literal["random", "oldest", "newest", "disagreement", "informative"] = Field(
        default="random",
        description="disagreement: judge-human disagreement on the first score first; informative: the spans whose "
        "human rating would narrow the judge-assisted leaderboard most first",
    )
    items: list[ItemIn] | None = Field(default=None, max_length=review_sample.MAX_ITEMS)
    reserve_seconds: int = Field(default=300, ge=10, le=24 * 3600, description="how long a reviewer holds an item")
    description: Annotated[str, Field(max_length=2000), Clean] | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("name must not be blank")
        return value.strip()


class SubmissionIn(BaseModel):
    """A reviewer's verdict on one item: ``ratings`` (single queues) or ``winner`` (pairwise), or a skip."""

    model_config = ConfigDict(extra="forbid")

    reviewer: Reviewer
    ratings: dict[Annotated[str, Field(max_length=200), Clean], Annotated[Value, Clean] | None] | None = Field(
        default=None, max_length=20
    )
    comment: Comment | None = None
    correction: Comment | None = None
    winner: Literal["a", "b", "tie"] | None = None
    skip: bool = False


def _parse(model: type[BaseModel], doc: Any) -> Any:
    if not isinstance(doc, dict):
        raise ApiError(422, "invalid_field", "body must be a JSON object", "body")
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        raise validation_error(exc) from None


def _explicit_targets(spec: QueueIn) -> list[queues.Target]:
    targets: list[queues.Target] = []
    for index, item in enumerate(spec.items or []):
        field = f"items[{index}]"
        if spec.kind == "pairwise":
            if item.a is None or item.b is None or item.trace_id is not None:
                raise ApiError(422, "invalid_field", f"{field}: a pairwise item is {{'a': ..., 'b': ...}}", field)
            sides = []
            for label, side in (("a", item.a), ("b", item.b)):
                try:
                    trace_id, span_id = side.ids()
                except ValueError as exc:
                    raise ApiError(422, "invalid_field", f"{field}.{label}: {exc}", f"{field}.{label}") from None
                if trace_id is None:
                    raise ApiError(422, "invalid_field", f"{field}.{label}: needs a trace_id", f"{field}.{label}")
                sides.append((trace_id, span_id))
            if sides[0] == sides[1]:
                raise ApiError(422, "invalid_field", f"{field}.b: the two sides must differ", f"{field}.b")
            targets.append((sides[0][0], sides[0][1], sides[1][0], sides[1][1]))
        else:
            if item.trace_id is None or item.a is not None or item.b is not None:
                raise ApiError(422, "invalid_field", f"{field}.trace_id: an item needs a trace_id", f"{field}.trace_id")
            targets.append((item.trace_id, item.span_id, None, None))
    return targets


@router.post("/v1/queues", status_code=201, summary="Create a review queue")
async def create_queue(request: Request, db: DatabaseDep, settings: SettingsDep, project: ProjectDep) -> Any:
    """Choose the items now (the spans matching ``filter``, sampled in ``order``; pairwise: pairs of spans
    with the same input from different variants) or take ``items`` as given. 422 when nothing matches."""
    spec: QueueIn = _parse(QueueIn, await read_json(request, settings.max_feedback_bytes))
    if spec.kind == "single" and not spec.scores:
        raise ApiError(422, "invalid_field", "scores: name at least one score to fill", "scores")
    if len(set(spec.scores)) != len(spec.scores):
        raise ApiError(422, "invalid_field", "scores: a score is named twice", "scores")
    if spec.kind == "pairwise" and len(spec.scores) > 1:
        raise ApiError(422, "invalid_field", "scores: a pairwise queue records one preference name", "scores")
    if spec.order in review_sample.RANKED and spec.kind == "pairwise":
        raise ApiError(422, "invalid_field", f"order: {spec.order} ranks single spans, not pairs", "order")
    checked = review_sample.check_filter(spec.filter)
    if spec.items is not None:
        targets = _explicit_targets(spec)
    elif spec.order in review_sample.RANKED:
        targets = await run_in_threadpool(
            review_sample.ranked_spans, db, project, checked, spec.sample, spec.order, spec.scores[0]
        )
    else:
        sampler = review_sample.sample_pairs if spec.kind == "pairwise" else review_sample.sample_spans
        targets = await run_in_threadpool(sampler, db, project, checked, spec.sample, spec.order)
    if not targets:
        what = "no two spans share an input across variants" if spec.kind == "pairwise" else "no span matches"
        raise ApiError(422, "empty_queue", f"filter: {what}; nothing to review", "filter")
    stored = spec.model_dump(exclude={"items"})
    stored["filter"] = checked
    if spec.kind == "pairwise" and not spec.scores:
        stored["scores"] = ["preference"]
    return await run_in_threadpool(queues.create_queue, db, project, stored, targets)


@router.get("/v1/queues", summary="Review queues with their progress")
async def list_queues(db: DatabaseDep, project: ProjectDep) -> Any:
    return await run_in_threadpool(queues.list_queues, db, project)


@router.get("/v1/queues/{queue_id}", summary="One review queue: progress overall and per reviewer")
async def get_queue(queue_id: QueueId, db: DatabaseDep, project: ProjectDep) -> Any:
    found = await run_in_threadpool(queues.get_queue, db, project, queue_id)
    if found is None:
        raise ApiError(404, "not_found", f"no review queue with id {queue_id}", "queue_id")
    return found


@router.delete("/v1/queues/{queue_id}", status_code=204, summary="Remove a review queue (its feedback stays)")
async def delete_queue(queue_id: QueueId, db: DatabaseDep, project: ProjectDep) -> None:
    if not await run_in_threadpool(queues.delete_queue, db, project, queue_id):
        raise ApiError(404, "not_found", f"no review queue with id {queue_id}", "queue_id")


@router.get(
    "/v1/queues/{queue_id}/next",
    summary="Reserve the next item for a reviewer",
    responses={204: {"description": "nothing left for this reviewer"}},
)
async def next_item(
    queue_id: QueueId,
    db: DatabaseDep,
    project: ProjectDep,
    reviewer: Annotated[str, Query(min_length=1, max_length=200, description="who reviews")],
) -> Any:
    """An item this reviewer has not rated or skipped, held for them for ``reserve_seconds``; asking again
    while holding it returns the same item. 204 when nothing is left for them."""
    if not reviewer.strip():
        raise ApiError(422, "invalid_field", "reviewer: must not be blank", "reviewer")
    item = await run_in_threadpool(queue_work.next_item, db, project, queue_id, reviewer.strip())
    return Response(status_code=204) if item is None else item


@router.post("/v1/queues/{queue_id}/items/{item_id}", summary="Rate (or skip) an item")
async def submit(
    queue_id: QueueId, item_id: ItemId, request: Request, db: DatabaseDep, settings: SettingsDep, project: ProjectDep
) -> Any:
    """``{"reviewer", "ratings": {"score": value}, "comment", "correction"}``, or ``{"reviewer", "winner":
    "a"|"b"|"tie"}`` in a pairwise queue (``a``/``b`` as the next item showed them), or ``{"reviewer",
    "skip": true}``. Stored as feedback with ``source="annotator"``; the reply lists the feedback ids."""
    sub: SubmissionIn = _parse(SubmissionIn, await read_json(request, settings.max_feedback_bytes))
    reviewer = sub.reviewer.strip()
    if not reviewer:
        raise ApiError(422, "invalid_field", "reviewer: must not be blank", "reviewer")
    if sub.skip and (sub.ratings or sub.winner):
        raise ApiError(422, "invalid_field", "skip: a skip carries no ratings or winner", "skip")
    return await run_in_threadpool(
        lambda: queue_work.submit(
            db,
            project,
            queue_id,
            item_id,
            reviewer,
            ratings={k: v for k, v in (sub.ratings or {}).items() if v is not None},
            comment=sub.comment or None,
            correction=sub.correction or None,
            winner=sub.winner,
            skip=sub.skip,
        )
    )
