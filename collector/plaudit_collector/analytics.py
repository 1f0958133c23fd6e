"""Leaderboard: mean feedback per group of spans, with intervals, in SQL; statistics on the aggregates."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, func, literal, select, union_all

from plaudit_collector import stats
from plaudit_collector.db import Database
from plaudit_collector.errors import ApiError
from plaudit_collector.tables import Feedback, Span

DIMENSIONS: dict[str, Any] = {
    "model": Span.model,
    "provider": Span.provider,
    "prompt.name": Span.prompt_name,
    "prompt.version": Span.prompt_version,
    "config.hash": Span.config_hash,
    "variant": Span.variant,
    "user.id": Span.user_id,
    "session.id": Span.session_id,
    "span.name": Span.name,
    "span.kind": Span.span_kind,
    "service.name": Span.service_name,
}
"""Whitelisted dimensions; ``attr.<key>`` reads a span attribute, its key bound as a parameter."""

MAX_GROUP_BY = 4


def dimension(name: str) -> ColumnElement[Any]:
    if name in DIMENSIONS:
        return DIMENSIONS[name]  # type: ignore[no-any-return]
    if name.startswith("attr.") and 0 < len(name) - 5 <= 200:
        return Span.attributes[name[5:]].as_string()  # type: ignore[index,no-any-return]
    allowed = ", ".join([*DIMENSIONS, "attr.<key>"])
    raise ApiError(
        422, "invalid_field", f"group_by: unknown dimension {name[:100]!r}; use one of {allowed}", "group_by"
    )


def _score_method(db: Database, project: str, score: str) -> str:
    with db.engine.connect() as conn:
        kinds = set(
            conn.execute(
                select(Feedback.kind)
                .where(Feedback.project == project, Feedback.name == score, Feedback.score.is_not(None))  # type: ignore[union-attr]
                .distinct()
            ).scalars()
        )
    return "wilson" if kinds == {"boolean"} else "t"


def leaderboard(
    db: Database, project: str, score: str, group_by: list[str], source: str | None = None
) -> dict[str, Any]:
    """Groups best first. ``leader`` names the top group only when it is separated from every other
    group (Holm-adjusted tests at 95%); otherwise ``verdict`` says why not and roughly how many more
    ratings per group would tell."""
    if not group_by:
        group_by = ["variant"]
    if len(group_by) > MAX_GROUP_BY:
        raise ApiError(422, "invalid_field", f"group_by: at most {MAX_GROUP_BY} dimensions", "group_by")
    dims = [dimension(name).label(f"d{i}") for i, name in enumerate(group_by)]
    conditions = [
        Feedback.project == project,
        Feedback.name == score,
        Feedback.is_current.is_(True),  # type: ignore[attr-defined]
        Feedback.score.is_not(None),  # type: ignore[union-attr]
    ]
    if source:
        conditions.append(Feedback.source == source)
    span_level = (
        select(*dims, Feedback.score.label("score"))  # type: ignore[attr-defined]
        .select_from(Span)
        .join(
            Feedback,
            and_(
                Feedback.project == Span.project, Feedback.trace_id == Span.trace_id, Feedback.span_id == Span.span_id
            ),
        )
        .where(Span.project == project, *conditions)
    )
    trace_level = (
        select(*dims, Feedback.score.label("score"))  # type: ignore[attr-defined]
        .select_from(Span)
        .join(
            Feedback,
            and_(
                Feedback.project == Span.project,
                Feedback.trace_id == Span.trace_id,
                Feedback.span_id.is_(None),  # type: ignore[union-attr]
                Span.parent_span_id.is_(None),  # type: ignore[union-attr]
            ),
        )
        .where(Span.project == project, *conditions)
    )
    rated = union_all(span_level, trace_level).subquery()
    keys = [rated.c[f"d{i}"] for i in range(len(dims))]
    agg = select(
        *keys,
        func.count(rated.c.score).label("n"),
        func.sum(rated.c.score).label("total"),
        func.sum(rated.c.score * rated.c.score).label("total_sq"),
    ).group_by(*keys)
    span_dims = [dimension(name).label(f"d{i}") for i, name in enumerate(group_by)]
    span_counts = select(*span_dims, func.count(literal(1)).label("spans")).where(Span.project == project)
    span_counts = span_counts.group_by(*[c for c in span_dims])
    with db.engine.connect() as conn:
        groups = conn.execute(agg).all()
        counts = {tuple(row[: len(dims)]): int(row.spans) for row in conn.execute(span_counts).all()}
    method = _score_method(db, project, score)
    rows = []
    for row in groups:
        key = tuple(row[: len(dims)])
        summary = stats.Summary(int(row.n), float(row.total or 0.0), float(row.total_sq or 0.0))
        low, high = stats.interval(summary, method)
        rows.append(
            {
                "group": dict(zip(group_by, key, strict=True)),
                "count": summary.n,
                "mean": summary.mean,
                "ci_low": low,
                "ci_high": high,
                "spans": counts.get(key, 0),
                "method": method,
                "_summary": summary,
            }
        )
    rows.sort(key=lambda r: (-(r["mean"] if r["mean"] is not None else float("-inf")), -(r["ci_low"] or 0.0)))
    leader, verdict, needed = _verdict(rows, method)
    for row in rows:
        row.pop("_summary")
    return {
        "score": score,
        "group_by": group_by,
        "method": method,
        "confidence": stats.CONFIDENCE,
        "rows": rows,
        "leader": leader,
        "verdict": verdict,
        "needed_per_group": needed,
    }


def _verdict(rows: list[dict[str, Any]], method: str) -> tuple[dict[str, Any] | None, str, int | None]:
    if not rows:
        return None, "no feedback yet for this score", None
    if len(rows) == 1:
        return None, "only one group has feedback: nothing to compare", None
    best = rows[0]["_summary"]
    raw = [stats.p_value(best, row["_summary"], method) for row in rows[1:]]
    adjusted = stats.holm(raw)
    for row, p in zip(rows[1:], adjusted, strict=True):
        row["p_vs_leader"] = p
    rows[0]["p_vs_leader"] = None
    if all(p < stats.ALPHA for p in adjusted):
        return rows[0]["group"], "leader separated from every other group (Holm-adjusted p < 0.05)", None
    needed = stats.needed_per_group(best, rows[1]["_summary"], method)
    runner = rows[1]["group"]
    text = f"no clear leader: the top group is not separated from {runner} (Holm-adjusted p = {adjusted[0]:.3g})"
    if needed is not None:
        text += f"; about {needed} ratings per group would tell a difference this size"
    return None, text, needed
