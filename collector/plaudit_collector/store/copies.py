"""Which span a feedback item credits, copied onto the feedback row so analytics never join the span table.

A span-level item credits its span; a trace-level item (no span id) credits the trace's root span (the
first stored, should a lost parent link leave a trace with several). When that span is stored, its row id
and its dimensions are copied onto the feedback row (``span_pk``, ``span_model``, ...). Spans never change
once stored, so the copy never goes stale; feedback that arrives first is resolved when its span lands,
and a span deleted by retention takes its copies with it. Session-level feedback credits several spans
and keeps being joined at query time.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import bindparam, exists, func, or_, select, update
from sqlalchemy.engine import Connection

from plaudit_collector.store import prepared, score_rollup, trace_days
from plaudit_collector.store.tables import Feedback, Span
from plaudit_collector.store.value_lists import one_of, rows_of, rows_value

logger = logging.getLogger("plaudit_collector.store.copies")

SPAN = Span.__table__  # type: ignore[attr-defined]
FEEDBACK = Feedback.__table__  # type: ignore[attr-defined]

COPIED: dict[str, str] = {
    "id": "span_pk",
    "start_ns": "span_start_ns",
    "name": "span_name",
    "span_kind": "span_kind",
    "service_name": "span_service_name",
    "model": "span_model",
    "provider": "span_provider",
    "prompt_name": "span_prompt_name",
    "prompt_version": "span_prompt_version",
    "config_hash": "span_config_hash",
    "variant": "span_variant",
    "dim_1": "span_dim_1",
    "dim_2": "span_dim_2",
    "dim_3": "span_dim_3",
    "user_id": "span_user_id",
    "session_id": "span_session_id",
    "experiment": "span_experiment",
    "experiment_segment": "span_experiment_segment",
    "experiment_probability": "span_experiment_probability",
}
"""Span column → the feedback column holding its copy."""

CHUNK = 500
RESOLVE_EVERY_SECONDS = 30.0
_resolved_at: dict[tuple[str, str], float] = {}


class _Copies:
    def __getitem__(self, name: str) -> Any:
        return FEEDBACK.c[COPIED[name]]

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class RatedSpans:
    """The feedback table seen as the spans it credits: ``RATED_SPANS.c.model`` is ``feedback.span_model``.

    Lets the analytics' dimension and filter builders, written against the span table, run on the copies.
    """

    c = _Copies()


RATED_SPANS = RatedSpans()


def _statements(extra: Sequence[Any], copied: Mapping[str, str] = COPIED) -> list[Any]:
    f, s = FEEDBACK, SPAN
    values = {f.c[copy]: s.c[column] for column, copy in copied.items()}
    common = [
        f.c.span_pk.is_(None),
        or_(f.c.target_type.is_(None), f.c.target_type != "session"),
        s.c.project == f.c.project,
        s.c.trace_id == f.c.trace_id,
        *extra,
    ]
    by_span = update(f).values(values).where(*common, f.c.span_id.is_not(None), s.c.span_id == f.c.span_id)
    by_trace = update(f).values(values).where(*common, f.c.span_id.is_(None), s.c.id == first_root(s))
    return [statement.returning(f.c.project, f.c.name, f.c.span_pk) for statement in (by_span, by_trace)]


def _credit(conn: Connection, statements: Sequence[Any], scores: bool = True) -> int:
    """Run the copying statements; the newly credited items join the score aggregates."""
    credited: list[Any] = []
    for statement in statements:
        credited += conn.execute(statement).all()
    if scores:
        score_rollup.apply(conn, [tuple(row) for row in credited])
    return len(credited)


def first_root(s: Any) -> Any:
    """The row id of the root span of ``s``'s trace that was stored first: trace-level feedback credits it
    (a trace has one root, unless a parent link was lost; then the choice stays fixed as spans arrive)."""
    root = SPAN.alias("root")
    return (
        select(func.min(root.c.id))
        .where(root.c.project == s.c.project, root.c.trace_id == s.c.trace_id, root.c.parent_span_id.is_(None))
        .scalar_subquery()
    )


def resolve_traces(conn: Connection, project: str, trace_ids: Sequence[str]) -> int:
    """Copy span dimensions onto this project's unresolved feedback for ``trace_ids`` (after spans landed)."""
    f = FEEDBACK
    pending = conn.execute(
        f.select()
        .with_only_columns(f.c.id)
        .where(f.c.project == project, f.c.span_pk.is_(None), f.c.trace_id.is_not(None))
        .limit(1)
    ).first()
    if pending is None:  # the common case: nothing waits for a span, so ingest pays one index probe
        return 0
    unique = sorted(set(trace_ids))
    done = 0
    for start in range(0, len(unique), CHUNK):
        chunk = unique[start : start + CHUNK]
        done += _credit(conn, _statements([f.c.project == project, f.c.trace_id.in_(chunk)]))
    return done


