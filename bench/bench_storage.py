"""Storage per span: bytes each stored span costs on SQLite and PostgreSQL, before and after storing content once.

Two span sets, N spans each: ``corpus``, the real framework traces of the shared corpus
(``langfuse/otlp-derived``: CrewAI, Google ADK, OpenAI Agents, LlamaIndex, ... as OTLP), repeated with fresh
ids; and ``sdk``, spans shaped like the SDK's chat spans (GenAI attributes, prompt and variant) carrying the
corpus's real Vicuna questions and five models' real answers as ``plaudit.input``/``plaudit.output``. Each set
is written by the collector's own write path (``build_batch`` then ``write_batch``) into a fresh database
twice: in the layout before this change (the input and output text kept a second time in the attributes JSON:
the baseline, measured in the same run) and in today's layout.

Figures: SQLite file size / N (after a WAL checkpoint); PostgreSQL ``pg_total_relation_size`` of ``spans`` and
``span_events`` (heap, TOAST and indexes) / N.

Usage: python bench/bench_storage.py [--spans N] [--skip-pg]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from _common import pg_schema
from bench_ingest import _kv
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from plaudit_collector.ingest import content, decode
from plaudit_collector.ingest.batch import COLUMN_AT, IngestBatch
from plaudit_collector.ingest.spans import build_batch
from plaudit_collector.store.batches import write_batch
from plaudit_collector.store.db import Database
from plaudit_collector.store.spans import received_value
from plaudit_collector.store.tables import utcnow

CORPUS = Path(os.environ.get("PLAUDIT_TEST_CORPUS") or Path(__file__).resolve().parents[2] / "shared" / "corpus")
SPANS_PER_REQUEST = 512


def corpus_requests(n: int) -> Iterator[ExportTraceServiceRequest]:
    """The corpus's framework traces, over and over with fresh trace and span ids, until ``n`` spans."""
    docs = [json.loads(path.read_text()) for path in sorted((CORPUS / "langfuse" / "otlp-derived").glob("*.otlp.json"))]
    if not docs:
        raise SystemExit(f"no corpus at {CORPUS} (PLAUDIT_TEST_CORPUS names another place)")
    sent = 0
    while sent < n:
        for doc in docs:
            trace_id = uuid.uuid4().hex
            ids: dict[str, str] = {}
            text = json.dumps(doc)
            request = decode.parse_request(text.encode(), "application/json")
            for rs in request.resource_spans:
                for ss in rs.scope_spans:
                    for span in ss.spans:
                        span.trace_id = bytes.fromhex(trace_id)
                        old = span.span_id.hex()
                        span.span_id = bytes.fromhex(ids.setdefault(old, uuid.uuid4().hex[:16]))
                        if span.parent_span_id:
                            parent = span.parent_span_id.hex()
                            span.parent_span_id = bytes.fromhex(ids.setdefault(parent, uuid.uuid4().hex[:16]))
            count = sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
            yield request
            sent += count
            if sent >= n:
                return


