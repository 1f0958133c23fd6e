"""Judges against humans: the judge report, agreement among any number of raters, the disagreement list and
the informative ordering (what a review queue asks humans to rate next)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from plaudit_collector.analytics.core import Filters, check_group_by, parse_pairs, parse_time
from plaudit_collector.analytics.informative import informative
from plaudit_collector.analytics.judge_report import judge_report
from plaudit_collector.analytics.raters import agreement_k, disagreements
from plaudit_collector.api.deps import DatabaseDep, ProjectDep

router = APIRouter(tags=["judges"])

Source = Literal["human", "end_user", "annotator", "llm_judge", "code"]
Text = Annotated[str, Query(min_length=1, max_length=200)]


def filters_dep(
    from_: Annotated[
        str | None, Query(alias="from", max_length=40, description="spans started at or after (ISO 8601 or unix s)")
    ] = None,
    to: Annotated[str | None, Query(max_length=40, description="spans started before (ISO 8601 or unix s)")] = None,
    span_name: Annotated[list[str] | None, Query(max_length=1000, description="only spans with this name")] = None,
    span_kind: Annotated[
        list[str] | None, Query(max_length=32, description="only spans of this kind (llm, ...)")
    ] = None,
    tag: Annotated[list[str] | None, Query(max_length=200, description="only spans carrying this tag")] = None,
    metadata: Annotated[
        list[str] | None, Query(max_length=400, description="key=value: only spans with plaudit.metadata.<key>=value")
    ] = None,
    where: Annotated[
        list[str] | None, Query(max_length=400, description="dim=value: only spans in this group, e.g. model=gpt-4o")
    ] = None,
    source: Annotated[list[Source] | None, Query(description="only feedback from this source; repeatable")] = None,
) -> Filters:
    """The filters every analytics and export route accepts."""
    return Filters(
        start_ns=parse_time(from_, "from"),
        end_ns=parse_time(to, "to"),
        span_names=tuple(span_name or ()),
        span_kinds=tuple(span_kind or ()),
        tags=tuple(tag or ()),
        metadata=parse_pairs(metadata, "metadata"),
        where=tuple((k, v or None) for k, v in parse_pairs(where, "where")),
        sources=tuple(source or ()),
    )


FiltersDep = Annotated[Filters, Depends(filters_dep)]
GroupBy = Annotated[
    list[str] | None,
    Query(
        max_length=205,
        description="model, provider, prompt.name, prompt.version, config.hash, variant, user.id, "
        "session.id, span.name, span.kind, service.name or attr.<key>; repeatable",
    ),
]
Score = Annotated[str, Query(min_length=1, max_length=200, description="feedback name, e.g. thumbs")]
Estimator = Annotated[
    Literal["mean", "ppi"],
    Query(description="mean of the ratings, or ppi: judge ratings corrected by human ones (PPI++)"),
]
HumanSource = Annotated[Source, Query(description="estimator=ppi: the source of the trusted ratings")]
JudgeSource = Annotated[Source, Query(description="estimator=ppi: the source of the judge ratings")]

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