_NO_COPY: dict[str, Any] = dict.fromkeys(COPIED.values())


@functools.cache
def _target_spans(dialect: str, roots: bool = True) -> Any:
    """Built once: the spans a batch of new feedback may credit. Without ``roots``, the rated spans by their
    (trace, span) pairs, one probe of the spans' unique key per pair; with ``roots``, every span of the rated
    traces that is rated or a root (a trace-level rating credits the root), which reads whole traces, so
    only a batch with trace-level items pays for it. A list of traces and one of spans probed the key once
    per combination of the two, and PostgreSQL planned a batch over many days' partitions as a sequential
    scan of each instead."""
    s = SPAN
    columns = (s.c.trace_id, s.c.span_id, s.c.parent_span_id, *(s.c[column] for column in COPIED))
    if not roots:  # the project goes with each pair: bound apart, SQLite read the project's spans for each pair
        return rows_of(SPAN, columns, ("project", "trace_id", "span_id"), "pairs", dialect, (False,) * 3)
    return select(*columns).where(
        s.c.project == bindparam("project"),
        one_of(s.c.trace_id, "traces", dialect),
        or_(one_of(s.c.span_id, "spans", dialect), s.c.parent_span_id.is_(None)),
    )


def copies_for(
    conn: Connection, project: str, items: Sequence[Mapping[str, Any]], days: dict[str, set[int]] | None = None
) -> list[dict[str, Any]]:
    """The copy columns for each prepared item about to be stored (all None while its span is not here).

    The same crediting as :func:`resolve_all`, found with one query for the whole batch before the
    insert, so a new row is written once, with its copy, instead of inserted and then updated. ``days``: the
    days of the items' traces, when the caller has read them (PostgreSQL, see ``trace_days.narrow``).
    """
    wanted = [item for item in items if item["trace_id"] is not None and item["target_type"] != "session"]
    if not wanted:
        return [_NO_COPY] * len(items)
    dialect = conn.dialect.name
    traces = sorted({item["trace_id"] for item in wanted})
    pairs = sorted({(item["trace_id"], item["span_id"]) for item in wanted if item["span_id"] is not None})
    roots_wanted = any(item["span_id"] is None for item in wanted)
    by_span: dict[tuple[str, str], dict[str, Any]] = {}
    roots: dict[str, dict[str, Any]] = {}
    names = list(COPIED.values())
    if roots_wanted:
        params = {"project": project, "traces": traces, "spans": sorted({span for _, span in pairs})}
    else:
        params = rows_value("pairs", [(project, *pair) for pair in pairs], 3, dialect)
    statement = _target_spans(dialect, roots_wanted)
    query = trace_days.narrow(conn, statement, project, traces, built_once=True, known=days)  # their days
    for row in prepared.rows(conn, query, params):
        copy = dict(zip(names, row[3:], strict=True))
        by_span[(row[0], row[1])] = copy
        first = roots.get(row[0])
        if row[2] is None and (first is None or copy["span_pk"] < first["span_pk"]):
            roots[row[0]] = copy
    out = []
    for item in items:
        trace_id, span_id = item["trace_id"], item["span_id"]
        if trace_id is None or item["target_type"] == "session":
            out.append(_NO_COPY)
        elif span_id is not None:
            out.append(by_span.get((trace_id, span_id), _NO_COPY))
        else:
            out.append(roots.get(trace_id, _NO_COPY))
    return out


