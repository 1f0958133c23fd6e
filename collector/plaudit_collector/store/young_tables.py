"""PostgreSQL: statistics for tables that are still young, taken as they grow instead of a minute later.

PostgreSQL keeps a generic plan for a prepared statement (psycopg prepares one after its fifth run) until the
statistics of a table it reads change. Plans made while a table is nearly empty scan it, and autovacuum first
analyses a table about a minute after it has grown. So for the first minute of a new database, or of a busy
day's new span partition, every lookup the write paths make scans: feedback batches ran at about half the rate
they reach once the tables are analysed.

The keeper analyses a table, or a leaf partition, once it holds at least twice the pages its statistics were
taken at (and at least :data:`MIN_PAGES`). It looks at most every :data:`CHECK_SECONDS` while the collector
commits, and not at all while it is idle. A table that grows by less than that between two looks of
autovacuum is never analysed here: an established database costs one catalog query per look.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import event, text
from sqlalchemy.engine import Connection

from plaudit_collector.store.db import Database

log = logging.getLogger("plaudit_collector.young_tables")

MIN_PAGES = 8
"""A table smaller than this (64 KiB at the default block size) is read whole faster than planned for."""
CHECK_SECONDS = 0.5

_GROWN = text(
    """
    SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = current_schema() AND c.relkind = 'r'
      AND pg_relation_size(c.oid) >= current_setting('block_size')::bigint * greatest(:min_pages, 2 * c.relpages)
    ORDER BY 1
    """
)


def grown_tables(conn: Connection, min_pages: int = MIN_PAGES) -> list[str]:
    """The tables of the current schema (leaf partitions included) that have at least doubled since their
    statistics were taken, quoted and schema-qualified for ``ANALYZE``."""
    return [row[0] for row in conn.execute(_GROWN, {"min_pages": min_pages})]


def analyse_grown(db: Database, min_pages: int = MIN_PAGES) -> list[str]:
    """Analyse the grown tables, skipping any another session is analysing or vacuuming; returns their names."""
    with db.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        grown = grown_tables(conn, min_pages)
        for table in grown:
            conn.exec_driver_sql(f"ANALYZE (SKIP_LOCKED) {table}")
    return grown


class StatisticsKeeper:
    """A daemon thread that analyses grown tables (see the module's docstring) while the database is written."""

    def __init__(self, db: Database, interval: float = CHECK_SECONDS) -> None:
        self._db = db
        self._interval = interval
        self._written = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="plaudit-statistics", daemon=True)

    def _committed(self, _conn: object) -> None:
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
            except Exception:  # the write paths never wait on this: a failed look is tried at the next commit
                log.warning("analysing grown tables failed", exc_info=True)
            self._stop.wait(self._interval)

    def request_stop(self) -> None:
        """Look no more, without waiting (an ANALYZE under way is ended by the server when the process ends)."""
        self._stop.set()
        self._written.set()
        if event.contains(self._db.engine, "commit", self._committed):
            event.remove(self._db.engine, "commit", self._committed)

    def stop(self, timeout: float = 10.0) -> None:
        self.request_stop()
        self._thread.join(timeout=timeout)

    def is_alive(self) -> bool:
        return self._thread.is_alive()


def start_keeper(db: Database) -> StatisticsKeeper | None:
    """The keeper for ``db``, running; None on SQLite, whose planner picks an index without statistics."""
    return None if db.is_sqlite else StatisticsKeeper(db).start()