def sdk_requests(n: int) -> Iterator[ExportTraceServiceRequest]:
    """Spans shaped like the SDK's chat spans, with the corpus's real questions and five models' real answers
    (``feedback/prd-vicuna80``) as ``plaudit.input``/``plaudit.output``."""
    base = CORPUS / "feedback" / "prd-vicuna80"
    questions = {
        q["question_id"]: q["text"]
        for q in map(json.loads, (base / "prompts" / "vicuna_questions.jsonl").read_text().splitlines())
    }
    answers = [
        json.loads(line)
        for path in sorted((base / "generations").glob("answer_*.jsonl"))
        for line in path.read_text().splitlines()
        if line.strip()
    ]
    rng = random.Random(7)
    now = time.time_ns()
    sent = 0
    while sent < n:
        request = ExportTraceServiceRequest()
        rs = request.resource_spans.add()
        rs.resource.attributes.extend([_kv("service.name", "support-bot"), _kv("telemetry.sdk.language", "python")])
        ss = rs.scope_spans.add()
        ss.scope.name = "plaudit"
        for _ in range(min(SPANS_PER_REQUEST, n - sent)):
            answer = answers[sent % len(answers)]
            question = questions[answer["question_id"]]
            span = ss.spans.add(
                trace_id=rng.randbytes(16),
                span_id=rng.randbytes(8),
                name="answer",
                kind=3,
                start_time_unix_nano=now + sent * 1000,
                end_time_unix_nano=now + sent * 1000 + 900_000_000,
            )
            span.attributes.extend(
                [
                    _kv("plaudit.span.kind", "llm"),
                    _kv("gen_ai.operation.name", "chat"),
                    _kv("gen_ai.provider.name", "openai"),
                    _kv("gen_ai.request.model", answer["model_id"]),
                    _kv("gen_ai.usage.input_tokens", len(question) // 4),
                    _kv("gen_ai.usage.output_tokens", len(answer["text"]) // 4),
                    _kv("gen_ai.request.temperature", 0.2),
                    _kv("plaudit.prompt.name", "support-answer"),
                    _kv("plaudit.prompt.version", "3"),
                    _kv("plaudit.variant", rng.choice(["a", "b"])),
                    _kv("plaudit.input", json.dumps({"question": question})),
                    _kv("plaudit.output", answer["text"]),
                ]
            )
            sent += 1
        yield request


def _before_layout(batch: IngestBatch) -> IngestBatch:
    """The batch as the collector stored it before: the content attributes put back into the attributes JSON."""
    at, inp, out = COLUMN_AT["attributes"], COLUMN_AT["input"], COLUMN_AT["output"]
    batch.rows = [
        (*row[:at], decode.dumps(content.full(json.loads(row[at]), row[inp], row[out])), *row[at + 1 :])
        for row in batch.rows
    ]
    return batch


def store(url: str, requests: Iterator[ExportTraceServiceRequest], *, before: bool) -> int:
    """Write the spans through the collector's write path; returns how many were stored."""
    db = Database(url)
    db.prepare()
    stored = 0
    try:
        for request in requests:
            batch = build_batch(request, "bench", received=received_value(db, utcnow()))
            write_batch(db, _before_layout(batch) if before else batch)
            stored += len(batch.rows)
    finally:
        db.dispose()
    return stored


def sqlite_bytes(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path.stat().st_size


def pg_bytes(url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            query = "SELECT pg_total_relation_size('spans') + pg_total_relation_size('span_events')"
            return int(conn.execute(text(query)).scalar_one())
    finally:
        engine.dispose()


def measure(backend: str, source: Callable[[int], Iterator[ExportTraceServiceRequest]], n: int, before: bool) -> float:
    """Bytes per stored span for one backend, span set and layout, in a fresh database."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "storage.db"
            count = store(f"sqlite:///{path}", source(n), before=before)
            return sqlite_bytes(path) / count
    with pg_schema() as url:
        count = store(url, source(n), before=before)
        return pg_bytes(url) / count


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spans", type=int, default=5120, help="spans per set, backend and layout")
    parser.add_argument("--skip-pg", action="store_true")
    args, _ = parser.parse_known_args()
    backends = ["sqlite"] if args.skip_pg else ["sqlite", "postgresql"]
    print(f"bytes per stored span, {args.spans} spans per set (before: content also in the attributes JSON)")
    print(f"{'set':<8}{'backend':<12}{'before':>10}{'now':>10}{'now/before':>12}")
    for name, source in (("corpus", corpus_requests), ("sdk", sdk_requests)):
        for backend in backends:
            started = time.perf_counter()
            before = measure(backend, source, args.spans, before=True)
            now = measure(backend, source, args.spans, before=False)
            print(
                f"{name:<8}{backend:<12}{before:>10.0f}{now:>10.0f}{now / before:>12.2f}"
                f"   ({time.perf_counter() - started:.0f} s)",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
