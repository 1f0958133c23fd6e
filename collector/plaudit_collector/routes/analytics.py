"""Analytics: which group of spans gets the best feedback, and is the difference real."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from plaudit_collector import analytics
from plaudit_collector.deps import DatabaseDep, ProjectDep

router = APIRouter(tags=["analytics"])

Source = Literal["human", "end_user", "annotator", "llm_judge", "code"]


@router.get("/v1/analytics/leaderboard", summary="Mean score per group, best first, with 95% intervals")
async def leaderboard(
    db: DatabaseDep,
    project: ProjectDep,
    score: Annotated[str, Query(min_length=1, max_length=200, description="feedback name, e.g. thumbs")],
    group_by: Annotated[
        list[str] | None, Query(description="model, prompt.version, variant, ... or attr.<key>; repeatable")
    ] = None,
    source: Annotated[Source | None, Query(description="only feedback from this source")] = None,
) -> dict[str, Any]:
    return await run_in_threadpool(analytics.leaderboard, db, project, score, group_by or ["variant"], source)
