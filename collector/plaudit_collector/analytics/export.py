"""Streaming exports (one JSON object per line): spans with feedback, a fine-tuning set, preference pairs.

Rows are streamed from a server-side cursor (PostgreSQL) or SQLite's lazy cursor, so an export of any
size runs in constant memory. Feedback is credited as in the analytics (trace-level → root span). The
fine-tuning set and the rating pairs follow the score's direction (see :mod:`.direction`).

Rating pairs: the rated spans are grouped by (input, output) in SQL, so each distinct output of an input
is one candidate (its score the mean over its spans) and a pair never has the same text on both sides;
the groups arrive sorted by input, and each input yields, in one pass, either its best against its worst
candidate (``pairs=best_worst``, the default) or every pair whose margin exceeds ``min_margin``, widest
margin first, at most ``max_pairs`` of them (``pairs=all``). Time is linear in the rated spans (after
the database's sort), memory bounded by the candidates of one input.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Select, func, literal, select, union, union_all

from plaudit_collector.analytics.core import (
    FEEDBACK,
    SPAN,
    Filters,
    connect,
    credit_joins,
    feedback_conditions,
    span_conditions,
)
from plaudit_collector.analytics.direction import Direction, resolve
from plaudit_collector.analytics.preferences import pair_rows
from plaudit_collector.ingest.content import full as full_attributes
from plaudit_collector.store.db import Database

PAGE = 500
SPAN_COLUMNS = (
    "trace_id",
    "span_id",
    "parent_span_id",
    "name",
    "span_kind",
    "status_code",
    "duration_ms",
    "service_name",
    "model",
    "provider",
    "input_tokens",
    "output_tokens",
    "prompt_name",
    "prompt_version",
    "config_hash",
    "variant",
    "user_id",
    "session_id",
    "input",
    "output",
)
FEEDBACK_COLUMNS = ("id", "name", "kind", "score", "label", "value", "comment", "correction", "source", "author")


def jsonl(rows: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    """Encode dicts as JSON lines, a page of lines per chunk."""
    chunk: list[str] = []
    for row in rows:
        chunk.append(json.dumps(row, ensure_ascii=False, default=_default))
        if len(chunk) >= PAGE:
            yield ("\n".join(chunk) + "\n").encode()
            chunk = []
    if chunk:
        yield ("\n".join(chunk) + "\n").encode()


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    return str(value)


def _stream(db: Database, query: Select[Any]) -> Iterator[Any]:
    with connect(db) as conn:
        result = conn.execution_options(yield_per=PAGE).execute(query)
        yield from result


def _credited(project: str, names: list[str] | None, filters: Filters, *, scored: bool, extra: list[Any]) -> Any:
    """Subquery ``sid, fid, score, correction``: feedback credited to span rows (trace-level → root)."""
    s, f = SPAN, FEEDBACK
    terms = [*feedback_conditions(project, names, filters, scored=scored), s.c.project == project, *extra]
    cols = [s.c.id.label("sid"), f.c.id.label("fid"), f.c.score.label("score"), f.c.correction.label("correction")]
    return union_all(
        *[
            select(*cols).select_from(f.join(s, on)).where(*terms, *where)
            for on, where in credit_joins(s, f.c.trace_id, f.c.span_id)
        ]
    ).subquery("credited")


def export_spans(db: Database, project: str, filters: Filters, score: str | None = None) -> Iterator[dict[str, Any]]:
    """Each span that has current feedback (of ``score`` when given), with that feedback as a list."""
    s, f = SPAN, FEEDBACK
    columns = [
        s.c.id.label("row_id"),
        *[s.c[c] for c in SPAN_COLUMNS],
        s.c.start_ns,
        s.c.attributes,
        *[f.c[c].label(f"f_{c}") for c in FEEDBACK_COLUMNS],
        f.c.metadata.label("f_metadata"),
        f.c.target_type.label("f_target_type"),
        f.c.other_trace_id.label("f_other_trace_id"),
        f.c.other_span_id.label("f_other_span_id"),
        f.c.created_at.label("f_created_at"),
    ]
    terms = [
        *feedback_conditions(project, [score] if score else None, filters, scored=False),
        s.c.project == project,
        *span_conditions(filters, s, db.dialect),
    ]
    rows = union_all(
        *[
            select(*columns).select_from(f.join(s, on)).where(*terms, *where)
            for on, where in credit_joins(s, f.c.trace_id, f.c.span_id)
        ]
    ).subquery("rows")
    query = select(rows).order_by(rows.c.row_id, rows.c.f_id)
    current: dict[str, Any] | None = None
    current_id = None
    for row in _stream(db, query):
        if row.row_id != current_id:
            if current is not None:
                yield current
            current_id = row.row_id
            current = {c: getattr(row, c) for c in SPAN_COLUMNS}
            current["start_time"] = datetime.fromtimestamp(row.start_ns / 1e9, tz=timezone.utc)
            current["attributes"] = full_attributes(row.attributes, row.input, row.output)
            current["feedback"] = []
        assert current is not None
        item = {c: getattr(row, f"f_{c}") for c in FEEDBACK_COLUMNS}
        item.update(
            metadata=row.f_metadata,
            target_type=row.f_target_type,
            created_at=row.f_created_at,
        )
        if row.f_other_trace_id:
            item.update(other_trace_id=row.f_other_trace_id, other_span_id=row.f_other_span_id)
        current["feedback"].append(item)
    if current is not None:
        yield current


def _span_means(project: str, score: str, filters: Filters) -> Any:
    """Per span: the mean of its current ``score`` ratings and how many raters gave it."""
    rated = _credited(project, [score], filters, scored=True, extra=[])
    return (
        select(rated.c.sid, func.avg(rated.c.score).label("m"), func.count().label("raters"))
        .group_by(rated.c.sid)
        .subquery("means")
    )


def _latest_corrections(project: str, filters: Filters) -> Any:
    f = FEEDBACK
    fixed = _credited(project, None, filters, scored=False, extra=[f.c.correction.is_not(None)])
    latest = select(fixed.c.sid, func.max(fixed.c.fid).label("fid")).group_by(fixed.c.sid).subquery("latest")
    return (
        select(latest.c.sid, f.c.correction).select_from(latest.join(f, f.c.id == latest.c.fid)).subquery("corrections")
    )


def _messages(prompt: str | None, answer: str | None) -> list[dict[str, Any]]:
    """Chat messages: a captured message list is kept as is; plain text becomes one user turn."""
    messages: list[dict[str, Any]] = []
    if prompt:
        try:
            parsed = json.loads(prompt)
        except ValueError:
            parsed = None
        if isinstance(parsed, list) and parsed and all(isinstance(m, dict) and "role" in m for m in parsed):
            messages.extend(parsed)
        else:
            messages.append({"role": "user", "content": prompt})
    messages.append({"role": "assistant", "content": answer})
    return messages


def export_finetune(
    db: Database,
    project: str,
    filters: Filters,
    *,
    score: str | None,
    min_score: float | None = None,
    corrections: bool = True,
    fmt: str = "chat",
    higher_is_better: bool | None = None,
) -> Iterator[dict[str, Any]]:
    """Examples to fine-tune on: spans whose mean ``score`` is at least ``min_score`` (at most, when lower is
    better), and (with ``corrections``) every span a user corrected, its output replaced by the latest
    correction."""
    s = SPAN
    direction = resolve(db, project, score, higher_is_better)
    parts = []
    means = _span_means(project, score, filters) if score else None
    fixes = _latest_corrections(project, filters) if corrections else None
    if means is not None:
        chosen = select(means.c.sid)
        if min_score is not None:
            chosen = chosen.where(means.c.m >= min_score if direction.higher_is_better else means.c.m <= min_score)
        parts.append(chosen)
    if fixes is not None:
        parts.append(select(fixes.c.sid))
    if not parts:
        return
    ids = (union(*parts) if len(parts) > 1 else parts[0]).subquery("ids")
    columns = [s.c.id, s.c.trace_id, s.c.span_id, s.c.input, s.c.output, s.c.model, s.c.prompt_name]
    columns += [s.c.prompt_version, s.c.variant]
    query = select(*columns).select_from(s.join(ids, ids.c.sid == s.c.id))
    if means is not None:
        query = query.add_columns(means.c.m, means.c.raters).outerjoin(means, means.c.sid == s.c.id)
    if fixes is not None:
        query = query.add_columns(fixes.c.correction).outerjoin(fixes, fixes.c.sid == s.c.id)
    query = query.where(s.c.project == project, *span_conditions(filters, s, db.dialect)).order_by(s.c.id)
    for row in _stream(db, query):
        correction = getattr(row, "correction", None)
        output = correction if correction is not None else row.output
        meta = {
            "trace_id": row.trace_id,
            "span_id": row.span_id,
            "score": getattr(row, "m", None),
            "raters": getattr(row, "raters", None),
            "corrected": correction is not None,
            "model": row.model,
            "prompt_name": row.prompt_name,
            "prompt_version": row.prompt_version,
            "variant": row.variant,
        }
        if fmt == "chat":
            yield {"messages": _messages(row.input, output), "metadata": meta}
        else:
            yield {"input": row.input, "output": output, "original_output": row.output, **meta}


def export_preference_pairs(
    db: Database,
    project: str,
    filters: Filters,
    *,
    preference: str | None = None,
    score: str | None = None,
    min_margin: float = 0.0,
    pairs: str = "best_worst",
    max_pairs: int = 10,
    higher_is_better: bool | None = None,
) -> Iterator[dict[str, Any]]:
    """Chosen/rejected pairs for reward models and DPO: from pairwise feedback named ``preference`` (ties
    and pairs of identical texts skipped), then from rated spans with the same input (see the module
    docstring): distinct outputs whose mean ``score`` differs by more than ``min_margin``."""
    if preference:
        pairs = pair_rows(
            project, preference, [], filters, db.dialect, extra=["trace_id", "span_id", "input", "output"]
        )
        query = select(pairs).where(pairs.c.label.in_(("a", "b"))).order_by(pairs.c.fid)
        for row in _stream(db, query):
            a_side = {"output": row.a_output, "trace_id": row.a_trace_id, "span_id": row.a_span_id}
            b_side = {"output": row.b_output, "trace_id": row.b_trace_id, "span_id": row.b_span_id}
            won, lost = (a_side, b_side) if row.label == "a" else (b_side, a_side)
            if won["output"] == lost["output"]:
                continue  # nothing to learn from a pair of identical answers
            yield {
                "prompt": row.a_input,
                "chosen": won["output"],
                "rejected": lost["output"],
                "origin": "preference",
                "name": preference,
                "chosen_ref": {"trace_id": won["trace_id"], "span_id": won["span_id"]},
                "rejected_ref": {"trace_id": lost["trace_id"], "span_id": lost["span_id"]},
                "feedback_id": row.fid,
            }
    if score:
        direction = resolve(db, project, score, higher_is_better)
        yield from _rating_pairs(db, project, filters, score, direction, min_margin, pairs, max_pairs)


def _rating_pairs(
    db: Database,
    project: str,
    filters: Filters,
    score: str,
    direction: Direction,
    min_margin: float,
    pairs: str,
    max_pairs: int,
) -> Iterator[dict[str, Any]]:
    s = SPAN
    means = _span_means(project, score, filters)
    ref = func.min(s.c.trace_id + literal(":") + s.c.span_id)
    query = (
        select(s.c.input, s.c.output, func.avg(means.c.m).label("m"), ref.label("ref"))
        .select_from(means.join(s, s.c.id == means.c.sid))
        .where(
            s.c.project == project,
            s.c.input.is_not(None),
            s.c.output.is_not(None),
            *span_conditions(filters, s, db.dialect),
        )
        .group_by(s.c.input, s.c.output)
        .order_by(s.c.input)
    )
    current: Any = None
    candidates: list[tuple[float, str, str]] = []
    for row in _stream(db, query):
        if row.input != current:
            yield from _pairs_of(current, candidates, score, direction, min_margin, pairs, max_pairs)
            current, candidates = row.input, []
        candidates.append((float(row.m), row.output, row.ref))
    yield from _pairs_of(current, candidates, score, direction, min_margin, pairs, max_pairs)


def _pairs_of(
    prompt: str | None,
    candidates: list[tuple[float, str, str]],
    score: str,
    direction: Direction,
    min_margin: float,
    pairs: str,
    max_pairs: int,
) -> Iterator[dict[str, Any]]:
    """The pairs of one input's distinct outputs (``(score, output, "trace:span")``), best side first."""
    if len(candidates) < 2:
        return
    ranked = sorted(candidates, key=lambda c: -direction.good(c[0]))
    if pairs == "best_worst":
        chosen_pairs = [(ranked[0], ranked[-1])]
    else:
        every = [(a, b) for i, a in enumerate(ranked) for b in ranked[i + 1 :]]
        every.sort(key=lambda pair: -abs(pair[0][0] - pair[1][0]))
        chosen_pairs = every
    emitted = 0
    for won, lost in chosen_pairs:
        margin = abs(won[0] - lost[0])
        if emitted >= max_pairs or not margin > min_margin or not direction.better(won[0], lost[0]):
            break
        emitted += 1
        yield {
            "prompt": prompt,
            "chosen": won[1],
            "rejected": lost[1],
            "origin": "ratings",
            "name": score,
            "chosen_score": won[0],
            "rejected_score": lost[0],
            "margin": margin,
            "higher_is_better": direction.higher_is_better,
            "chosen_ref": _ref(won[2]),
            "rejected_ref": _ref(lost[2]),
        }


def _ref(value: str) -> dict[str, str]:
    trace_id, _, span_id = value.partition(":")
    return {"trace_id": trace_id, "span_id": span_id}
