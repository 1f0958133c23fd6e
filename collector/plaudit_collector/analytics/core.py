"""The SQL every analysis shares: whitelisted dimensions, bound filters, and feedback credited to spans.

How feedback is credited (one place, so every answer agrees):

* span-level feedback counts for its span;
* trace-level feedback (no span id) counts for the trace's root span (``parent_span_id`` NULL; the first
  stored, should a lost parent link leave several);
* session-level feedback counts once per group that has a root span in that session: the session is
  the rated item there, so a long session does not outweigh a short one;
* only current, undeleted feedback with a score counts (NULL scores, e.g. an ongoing session, are left
  out of every mean).

Several raters on one item are averaged first ("item mean"), and groups are summarised over items.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Integer,
    Select,
    String,
    Text,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
    text,
    union_all,
)

from plaudit import semconv
from plaudit_collector import vocabulary
from plaudit_collector.errors import ApiError
from plaudit_collector.store.copies import RATED_SPANS, first_root, heal
from plaudit_collector.store.tables import Feedback, Span

logger = logging.getLogger("plaudit_collector.analytics")

SPAN = Span.__table__  # type: ignore[attr-defined]
FEEDBACK = Feedback.__table__  # type: ignore[attr-defined]

DIMENSIONS: dict[str, str] = {d.name: d.column for d in vocabulary.DIMENSIONS}
"""Whitelisted dimensions (name → span column); ``attr.<key>`` reads a span attribute, its key bound."""

SOURCES = vocabulary.SOURCES
STATS_CHECK_SECONDS = 30.0
_stats_checked: dict[str, float] = {}
MAX_GROUP_BY = 4
MAX_KEY = 200
Slots = tuple[tuple[str, str], ...]
"""Declared attribute dimensions a question may read from their columns: ``(("attr.plan", "dim_1"), ...)``."""


def dimension(name: str, table: Any = SPAN, param: str = "group_by", slots: Slots = ()) -> ColumnElement[Any]:
    """The SQL expression for a dimension; anything not whitelisted is a 422 naming ``param``. An attribute
    the project declared (in ``slots``, see ``store/dimensions.py``) reads its column, others the JSON."""
    if name in DIMENSIONS:
        return table.c[DIMENSIONS[name]]  # type: ignore[no-any-return]
    if name.startswith("attr.") and 0 < len(name) - 5 <= MAX_KEY:
        for declared, slot in slots:
            if declared == name:
                return table.c[slot]  # type: ignore[no-any-return]
        return table.c.attributes[name[5:]].as_string()  # type: ignore[no-any-return]
    matches = vocabulary.close_matches(name, DIMENSIONS)
    hint = (
        f"did you mean {' or '.join(matches)}?" if matches else f"use one of {', '.join([*DIMENSIONS, 'attr.<key>'])}"
    )
    raise ApiError(422, "invalid_field", f"{param}: unknown dimension {name[:100]!r}; {hint}", param)


def dimension_text(name: str, table: Any = SPAN, param: str = "where", slots: Slots = ()) -> ColumnElement[Any]:
    """A dimension as text, for comparing with a value given in a URL (attribute numbers included)."""
    expr = dimension(name, table, param, slots)
    return cast(expr, Text) if name.startswith("attr.") else expr


def check_group_by(group_by: Sequence[str], param: str = "group_by") -> list[str]:
    dims = list(group_by)
    if len(dims) > MAX_GROUP_BY:
        raise ApiError(422, "invalid_field", f"{param}: at most {MAX_GROUP_BY} dimensions", param)
    if len(set(dims)) != len(dims):
        raise ApiError(422, "invalid_field", f"{param}: a dimension is repeated", param)
    for name in dims:
        dimension(name, param=param)
    return dims


def connect(db: Any, project: str | None = None) -> Any:
    """A read connection for analytics (for ``project``: after healing its feedback copies, see
    ``copies.heal``).

    On PostgreSQL, tables never sampled by the planner, or changed a lot since (freshly loaded, before
    autovacuum's next round), get ANALYZEd first: without statistics the planner assumes one row per table,
    picks nested loops, and a join that takes milliseconds takes seconds. Checked at most every 30 s.
    """
    if db.dialect == "postgresql":
        now = time.monotonic()
        if now - _stats_checked.get(db.url, -math.inf) > STATS_CHECK_SECONDS:
            _stats_checked[db.url] = now
            _refresh_stats(db)
    if project is not None:
        heal(db, project)
    return db.read_engine.connect()


def _refresh_stats(db: Any) -> None:
    stale = text(
        "SELECT relname FROM pg_stat_user_tables WHERE schemaname = current_schema() "
        "AND relname IN ('spans', 'feedback') AND (n_mod_since_analyze > 500 + n_live_tup / 5 "
        "OR (last_analyze IS NULL AND last_autoanalyze IS NULL))"
    )
    try:
        with db.engine.connect() as conn:
            names = [name for name in conn.execute(stale).scalars() if name in ("spans", "feedback")]
            for name in names:  # whitelisted names: ANALYZE takes no bind parameters
                conn.execute(text(f"ANALYZE {name}"))
            conn.commit()
    except Exception:
        logger.debug("could not refresh planner statistics", exc_info=True)


# ---------------------------------------------------------------- filters


@dataclass(frozen=True)
class Filters:
    """Which spans and which feedback an analysis looks at. Every value is bound, never spliced."""

    start_ns: int | None = None
    end_ns: int | None = None
    span_names: tuple[str, ...] = ()
    span_kinds: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    metadata: tuple[tuple[str, str], ...] = ()
    where: tuple[tuple[str, str | None], ...] = ()
    sources: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    slots: Slots = ()
    """The project's declared attributes, filled in by the analysis (``rolled.with_declared``), not by users."""

    def __post_init__(self) -> None:
        for name, _value in self.where:
            dimension(name, param="where")
        for source in self.sources:
            if source not in SOURCES:
                raise ApiError(
                    422, "invalid_field", f"source: {source[:50]!r} is not one of {', '.join(SOURCES)}", "source"
                )

    def describe(self) -> str:
        """The filters in words, for verdicts: ``source=human, tag=beta``."""
        parts = [f"source={s}" for s in self.sources] + [f"author={a}" for a in self.authors]
        parts += [f"tag={t}" for t in self.tags]
        parts += [f"metadata.{k}={v}" for k, v in self.metadata]
        parts += [f"{k}={'(none)' if v is None else v}" for k, v in self.where]
        parts += [f"span.name={n}" for n in self.span_names] + [f"span.kind={k}" for k in self.span_kinds]
        if self.start_ns is not None:
            parts.append(f"from={iso(self.start_ns)}")
        if self.end_ns is not None:
            parts.append(f"to={iso(self.end_ns)}")
        return ", ".join(parts)


def iso(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def parse_time(value: str | None, param: str) -> int | None:
    """ISO 8601 (naive means UTC) or unix seconds → nanoseconds since the epoch."""
    if value is None or value == "":
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise ApiError(
                422, "invalid_field", f"{param}: {text[:60]!r} is neither ISO 8601 nor unix seconds", param
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        seconds = moment.timestamp()
    if not math.isfinite(seconds) or not 0 <= seconds < 2**33:
        raise ApiError(422, "invalid_field", f"{param}: {text[:60]!r} is out of range", param)
    return int(round(seconds * 1e9))


def parse_pairs(values: Sequence[str] | None, param: str) -> tuple[tuple[str, str], ...]:
    """``key=value`` strings → pairs (the key may not contain ``=``)."""
    pairs = []
    for item in values or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ApiError(422, "invalid_field", f"{param}: expected key=value, got {item[:60]!r}", param)
        pairs.append((key, value))
    return tuple(pairs)


def parse_group(values: Sequence[str] | None, param: str) -> dict[str, str | None]:
    """``dim=value`` strings naming one group; an empty value means "(none)" (NULL)."""
    group: dict[str, str | None] = {}
    for key, value in parse_pairs(values, param):
        dimension(key, param=param)
        if key in group:
            raise ApiError(422, "invalid_field", f"{param}: dimension {key!r} given twice", param)
        group[key] = value or None
    if not group:
        raise ApiError(422, "invalid_field", f"{param}: name a group as dim=value, e.g. variant=v2", param)
    return group


def span_conditions(filters: Filters, table: Any, dialect: str) -> list[ColumnElement[bool]]:
    """Bound WHERE terms on a spans table (or alias) for the span-side filters."""
    terms: list[ColumnElement[bool]] = []
    if filters.start_ns is not None:
        terms.append(table.c.start_ns >= filters.start_ns)
    if filters.end_ns is not None:
        terms.append(table.c.start_ns < filters.end_ns)
    if filters.span_names:
        terms.append(table.c.name.in_(filters.span_names))
    if filters.span_kinds:
        terms.append(table.c.span_kind.in_(filters.span_kinds))
    for tag in filters.tags:
        terms.append(_has_tag(table, tag, dialect))
    for key, value in filters.metadata:
        terms.append(cast(table.c.attributes[semconv.METADATA_PREFIX + key].as_string(), Text) == value)
    for name, value in filters.where:
        expr = dimension_text(name, table, slots=filters.slots)
        terms.append(expr.is_(None) if value is None else expr == value)
    return terms


def _has_tag(table: Any, tag: str, dialect: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        tags = table.c.attributes.op("->")(literal(semconv.TAGS, String))
        return tags.op("@>")(func.to_jsonb(cast(literal(tag, String), Text))).is_(True)  # type: ignore[no-any-return]
    each = func.json_each(table.c.attributes, literal(f'$."{semconv.TAGS}"', String)).table_valued("value")
    return exists(select(literal(1)).select_from(each).where(each.c.value == tag))


def feedback_conditions(
    project: str, names: Sequence[str] | None, filters: Filters, *, scored: bool = True
) -> list[ColumnElement[bool]]:
    f = FEEDBACK
    terms = [f.c.project == project, f.c.is_current.is_(True), f.c.deleted_at.is_(None)]
    if names is not None:
        terms.append(f.c.name == names[0] if len(names) == 1 else f.c.name.in_(names))
    if scored:
        terms.append(f.c.score.is_not(None))
    if filters.sources:
        terms.append(f.c.source.in_(filters.sources))
    if filters.authors:
        terms.append(f.c.author.in_(filters.authors))
    return terms


def credit_joins(s: Any, trace_col: Any, span_col: Any) -> list[tuple[Any, list[Any]]]:
    """(join condition, extra WHERE) for the two ways a target names its span: by id, or by trace alone
    (the root span). Kept as separate branches of a UNION ALL: an OR in the join condition stops the
    planners from using the span index."""
    return [
        (and_(s.c.trace_id == trace_col, s.c.span_id == span_col), []),
        (and_(s.c.trace_id == trace_col, s.c.id == first_root(s)), [span_col.is_(None)]),
    ]


def on_copies(group_by: Sequence[str], filters: Filters) -> bool:
    """True when every dimension and filter reads a span column that feedback rows carry a copy of
    (see ``crediting``): then span- and trace-level ratings are read without joining the span table."""
    names = [*group_by, *(name for name, _ in filters.where)]
    declared = {name for name, _ in filters.slots}
    copied = all(name in DIMENSIONS or name in declared for name in names)
    return copied and not filters.tags and not filters.metadata


def credited(
    project: str,
    names: Sequence[str] | None,
    group_by: Sequence[str],
    filters: Filters,
    dialect: str,
    *,
    text: bool = False,
    more_dims: Callable[[Any], list[ColumnElement[Any]]] | None = None,
    extra: Sequence[Any] = (),
    terms: Sequence[ColumnElement[bool]] = (),
    scored: bool = True,
    spans: bool = True,
) -> CompoundSelect:
    """One row per (feedback item, credited span or session): the dimensions labelled d0, d1, ... (then
    ``more_dims``, built on the same table), the unit keys ``u_span`` (span row id) / ``u_session``,
    ``score``, ``nb`` (1 when not boolean) and ``extra``. ``spans=False`` leaves out span- and trace-level
    feedback (the score rollup holds those)."""
    s, f = SPAN, FEEDBACK

    def dims_on(table: Any) -> list[ColumnElement[Any]]:
        named = labelled(group_by, table, text=text, slots=filters.slots)
        return [*named, *(more_dims(table) if more_dims else [])]

    fb_terms = [*feedback_conditions(project, names, filters, scored=scored), *terms]
    nb = case((f.c.kind == "boolean", 0), else_=1).label("nb")
    common = [f.c.id.label("fid"), f.c.score.label("score"), nb, *extra]
    no_session = cast(literal(None), String).label("u_session")
    if on_copies(group_by, filters):
        copies = RATED_SPANS
        by_span = [
            select(*dims_on(copies), f.c.span_pk.label("u_span"), no_session, *common).where(
                *fb_terms, f.c.span_pk.is_not(None), *span_conditions(filters, copies, dialect)
            )
        ]
    else:
        sp_terms = [s.c.project == project, *span_conditions(filters, s, dialect)]
        not_session = or_(f.c.target_type.is_(None), f.c.target_type != "session")
        by_span = [
            select(*dims_on(s), s.c.id.label("u_span"), no_session, *common)
            .select_from(f.join(s, on))
            .where(*fb_terms, *sp_terms, not_session, *where)
            for on, where in credit_joins(s, f.c.trace_id, f.c.span_id)
        ]
    sp_terms = [s.c.project == project, *span_conditions(filters, s, dialect)]
    by_session = (
        select(*dims_on(s), cast(literal(None), Integer).label("u_span"), f.c.session_id.label("u_session"), *common)
        .select_from(f.join(s, and_(s.c.session_id == f.c.session_id, s.c.parent_span_id.is_(None))))
        # an inline constant, so SQLite can use the partial index of session-level feedback
        .where(*fb_terms, *sp_terms, f.c.target_type == literal("session", literal_execute=True))
        .distinct()
    )
    return union_all(*(by_span if spans else []), by_session)


def labelled(
    group_by: Sequence[str], table: Any = SPAN, *, text: bool = False, slots: Slots = ()
) -> list[ColumnElement[Any]]:
    """Dimensions labelled d0, d1, ...; ``text`` makes attribute values text (to compare with URL values)."""
    make = dimension_text if text else dimension
    return [make(name, table, "group_by", slots).label(f"d{i}") for i, name in enumerate(group_by)]


def unit_scores(
    project: str,
    score: str,
    group_by: Sequence[str],
    filters: Filters,
    dialect: str,
    *,
    text: bool = False,
    more_dims: Callable[[Any], list[ColumnElement[Any]]] | None = None,
    spans: bool = True,
) -> Any:
    """Subquery: one row per rated item and group (dimensions labelled d0, d1, ..., then ``more_dims``):
    ``m`` (mean of its raters), ``raters`` and ``nb``; ``spans=False``: session-level items only."""
    rated = credited(project, [score], group_by, filters, dialect, text=text, more_dims=more_dims, spans=spans)
    rated = rated.subquery("rated")
    keys = [column for column in rated.c if column.name.startswith("d") and column.name[1:].isdigit()]
    return (
        select(
            *keys,
            rated.c.u_span,
            rated.c.u_session,
            func.avg(rated.c.score).label("m"),
            func.count().label("raters"),
            func.max(rated.c.nb).label("nb"),
        )
        # The item keys first: SQLite sorts to group, and an item key nearly always decides a comparison.
        .group_by(rated.c.u_span, rated.c.u_session, *keys)
        .subquery("units")
    )


def group_scores(units: Any, width: int, extra_keys: Sequence[Any] = ()) -> Select[Any]:
    keys = [units.c[f"d{i}"] for i in range(width)]
    return select(
        *keys,
        *extra_keys,
        func.count().label("n"),
        func.sum(units.c.m).label("total"),
        func.sum(units.c.m * units.c.m).label("total_sq"),
        func.sum(units.c.raters).label("ratings"),
        func.max(units.c.raters).label("max_raters"),
        func.max(units.c.nb).label("nb"),
        func.count(units.c.u_span).label("rated_spans"),
    ).group_by(*keys, *extra_keys)


def key_of(row: Any, width: int) -> tuple[Any, ...]:
    return tuple(row[:width])


def group_dict(group_by: Sequence[str], key: Sequence[Any]) -> dict[str, Any]:
    return dict(zip(group_by, key, strict=True))


def format_group(group: dict[str, Any] | None) -> str:
    """``{'variant': 'v3/fake-large'}`` → ``variant=v3/fake-large`` (for verdicts and tables)."""
    if not group:
        return "(all)"
    return ", ".join(f"{k}={'(none)' if v is None else v}" for k, v in group.items())


def method_for(non_boolean: Any) -> str:
    """Wilson for yes/no scores, Student t for anything numeric."""
    return "t" if non_boolean else "wilson"
