"""Which spans a review queue holds: the spans matching a filter (the query vocabulary, as a JSON object),
sampled in the queue's order; for a pairwise queue, pairs of spans with the same input from different variants.
Two orders put the spans where a human rating is worth most first: ``disagreement`` (judge and humans differ
most on the queue's first score, :func:`.raters.disagreements`) and ``informative`` (a human rating would narrow
the judge-assisted leaderboard most, :mod:`.informative`); the other matching spans follow, newest first.

The choice is made once, when the queue is created: a queue is a fixed list, so its progress means something.
"""

from __future__ import annotations

import difflib
import random
from typing import Any

from sqlalchemy import ColumnElement, func, select

from plaudit_collector.analytics.core import SPAN, Filters, parse_pairs, parse_time, span_conditions
from plaudit_collector.analytics.informative import informative
from plaudit_collector.analytics.raters import disagreements
from plaudit_collector.analytics.trace_search import trace_terms
from plaudit_collector.errors import ApiError

MAX_ITEMS = 10_000
"""A queue holds at most this many items ("all matching" included)."""
PAIR_CANDIDATES = 50_000
"""Spans read to build pairs from (the newest, or the oldest with ``order="oldest"``)."""

LIST_KEYS = ("span_name", "span_kind", "tag", "source")
TEXT_KEYS = ("from", "to", "status", "q", "has_feedback", "missing_feedback", "score")
NUMBER_KEYS = ("min_score", "max_score")
PAIR_KEYS = ("metadata", "where")
FILTER_KEYS = (*TEXT_KEYS, *LIST_KEYS, *NUMBER_KEYS, *PAIR_KEYS)
ORDERS = ("random", "oldest", "newest", "disagreement", "informative")
RANKED = ("disagreement", "informative")
"""Orders that rank spans by what a human rating of the queue's first score would tell."""

Target = tuple[str, str | None, str | None, str | None]


def check_filter(raw: dict[str, Any]) -> dict[str, Any]:
    """The filter with every value checked; an unknown key or a bad value is a 422 naming ``filter.<key>``."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        field = f"filter.{key}"
        if key not in FILTER_KEYS:
            close = difflib.get_close_matches(key, FILTER_KEYS, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else f"; use one of {', '.join(FILTER_KEYS)}"
            raise ApiError(422, "invalid_field", f"{field}: unknown filter {key[:60]!r}{hint}", field)
        if value is None:
            continue
        if key in NUMBER_KEYS:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
                raise ApiError(422, "invalid_field", f"{field}: must be a number", field)
        elif key in PAIR_KEYS:
            if isinstance(value, dict):
                value = [f"{k}={'' if v is None else v}" for k, v in value.items()]
            value = _strings(value, field)
        elif key in LIST_KEYS:
            value = _strings(value, field)
        elif not _fine(value):
            raise ApiError(422, "invalid_field", f"{field}: must be a non-empty string", field)
        out[key] = value
    if out.get("status") not in (None, "error", "ok", "unset"):
        raise ApiError(422, "invalid_field", "filter.status: must be error, ok or unset", "filter.status")
    if ("min_score" in out or "max_score" in out) and "score" not in out:
        raise ApiError(422, "invalid_field", "filter.score: min_score/max_score need the score's name", "filter.score")
    try:
        _filters(out)  # parses times, pairs, dimensions and sources, raising on the first bad one
    except ApiError as exc:
        if exc.field and not exc.field.startswith("filter."):
            field = f"filter.{exc.field}"
            raise ApiError(exc.status, exc.code, f"filter.{exc.message}", field) from None
        raise
    return out


def _strings(value: Any, field: str) -> list[str]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(_fine(v) for v in values):
        raise ApiError(422, "invalid_field", f"{field}: must be a string or a list of strings", field)
    return values


def _fine(value: Any) -> bool:
    """A non-empty string PostgreSQL can store (no NUL, no lone surrogate), at most 1000 characters."""
    if not isinstance(value, str) or not 0 < len(value) <= 1000 or "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _filters(spec: dict[str, Any]) -> Filters:
    return Filters(
        start_ns=parse_time(spec.get("from"), "filter.from"),
        end_ns=parse_time(spec.get("to"), "filter.to"),
        span_names=tuple(spec.get("span_name") or ()),
        span_kinds=tuple(spec.get("span_kind") or ()),
        tags=tuple(spec.get("tag") or ()),
        metadata=parse_pairs(spec.get("metadata"), "filter.metadata"),
        where=tuple((k, v or None) for k, v in parse_pairs(spec.get("where"), "filter.where")),
        sources=tuple(spec.get("source") or ()),
    )


def span_terms(project: str, spec: dict[str, Any], dialect: str) -> list[ColumnElement[bool]]:
    """WHERE terms on the spans table for a checked filter: the span itself matches the span filters (name,
    kind, tags, metadata, ``where``, time), and its trace matches the whole filter as the trace search reads
    it (text, status, feedback, score range), through the search's own builder, so the two cannot drift."""
    filters = _filters(spec)
    root = SPAN.alias("root")
    traces = select(root.c.trace_id).where(
        *trace_terms(
            dialect,
            project,
            root,
            filters,
            q=spec.get("q"),
            status=spec.get("status"),
            has_feedback=spec.get("has_feedback"),
            missing_feedback=spec.get("missing_feedback"),
            score=spec.get("score"),
            min_score=spec.get("min_score"),
            max_score=spec.get("max_score"),
        )
    )
    return [SPAN.c.project == project, *span_conditions(filters, SPAN, dialect), SPAN.c.trace_id.in_(traces)]


