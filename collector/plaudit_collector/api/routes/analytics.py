"""Analytics: which group of spans gets the best feedback, and is the difference real.

Every query parameter comes from the one vocabulary (:mod:`plaudit_collector.vocabulary`, parsed by
:mod:`..query_params`): dimensions are checked against a whitelist, every value reaches SQL as a bound
parameter, and a parameter a question does not take is a 422 naming it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool

from plaudit_collector import analytics, vocabulary
from plaudit_collector.analytics.core import check_group_by, parse_group
from plaudit_collector.api.deps import DatabaseDep, ProjectDep
from plaudit_collector.api.query_params import Asked, asked

router = APIRouter(tags=["analytics"])

RANKING = ("higher_is_better", "confidence")
PPI = ("estimator", "human_source", "judge_source")


def _dims(values: list[str] | None, default: list[str]) -> list[str]:
    return check_group_by(values or default)


@router.get("/v1/query-model", summary="The query vocabulary: every dimension, filter and option, per question")
def query_model(project: ProjectDep) -> dict[str, Any]:
    """What every door (REST, ``plaudit.Client``, the CLI, the dashboard) accepts, declared once (behind the
    same key as the data, like every route but the health check)."""
    return vocabulary.served()


@router.get("/v1/analytics/leaderboard", summary="Mean score per group, best first, with confidence intervals")
async def leaderboard(
    db: DatabaseDep, project: ProjectDep, q: Annotated[Asked, Depends(asked("leaderboard"))]
) -> dict[str, Any]:
    """Per group: ratings, mean, interval (method named), spans, coverage, error rate, latency p50/p95, mean
    tokens, cost and score per dollar. ``leader`` is set only when the top group is separated from every
    other, in the score's direction (stated in the answer)."""
    return await run_in_threadpool(
        analytics.leaderboard,
        db,
        project,
        q["score"],
        _dims(q["group_by"], ["variant"]),
        q.filters,
        **q.options("sort", "min_count", "correction", "health", *RANKING, *PPI),
    )


@router.get("/v1/analytics/compare", summary="Group A against group B: difference, test, P(A better)")
async def compare(
    db: DatabaseDep, project: ProjectDep, q: Annotated[Asked, Depends(asked("compare"))]
) -> dict[str, Any]:
    """Difference of means with its interval, the p-value of the fitting test (two-proportion z for yes/no,
    Welch t for numeric, Mann–Whitney for ordinal scales; a sign test for preferences) and the Bayesian
    probability that A beats B in the score's direction."""
    group_a, group_b = parse_group(q["a"], "a"), parse_group(q["b"], "b")
    return await run_in_threadpool(
        analytics.compare, db, project, q["score"], group_a, group_b, q.filters, **q.options("test", *RANKING, *PPI)
    )


@router.get("/v1/analytics/preferences", summary="Pairwise preferences: win rates and Bradley–Terry ranking")
async def preferences(
    db: DatabaseDep, project: ProjectDep, q: Annotated[Asked, Depends(asked("preferences"))]
) -> dict[str, Any]:
    """Win score ((wins + ½ ties) / comparisons) per group with a Wilson interval, the head-to-head
    table, and Bradley–Terry strengths with 95% intervals from the Fisher information."""
    dims = _dims(q["group_by"], ["variant"])
    return await run_in_threadpool(analytics.preferences, db, project, q["score"] or "preference", dims, q.filters)


@router.get("/v1/analytics/trend", summary="A score over time, per bucket and group")
async def trend(db: DatabaseDep, project: ProjectDep, q: Annotated[Asked, Depends(asked("trend"))]) -> dict[str, Any]:
    """Mean and interval per time bucket (by span start) and group, with a test against the group's
    previous bucket: did quality drop after Tuesday's deploy? ``better`` reads the change in the score's
    direction."""
    dims = check_group_by(q["group_by"] or [])
    return await run_in_threadpool(
        analytics.trend, db, project, q["score"], dims, q.filters, **q.options("bucket", "correction", *RANKING, *PPI)
    )


@router.get("/v1/analytics/agreement", summary="Do two raters (e.g. humans and an LLM judge) agree?")
async def agreement(
    db: DatabaseDep, project: ProjectDep, q: Annotated[Asked, Depends(asked("agreement"))]
) -> dict[str, Any]:
    """Per score name, over items both raters scored: Cohen's kappa with its interval (weighted kappa on
    ordinal scales), Spearman's rho and the confusion table."""
    options = q.options("by")
    options.update(a=q["rater_a"] or "human", b=q["rater_b"] or "llm_judge")
    return await run_in_threadpool(analytics.agreement, db, project, q["score"], q.filters, **options)


@router.get("/v1/analytics/segments", summary="Per-segment results: where does the overall winner lose?")
async def segments(
    db: DatabaseDep, project: ProjectDep, q: Annotated[Asked, Depends(asked("segments"))]
) -> dict[str, Any]:
    """The overall ranking, then each segment's ranking (its best only among groups with ``min_count``
    rated items); a segment is flagged where the overall leader candidate scores below another group,
    with the test and its adjusted p across segments."""
    dims = _dims(q["group_by"], ["variant"])
    check_group_by([q["segment"]], "segment")
    return await run_in_threadpool(
        analytics.segments,
        db,
        project,
        q["score"],
        dims,
        q["segment"],
        q.filters,
        **q.options("limit", "min_count", "correction", *RANKING),
    )