def resolve_all(
    conn: Connection,
    project: str | None = None,
    *,
    copied: Mapping[str, str] = COPIED,
    names: Sequence[str] | None = None,
    scores: bool = True,
) -> int:
    """Resolve every waiting item (after a bulk load or a migration, or to heal a concurrent-write race);
    with ``names``, only the items of those scores.

    A migration passes the ``copied`` columns as that revision leaves them: later ones do not exist yet.
    ``scores=False`` leaves the score aggregates alone (a migration before them, or a rebuild that follows).
    """
    extra = [FEEDBACK.c.project == project] if project is not None else []
    if names is not None:
        extra.append(FEEDBACK.c.name.in_(list(names)))
    return _credit(conn, _statements(extra, copied), scores)


def forget_spans(conn: Connection, span_pks: Sequence[int]) -> None:
    """Spans deleted: their feedback credits nothing until the span is stored again."""
    f = FEEDBACK
    cleared = {f.c[copy]: None for copy in COPIED.values()}
    items = score_rollup.items_of_spans(conn, span_pks)
    for start in range(0, len(span_pks), CHUNK):
        conn.execute(update(f).values(cleared).where(f.c.span_pk.in_(list(span_pks[start : start + CHUNK]))))
    score_rollup.apply(conn, items)


def forget_missing(conn: Connection, before_ns: int) -> None:
    """Clear copies of spans (started before ``before_ns``) that no longer exist: a rating resolved in one
    transaction while retention deleted its span in another keeps a copy neither could see (PostgreSQL)."""
    f, s = FEEDBACK, SPAN
    cleared = {f.c[copy]: None for copy in COPIED.values()}
    gone = ~exists().where(s.c.id == f.c.span_pk)
    stale = [f.c.span_pk.is_not(None), f.c.span_start_ns < before_ns, gone]
    items = [tuple(row) for row in conn.execute(select(f.c.project, f.c.name, f.c.span_pk).where(*stale)).all()]
    conn.execute(update(f).values(cleared).where(*stale))
    score_rollup.apply(conn, items)


def waiting_traces(rows: Sequence[Any]) -> list[str]:
    """The traces of stored feedback rows (None: an item left out) still waiting for their span, for
    :func:`recheck`."""
    return [row.trace_id for row in rows if row is not None and row.span_pk is None and row.trace_id is not None]


def recheck(db: Any, project: str, trace_ids: Sequence[str]) -> None:
    """PostgreSQL only: after a commit, credit feedback of ``trace_ids`` that is still waiting for its span.

    Under READ COMMITTED a span and its feedback committed at the same moment by two transactions may each
    miss the other. When both writers look again in a new transaction after their own commit, the later of
    the two looks sees the other's commit, so the pair is credited before either request is answered.
    The request's own writes are committed already: a failure here is logged, never reported as the
    request's (a retried rating would be stored twice), and :func:`heal` credits the pair later.
    """
    if db.dialect != "postgresql" or not trace_ids:
        return
    try:
        with db.engine.begin() as conn:
            resolve_traces(conn, project, trace_ids)
    except Exception:
        logger.warning("could not credit feedback waiting for its span; it is credited later", exc_info=True)


def heal(db: Any, project: str) -> None:
    """PostgreSQL only, at most every 30 s per project: credit feedback still waiting for a span that is
    stored. :func:`recheck` credits such pairs before replying; this is for a collector stopped between a
    commit and its recheck. (SQLite serialises writers, so nothing is left waiting there.)"""
    if db.dialect != "postgresql":
        return
    key = (db.url, project)
    now = time.monotonic()
    if now - _resolved_at.get(key, -math.inf) < RESOLVE_EVERY_SECONDS:
        return
    _resolved_at[key] = now
    try:
        with db.writing(), db.engine.begin() as conn:
            resolve_all(conn, project)
    except Exception:
        logger.debug("could not resolve waiting feedback", exc_info=True)