def _order(order: str) -> list[Any]:
    if order == "oldest":
        return [SPAN.c.start_ns, SPAN.c.id]
    if order == "newest":
        return [SPAN.c.start_ns.desc(), SPAN.c.id.desc()]
    return [func.random()]


def sample_spans(db: Any, project: str, spec: dict[str, Any], sample: int | None, order: str) -> list[Target]:
    """Up to ``sample`` (else :data:`MAX_ITEMS`) spans matching the filter, in the queue's order."""
    limit = min(sample or MAX_ITEMS, MAX_ITEMS)
    query = (
        select(SPAN.c.trace_id, SPAN.c.span_id)
        .where(*span_terms(project, spec, db.dialect))
        .order_by(*_order(order))
        .limit(limit)
    )
    with db.read_engine.connect() as conn:
        return [(row.trace_id, row.span_id, None, None) for row in conn.execute(query)]


def ranked_spans(
    db: Any, project: str, spec: dict[str, Any], sample: int | None, order: str, score: str
) -> list[Target]:
    """Up to ``sample`` spans matching the filter: those ``order`` ranks on ``score`` first, in its order, then
    the other matching spans, newest first."""
    limit = min(sample or MAX_ITEMS, MAX_ITEMS)
    filters = _filters(spec)
    if order == "disagreement":
        found = disagreements(db, project, score, filters, limit=MAX_ITEMS)["items"]
    else:
        found = informative(db, project, score, ("variant",), filters, limit=MAX_ITEMS)["items"]
    ranked = [(i["trace_id"], i["span_id"]) for i in found if i.get("trace_id") and i.get("span_id")]
    matching: set[tuple[str, str]] = set()
    with db.read_engine.connect() as conn:
        for start in range(0, len(ranked), 500):
            chunk = ranked[start : start + 500]
            query = select(SPAN.c.trace_id, SPAN.c.span_id).where(
                *span_terms(project, spec, db.dialect), SPAN.c.span_id.in_([span for _, span in chunk])
            )
            matching.update((row.trace_id, row.span_id) for row in conn.execute(query))
    first = [target for target in dict.fromkeys(ranked) if target in matching][:limit]
    rest = [t for t in sample_spans(db, project, spec, limit + len(first), "newest") if t[:2] not in matching]
    return [(trace, span, None, None) for trace, span in first] + rest[: limit - len(first)]


def sample_pairs(db: Any, project: str, spec: dict[str, Any], sample: int | None, order: str) -> list[Target]:
    """Pairs of spans that share an input and differ in variant: one pair per input, up to ``sample``."""
    limit = min(sample or MAX_ITEMS, MAX_ITEMS)
    s = SPAN
    newest_first = order != "oldest"
    query = (
        select(s.c.trace_id, s.c.span_id, s.c.input, s.c.variant, s.c.start_ns)
        .where(*span_terms(project, spec, db.dialect), s.c.input.is_not(None), s.c.variant.is_not(None))
        .order_by(s.c.start_ns.desc() if newest_first else s.c.start_ns, s.c.id)
        .limit(PAIR_CANDIDATES)
    )
    by_input: dict[str, dict[str, tuple[str, str, int]]] = {}
    with db.read_engine.connect() as conn:
        for row in conn.execute(query):
            by_input.setdefault(row.input, {}).setdefault(row.variant, (row.trace_id, row.span_id, row.start_ns))
    rng = random.Random()
    pairs: list[tuple[int, Target]] = []
    for variants in by_input.values():
        if len(variants) < 2:
            continue
        names = sorted(variants)
        first, second = rng.sample(names, 2) if order == "random" else names[:2]
        (ta, sa, start_a), (tb, sb, start_b) = variants[first], variants[second]
        pairs.append((min(start_a, start_b), (ta, sa, tb, sb)))
    if order == "random":
        rng.shuffle(pairs)
    else:
        pairs.sort(key=lambda pair: pair[0], reverse=newest_first)
    return [target for _, target in pairs[:limit]]
