"""Judges against humans: the judge report, agreement among any number of raters, the disagreement list and
the informative ordering (what a review queue asks humans to rate next)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from plaudit_collector.analytics.core import check_group_by
from plaudit_collector.analytics.informative import informative
from plaudit_collector.analytics.judge_report import judge_report
from plaudit_collector.analytics.raters import agreement_k, disagreements
from plaudit_collector.api.deps import DatabaseDep, ProjectDep
from plaudit_collector.api.routes.analytics import FiltersDep, GroupBy, HumanSource, JudgeSource, Score

router = APIRouter(tags=["judges"])

Bootstrap = Annotated[int, Query(ge=0, le=10_000, description="bootstrap draws for alpha's interval (0: none)")]
Limit = Annotated[int, Query(ge=1, le=1000, description="most items returned")]


@router.get("/v1/analytics/judges", summary="How far to trust each judge: its ratings against the humans'")
async def judges(
    db: DatabaseDep,
    project: ProjectDep,
    filters: FiltersDep,
    score: Score,
    group_by: GroupBy = None,
    human_source: HumanSource = "human",
    judge_source: JudgeSource = "llm_judge",
    bootstrap: Bootstrap = 1000,
) -> dict[str, Any]:
    """Per judge: bias (judge − human) with its interval, Pearson, Spearman, kappa, alpha, the confusion table
    and the bias per group (flagged where it differs between groups)."""
    dims = check_group_by(group_by or ["variant"])
    return await run_in_threadpool(
        judge_report,
        db,
        project,
        score,
        filters,
        group_by=dims,
        human_source=human_source,
        judge_source=judge_source,
        bootstrap=bootstrap,
    )


@router.get("/v1/analytics/alpha", summary="Agreement among any number of raters (Krippendorff's alpha)")
async def alpha(
    db: DatabaseDep,
    project: ProjectDep,
    filters: FiltersDep,
    score: Score,
    raters: Annotated[Literal["humans", "judges", "all"], Query(description="which raters count")] = "all",
    level: Annotated[Literal["nominal", "ordinal", "interval"], Query(description="level of measurement")] = "interval",
    bootstrap: Bootstrap = 1000,
) -> dict[str, Any]:
    """Alpha with a bootstrap 95% interval, and each rater against the human consensus."""
    return await run_in_threadpool(
        agreement_k, db, project, score, filters, raters=raters, level=level, bootstrap=bootstrap
    )


@router.get("/v1/analytics/disagreements", summary="Items where raters differ most")
async def disagreement_list(
    db: DatabaseDep,
    project: ProjectDep,
    filters: FiltersDep,
    score: Score,
    mode: Annotated[
        Literal["judge_vs_human", "raters"], Query(description="judge mean vs human mean, or spread among all raters")
    ] = "judge_vs_human",
    limit: Limit = 100,
) -> dict[str, Any]:
    """Most-disputed items first, each with its target ids and every rater's rating."""
    return await run_in_threadpool(disagreements, db, project, score, filters, mode=mode, limit=limit)


@router.get("/v1/analytics/informative", summary="Spans whose human rating would shrink the uncertainty most")
async def informative_list(
    db: DatabaseDep,
    project: ProjectDep,
    filters: FiltersDep,
    score: Score,
    group_by: GroupBy = None,
    human_source: HumanSource = "human",
    judge_source: JudgeSource = "llm_judge",
    limit: Limit = 50,
) -> dict[str, Any]:
    """Judge-rated spans without a human rating, in groups still in contention for the lead, most useful first."""
    dims = check_group_by(group_by or ["variant"])
    return await run_in_threadpool(
        informative,
        db,
        project,
        score,
        dims,
        filters,
        human_source=human_source,
        judge_source=judge_source,
        limit=limit,
    )
