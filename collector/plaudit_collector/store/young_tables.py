"""PostgreSQL: statistics for tables that are still young, taken as they grow instead of a minute later.

PostgreSQL keeps a generic plan for a prepared statement (psycopg prepares one after its fifth run) until the
statistics of a table it reads change. Plans made while a table is nearly empty scan it, and autovacuum first
analyses a table about a minute after it has grown. So for the first minute of a new database, or of a busy
day's new span partition, every lookup the write paths make scans: feedback batches ran at about half the rate
they reach once the tables are analysed.

The keeper analyses a young table, or leaf partition, once it holds at least twice the pages its statistics
were taken at (and at least :data:`MIN_PAGES`); past :data:`YOUNG_PAGES` a table is autovacuum's alone. It
looks at most every :data:`CHECK_SECONDS` while the collector commits, and not at all while it is idle: an
established database costs one catalog query per look.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import event, text
from sqlalchemy.engine import Connection

from plaudit_collector.store.db import Database, is_unavailable

log = logging.getLogger("plaudit_collector.young_tables")

MIN_PAGES = 8
"""A table smaller than this (64 KiB at the default block size) is read whole faster than planned for."""
YOUNG_PAGES = 1024
"""Tables whose statistics were taken at this many pages (8 MiB) or more are left to autovacuum, which
analyses them after every tenth of growth."""
CHECK_SECONDS = 0.5

_GROWN = text(
    """
    SELECT format('%I.%I', n.nspname, c.relname),
           (SELECT string_agg(DISTINCT quote_ident(a.attname), ', ')
              FROM pg_index i JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY(i.indkey)
             WHERE i.indrelid = c.oid)
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relpages < :young_pages
       AND (pg_has_role(c.relowner, 'MEMBER') OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user))
       AND pg_relation_size(c.oid) >= current_setting('block_size')::bigint * greatest(:min_pages, 2 * c.relpages)
     ORDER BY 1
    """
)


def grown_tables(conn: Connection) -> list[tuple[str, str | None]]:
    """The young tables of the current schema (leaf partitions included) that have at least doubled since
    their statistics were taken: (name, its indexed columns or None), quoted and schema-qualified for
    ``ANALYZE``. Only tables this role may analyse (its own, or any for a superuser): PostgreSQL skips
    another's with a warning, and its pages would never change, so it would be tried at every look."""
    params = {"min_pages": MIN_PAGES, "young_pages": YOUNG_PAGES}
    return [(row[0], row[1]) for row in conn.execute(_GROWN, params)]


def analyse_grown(db: Database) -> list[str]:
    """Analyse the grown tables' indexed columns, skipping a table another session is analysing or vacuuming;
    returns the tables' names.

    Only the indexed columns: that is what choosing an index needs, and naming columns leaves out the
    statistics of index expressions, which for the spans' text search means a ``to_tsvector`` of every
    sampled row (seconds for one day's partition). Autovacuum's later passes take the full statistics."""
    with db.engine.connect() as conn:
        # no_parameters: a ``%`` in a quoted name is then not read as a placeholder by the driver
        conn = conn.execution_options(isolation_level="AUTOCOMMIT", no_parameters=True)
        grown = grown_tables(conn)
        for table, columns in grown:
            conn.exec_driver_sql(f"ANALYZE (SKIP_LOCKED) {table}{f' ({columns})' if columns else ''}")
    return [table for table, _ in grown]


class StatisticsKeeper:
    """A daemon thread that analyses grown tables (see the module's docstring) while the database is written."""

    def __init__(self, db: Database, interval: float = CHECK_SECONDS) -> None:
        self._db = db
        self._interval = interval
        self._written = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="plaudit-statistics", daemon=True)

    def _committed(self, _conn: object) -> None:
        """Listens to the engine's commits for the life of the engine: removing a listener while another
        thread's commit runs the listeners is not safe, and after a stop this only sets an event."""
        self._written.set()

    def start(self) -> StatisticsKeeper:
        event.listen(self._db.engine, "commit", self._committed)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self._written.wait()
            if self._stop.is_set():
                return
            self._written.clear()
            try:
                analysed = analyse_grown(self._db)
                if analysed:
                    log.debug("analysed %s", ", ".join(analysed))
            except Exception as exc:  # the write paths never wait on this: a failed look is tried after a commit
                if is_unavailable(exc):  # the requests of the moment say so, as a 503 each
                    log.debug("analysing grown tables: the database is unavailable")
                else:
                    log.warning("analysing grown tables failed", exc_info=True)
            self._stop.wait(self._interval)

    def request_stop(self) -> None:
        """Look no more, without waiting (an ANALYZE under way is ended by the server when the process ends)."""
        self._stop.set()
        self._written.set()

    def stop(self, timeout: float = 10.0) -> None:
        self.request_stop()
        self._thread.join(timeout=timeout)

    def is_alive(self) -> bool:
        return self._thread.is_alive()


def start_keeper(db: Database) -> StatisticsKeeper | None:
    """The keeper for ``db``, running; None on SQLite, whose planner picks an index without statistics."""
    return None if db.is_sqlite else StatisticsKeeper(db).start()
