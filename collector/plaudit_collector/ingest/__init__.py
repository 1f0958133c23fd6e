"""Telemetry in, plain data out: OTLP bytes are decoded (:mod:`.decode`), each span's attributes are mapped
from the LLM conventions to one set of columns (:mod:`.conventions`), and feedback carried inside the
telemetry is split out (:mod:`.carried_feedback`) — giving one :class:`~.batch.IngestBatch` per request
(:mod:`.spans` for traces, :mod:`.logs` for logs). Nothing here touches the database; the store writes
the batch.
"""
