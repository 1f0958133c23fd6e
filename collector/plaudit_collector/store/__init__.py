"""Everything the database holds, and every read and write of it.

Enters: an :class:`~plaudit_collector.ingest.batch.IngestBatch` (written whole by :mod:`.batches`), feedback
items, score configs, keys and projects. Leaves: committed rows, and plain dicts for the API. Also keeps
the derived structures in step with the spans: the per-day rollup (:mod:`.rollup`), the span copies on
feedback rows (:mod:`.copies`), and retention (:mod:`.retention`). Tables and migrations live here.
"""
