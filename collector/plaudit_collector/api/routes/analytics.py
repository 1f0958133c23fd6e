"""Analytics: which group of spans gets the best feedback, and is the difference real.

Every query parameter is typed here; dimensions are checked against a whitelist and every value
reaches SQL as a bound parameter.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from plaudit_collector import analytics
from plaudit_collector.analytics.core import Filters, check_group_by, parse_group, parse_pairs, parse_time
from plaudit_collector.api.deps import DatabaseDep, ProjectDep

router = APIRouter(tags=["analytics"])

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


@router.get("/v1/analytics/leaderboard", summary="Mean score per group, best first, with 95% intervals")
async def leaderboard(
    db: DatabaseDep,
    project: ProjectDep,
    filters: FiltersDep,
    score: Score,
    group_by: GroupBy = None,
    sort: Annotated[Literal["lower", "mean"], Query(description="rank by lower CI bound or by mean")] = "lower",
    min_count: Annotated[int, Query(ge=1, le=100_000, description="rated items a group needs to be ranked")] = 5,
    correction: Annotated[Literal["holm", "bh"], Query(description="multiple-comparison correction")] = "holm",
    health: Annotated[
        bool, Query(description="also report spans, coverage, error rate, latency, tokens and cost per group")
    ] = True,
    estimator: Estimator = "mean",
    human_source: HumanSource = "human",
    judge_source: JudgeSource = "llm_judge",
) -> dict[str, Any]:
    """Per group: ratings, mean, 95% interval (method named), spans, coverage, error rate, latency
    p50/p95, mean tokens and cost. ``leader`` is set only when the top group is separated from every other."""
    return await run_in_threadpool(
        analytics.leaderboard,
        db,
        project,
        score,
        check_group_by(group_by or ["variant"]),
        filters,
        sort=sort,
        min_count=min_count,
        correction=correction,
        health=health,
        estimator=estimator,
        human_source=human_source,
        judge_source=judge_source,
    )


@router.get("/v1/analytics/compare", summary="Group A against group B: difference, test, P(A better)")
async def compare(
    db: DatabaseDep,
    project: ProjectDep,
    filters: FiltersDep,
    score: Score,
    a: Annotated[list[str], Query(max_length=400, description="group A as dim=value; repeatable")],
    b: Annotated[list[str], Query(max_length=400, description="group B as dim=value, same dimensions as A")],
    test: Annotated[
        Literal["auto", "welch", "two-proportion", "mann-whitney"], Query(description="significance test")
    ] = "auto",
    estimator: Estimator = "mean",
    human_source: HumanSource = "human",
    judge_source: JudgeSource = "llm_judge",
) -> dict[str, Any]:
    """Difference of means with its 95% interval, the p-value of the fitting test (two-proportion z for
    yes/no, Welch t for numeric, Mann–Whitney for ordinal scales; a sign test for preferences) and the
    Bayesian probability that A beats B."""
    group_a, group_b = parse_group(a, "a"), parse_group(b, "b")
    return await run_in_threadpool(
        analytics.compare,
        db,
        project,
        score,
        group_a,
        group_b,
        filters,
        test=test,
        estimator=estimator,
        human_source=human_source,
        judge_source=judge_source,
    )


@router.get("/v1/analytics/preferences", summary="Pairwise preferences: win rates and Bradley–Terry ranking")
async def preferences(
    db: DatabaseDep, project: ProjectDep, filters: FiltersDep, score: Score, group_by: GroupBy = None
) -> dict[str, Any]:
    """Win score ((wins + ½ ties) / comparisons) per group with a Wilson interval, the head-to-head
    table, and Bradley–Terry strengths with 95% intervals from the Fisher information."""
    dims = check_group_by(group_by or ["variant"])
    return await run_in_threadpool(analytics.preferences, db, project, score, dims, filters)


@router.get("/v1/analytics/trend", summary="A score over time, per bucket and group")
async def trend(
    db: DatabaseDep,
    project: ProjectDep,
    filters: FiltersDep,
    score: Score,
    bucket: Annotated[
        Literal["hour", "day", "week"], Query(description="bucket width (UTC; weeks start Monday)")
    ] = "day",
    group_by: GroupBy = None,
    estimator: Estimator = "mean",
    human_source: HumanSource = "human",
    judge_source: JudgeSource = "llm_judge",
) -> dict[str, Any]:
    """Mean and interval per time bucket (by span start) and group, with a test against the group's
    previous bucket: did quality drop after Tuesday's deploy?"""
    dims = check_group_by(group_by or [])
    return await run_in_threadpool(
        analytics.trend,
        db,
        project,
        score,
        dims,
        filters,
        bucket=bucket,
        estimator=estimator,
        human_source=human_source,
        judge_source=judge_source,
    )


@router.get("/v1/analytics/agreement", summary="Do two raters (e.g. humans and an LLM judge) agree?")
async def agreement(
    db: DatabaseDep,
    project: ProjectDep,
    filters: FiltersDep,
    score: Annotated[
        list[str] | None, Query(max_length=200, description="feedback names (default: every name both raters used)")
    ] = None,
    by: Annotated[Literal["source", "author"], Query(description="what tells the two raters apart")] = "source",
    rater_a: Annotated[
        str, Query(min_length=1, max_length=200, description="first rater's source or author")
    ] = "human",
    rater_b: Annotated[
        str, Query(min_length=1, max_length=200, description="second rater's source or author")
    ] = "llm_judge",
) -> dict[str, Any]:
    """Per score name, over items both raters scored: Cohen's kappa with its interval (weighted kappa on
    ordinal scales), Spearman's rho and the confusion table."""
    return await run_in_threadpool(analytics.agreement, db, project, score, filters, by=by, a=rater_a, b=rater_b)


@router.get("/v1/analytics/segments", summary="Per-segment results: where does the overall winner lose?")
async def segments(
    db: DatabaseDep,
    project: ProjectDep,
    filters: FiltersDep,
    score: Score,
    segment: Annotated[str, Query(min_length=1, max_length=205, description="dimension to split by, e.g. user.id")],
    group_by: GroupBy = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="largest segments shown")] = 50,
    min_count: Annotated[int, Query(ge=1, le=100_000, description="rated items a group needs to be ranked")] = 5,
) -> dict[str, Any]:
    """The overall ranking, then each segment's ranking; a segment is flagged where the overall leader
    candidate scores below another group, with the test and its Holm-adjusted p across segments."""
    dims = check_group_by(group_by or ["variant"])
    check_group_by([segment], "segment")
    return await run_in_threadpool(
        analytics.segments, db, project, score, dims, segment, filters, limit=limit, min_count=min_count
    )
