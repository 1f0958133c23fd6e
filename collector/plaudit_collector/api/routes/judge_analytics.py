"""Judges against humans: the judge report, agreement among any number of raters, the disagreement list and
the informative ordering (what a review queue asks humans to rate next).

Query parameters come from the one vocabulary (:mod:`plaudit_collector.vocabulary`, parsed by
:mod:`..query_params`) like every analytics route: the shared filters work here too, and a parameter a
question does not take is a 422 naming it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool

from plaudit_collector.analytics.core import check_group_by
from plaudit_collector.analytics.informative import informative
from plaudit_collector.analytics.judge_report import judge_report
from plaudit_collector.analytics.raters import agreement_k, disagreements
from plaudit_collector.api.deps import DatabaseDep, ProjectDep
from plaudit_collector.api.query_params import Asked, asked

router = APIRouter(tags=["judges"])

SOURCES = ("human_source", "judge_source")


@router.get("/v1/analytics/judges", summary="How far to trust each judge: its ratings against the humans'")
async def judges(
    db: DatabaseDep, project: ProjectDep, q: Annotated[Asked, Depends(asked("judge_report"))]
) -> dict[str, Any]:
    """Per judge: bias (judge − human) with its interval, Pearson, Spearman, kappa, alpha, the confusion table
    and the bias per group (flagged where it differs between groups)."""
    dims = check_group_by(q["group_by"] or ["variant"])
    return await run_in_threadpool(
        judge_report, db, project, q["score"], q.filters, group_by=dims, **q.options(*SOURCES, "bootstrap")
    )


@router.get("/v1/analytics/alpha", summary="Agreement among any number of raters (Krippendorff's alpha)")
async def alpha(db: DatabaseDep, project: ProjectDep, q: Annotated[Asked, Depends(asked("alpha"))]) -> dict[str, Any]:
    """Alpha with a bootstrap 95% interval, and each rater against the human consensus."""
    return await run_in_threadpool(
        agreement_k, db, project, q["score"], q.filters, **q.options("raters", "level", "bootstrap")
    )


@router.get("/v1/analytics/disagreements", summary="Items where raters differ most")
async def disagreement_list(
    db: DatabaseDep, project: ProjectDep, q: Annotated[Asked, Depends(asked("disagreements"))]
) -> dict[str, Any]:
    """Most-disputed items first, each with its target ids and every rater's rating."""
    return await run_in_threadpool(disagreements, db, project, q["score"], q.filters, **q.options("mode", "limit"))


@router.get("/v1/analytics/informative", summary="Spans whose human rating would shrink the uncertainty most")
async def informative_list(
    db: DatabaseDep, project: ProjectDep, q: Annotated[Asked, Depends(asked("informative"))]
) -> dict[str, Any]:
    """Judge-rated spans without a human rating, in groups still in contention for the lead (in the score's
    direction), most useful first."""
    dims = check_group_by(q["group_by"] or ["variant"])
    options = q.options(*SOURCES, "higher_is_better", "limit")
    return await run_in_threadpool(informative, db, project, q["score"], dims, q.filters, **options)
