"""The one path telemetry takes into storage: decode → normalise → split out carried feedback → write.

``POST /v1/traces`` and ``POST /v1/logs`` call these functions, and so should any importer: each step but the
last is a pure function over plain data (:mod:`plaudit_collector.ingest`); the last writes the whole batch in
one transaction (:mod:`plaudit_collector.store.batches`), so when it returns, everything is committed.
"""

from __future__ import annotations

from plaudit_collector.errors import ApiError
from plaudit_collector.ingest import decode, logs, spans
from plaudit_collector.ingest.batch import IngestBatch
from plaudit_collector.store import projects
from plaudit_collector.store.batches import write_batch
from plaudit_collector.store.db import Database
from plaudit_collector.store.spans import received_value
from plaudit_collector.store.tables import utcnow


def ingest_traces(
    db: Database, project: str, body: bytes, *, content_type: str, encoding: str | None, limit: int
) -> IngestBatch:
    """Store an OTLP trace export; returns the batch (what was refused and why, for ``partial_success``).

    Raises:
        ApiError: 400/413/415 for a body that cannot be read; 400 when no span in it is usable.
    """
    raw = decode.decompress(body, encoding, limit)
    request = decode.parse_request(raw, content_type)
    settings = projects.project_settings(db, project)
    with db.ingesting():
        received = received_value(db, utcnow())
        batch = spans.build_batch(
            request, project, received=received, store_content=settings.store_content, dimensions=settings.dimensions
        )
        if batch.rejected and batch.empty:
            # Nothing usable at all: a plain 400 (not retried), as for any malformed request.
            raise ApiError(400, "invalid_id", batch.problems[0], batch.first_field)
        write_batch(db, batch)
    return batch


def ingest_logs(
    db: Database, project: str, body: bytes, *, content_type: str, encoding: str | None, limit: int
) -> IngestBatch:
    """Store an OTLP log export: GenAI content events join their spans, evaluation results become feedback.

    Raises:
        ApiError: 400/413/415 for a body that cannot be read.
    """
    raw = decode.decompress(body, encoding, limit)
    request = decode.parse_logs_request(raw, content_type)
    store_content = projects.project_settings(db, project).store_content
    batch = logs.build_log_batch(request, project, store_content=store_content)
    write_batch(db, batch)
    return batch
