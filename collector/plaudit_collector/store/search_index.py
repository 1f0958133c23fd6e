"""The full-text index over span input and output, kept in step with the spans table by the database itself.

SQLite: an FTS5 external-content table (``spans_fts``, the text stays in ``spans``) filled by triggers on
insert, delete and update, so ingest, retention and any other write keep it current in the same
transaction. PostgreSQL: a GIN index on the ``tsvector`` of input and output (``simple`` configuration: no
stemming, any language), which the database maintains like any index. Both match whole words, every word
of the query required; neither needs the application to write anything.

These objects are not SQLModel tables: :func:`is_search_object` tells schema comparisons to leave them out.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import DDL, ColumnElement, event, literal_column, select, text

SEARCH_OBJECTS = ("spans_fts", "ix_spans_search")

SQLITE_DDL = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS spans_fts USING fts5(input, output, content='spans', content_rowid='id')",
    "CREATE TRIGGER IF NOT EXISTS spans_fts_insert AFTER INSERT ON spans "
    "WHEN new.input IS NOT NULL OR new.output IS NOT NULL BEGIN "
    "INSERT INTO spans_fts(rowid, input, output) VALUES (new.id, new.input, new.output); END",
    "CREATE TRIGGER IF NOT EXISTS spans_fts_delete AFTER DELETE ON spans "
    "WHEN old.input IS NOT NULL OR old.output IS NOT NULL BEGIN "
    "INSERT INTO spans_fts(spans_fts, rowid, input, output) VALUES ('delete', old.id, old.input, old.output); END",
    "CREATE TRIGGER IF NOT EXISTS spans_fts_update AFTER UPDATE OF input, output ON spans BEGIN "
    "INSERT INTO spans_fts(spans_fts, rowid, input, output) SELECT 'delete', old.id, old.input, old.output "
    "WHERE old.input IS NOT NULL OR old.output IS NOT NULL; "
    "INSERT INTO spans_fts(rowid, input, output) SELECT new.id, new.input, new.output "
    "WHERE new.input IS NOT NULL OR new.output IS NOT NULL; END",
)
SQLITE_BACKFILL = (
    "INSERT INTO spans_fts(rowid, input, output) SELECT id, input, output FROM spans "
    "WHERE input IS NOT NULL OR output IS NOT NULL"
)
SQLITE_DROP = (
    "DROP TRIGGER IF EXISTS spans_fts_insert",
    "DROP TRIGGER IF EXISTS spans_fts_delete",
    "DROP TRIGGER IF EXISTS spans_fts_update",
    "DROP TABLE IF EXISTS spans_fts",
)
PG_DOCUMENT = "to_tsvector('simple', coalesce(spans.input, '') || ' ' || coalesce(spans.output, ''))"
"""The indexed expression; a query must spell it exactly so for the planner to use the index."""
PG_DDL = (
    "CREATE INDEX IF NOT EXISTS ix_spans_search ON spans USING gin "
    "((to_tsvector('simple', coalesce(input, '') || ' ' || coalesce(output, ''))))",
)
PG_DROP = ("DROP INDEX IF EXISTS ix_spans_search",)


def is_search_object(name: str | None) -> bool:
    """True for the index's tables and index, which schema comparisons must ignore (not SQLModel's)."""
    return bool(name) and any(str(name).startswith(prefix) for prefix in SEARCH_OBJECTS)


def include_name(name: str | None, type_: str, _parent: Any) -> bool:
    """Alembic ``include_name`` hook: compare everything but the search objects."""
    return not is_search_object(name)


def create(conn: Any, dialect: str, *, backfill: bool) -> None:
    """Create the index (and fill it from the spans already stored when ``backfill``)."""
    statements = SQLITE_DDL if dialect == "sqlite" else PG_DDL
    for statement in statements:
        conn.execute(text(statement))
    if backfill and dialect == "sqlite":
        conn.execute(text(SQLITE_BACKFILL))


def drop(conn: Any, dialect: str) -> None:
    for statement in SQLITE_DROP if dialect == "sqlite" else PG_DROP:
        conn.execute(text(statement))


def attach(table: Any) -> None:
    """Create the index whenever ``create_all`` creates the spans table (databases made without migrations)."""
    for statement in SQLITE_DDL:
        event.listen(table, "after_create", DDL(statement).execute_if(dialect="sqlite"))
    for statement in PG_DDL:
        event.listen(table, "after_create", DDL(statement).execute_if(dialect="postgresql"))


def fts_query(q: str) -> str:
    """User text → an FTS5 query that needs every word, each quoted (no operator syntax reaches FTS5)."""
    words = [word.replace('"', '""') for word in q.split()]
    return " ".join(f'"{word}"' for word in words)


def matches(span_table: Any, q: str, dialect: str) -> ColumnElement[bool]:
    """A condition on ``span_table`` (the ``spans`` table itself): its input or output contains every word."""
    if dialect == "sqlite":
        hits = (
            select(literal_column("rowid"))
            .select_from(text("spans_fts"))
            .where(text("spans_fts MATCH :fts_q").bindparams(fts_q=fts_query(q)))
        )
        return span_table.c.id.in_(hits)  # type: ignore[no-any-return]
    document = literal_column(PG_DOCUMENT)
    query = text("plainto_tsquery('simple', :ts_q)").bindparams(ts_q=q)
    return document.op("@@")(query)  # type: ignore[no-any-return]
