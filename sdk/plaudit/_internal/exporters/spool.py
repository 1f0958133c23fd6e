"""Where undelivered span batches wait: a bounded queue in memory, or OTLP protobuf files on disk.

Both drop the oldest batch first when full and say how many spans that cost. Files are complete
``ExportTraceServiceRequest`` messages, so a spool left behind by one process is replayed by the next
(the collector's ingest is idempotent on trace and span id, so a batch sent twice is stored once). A file
that cannot be read back (corrupt, unreadable, or a directory in its place) is quarantined once under a
``.corrupt`` name, never retried, so it cannot stop the files behind it.
"""

from __future__ import annotations

import collections
import functools
import itertools
import os
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as PbSpan
from opentelemetry.proto.trace.v1.trace_pb2 import SpanFlags
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

from plaudit._internal.pids import alive

SUFFIX = ".otlp"
_CLAIMED = ".sending"
QUARANTINE = ".corrupt"
_STALE_CLAIM_SECONDS = 60.0

_KINDS = {
    PbSpan.SPAN_KIND_INTERNAL: SpanKind.INTERNAL,
    PbSpan.SPAN_KIND_SERVER: SpanKind.SERVER,
    PbSpan.SPAN_KIND_CLIENT: SpanKind.CLIENT,
    PbSpan.SPAN_KIND_PRODUCER: SpanKind.PRODUCER,
    PbSpan.SPAN_KIND_CONSUMER: SpanKind.CONSUMER,
}


def encode_batch(spans: Sequence[ReadableSpan]) -> bytes:
    """The OTLP request OpenTelemetry's exporter would send for these spans."""
    return encode_spans(spans).SerializeToString()


def _value(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which == "array_value":
        return tuple(_value(v) for v in value.array_value.values)
    if which == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in value.kvlist_value.values}
    return None if which is None else getattr(value, which)


def _attributes(kvs: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in kvs}


def _context(trace_id: bytes, span_id: bytes, flags: int, trace_state: str = "") -> SpanContext:
    return SpanContext(
        int.from_bytes(trace_id, "big"),
        int.from_bytes(span_id, "big"),
        is_remote=bool(flags & SpanFlags.SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK),
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
        trace_state=TraceState.from_header([trace_state]) if trace_state else None,
    )


def decode_batch(data: bytes) -> list[ReadableSpan]:
    """Spans back from :func:`encode_batch`, ready for OpenTelemetry's exporter to send again."""
    request = ExportTraceServiceRequest.FromString(data)
    spans: list[ReadableSpan] = []
    for rs in request.resource_spans:
        resource = Resource(_attributes(rs.resource.attributes), rs.schema_url or None)
        for ss in rs.scope_spans:
            scope = InstrumentationScope(
                ss.scope.name, ss.scope.version or None, ss.schema_url or None, _attributes(ss.scope.attributes)
            )
            for sp in ss.spans:
                own = _context(sp.trace_id, sp.span_id, 0, sp.trace_state)
                parent = _context(sp.trace_id, sp.parent_span_id, sp.flags) if sp.parent_span_id else None
                spans.append(
                    ReadableSpan(
                        name=sp.name,
                        context=own,
                        parent=parent,
                        resource=resource,
                        attributes=_attributes(sp.attributes),
                        events=[Event(e.name, _attributes(e.attributes), e.time_unix_nano) for e in sp.events],
                        links=[
                            Link(_context(link.trace_id, link.span_id, link.flags), _attributes(link.attributes))
                            for link in sp.links
                        ],
                        kind=_KINDS.get(sp.kind, SpanKind.INTERNAL),  # type: ignore[call-overload]
                        status=Status(StatusCode(sp.status.code), sp.status.message or None),
                        start_time=sp.start_time_unix_nano,
                        end_time=sp.end_time_unix_nano,
                        instrumentation_scope=scope,
                    )
                )
    return spans


@dataclass(eq=False)
class Batch:
    """One undelivered export: spans in memory, or the file holding them."""

    count: int
    spans: list[ReadableSpan] | None = None
    path: Path | None = None
    server_errors: int = 0
    """Consecutive 5xx answers to this batch: past a few, it is split to find the spans the collector fails on."""

    def load(self) -> list[ReadableSpan]:
        if self.spans is not None:
            return self.spans
        assert self.path is not None
        return decode_batch(self.path.read_bytes())


class MemoryBacklog:
    """Batches kept in memory, at most ``max_spans`` spans; the oldest batch goes first when full."""

    durable = False

    def __init__(self, max_spans: int) -> None:
        self.max_spans = max(max_spans, 1)
        self._batches: collections.deque[Batch] = collections.deque()
        self._spans = 0
        self._lock = threading.Lock()

    def add(self, spans: list[ReadableSpan]) -> int:
        """Queue a batch; returns how many (older) spans were dropped to make room."""
        dropped = 0
        with self._lock:
            self._batches.append(Batch(len(spans), spans=spans))
            self._spans += len(spans)
            while self._spans > self.max_spans and self._batches:
                old = self._batches.popleft()
                self._spans -= old.count
                dropped += old.count
        return dropped

    def peek(self) -> Batch | None:
        with self._lock:
            return self._batches[0] if self._batches else None

    def remove(self, batch: Batch) -> None:
        with self._lock:
            if self._batches and self._batches[0] is batch:
                self._batches.popleft()
                self._spans -= batch.count

    def replace(self, batch: Batch, spans: list[ReadableSpan]) -> None:
        """Part of the first batch was delivered: keep only ``spans`` of it, first in line."""
        with self._lock:
            if self._batches and self._batches[0] is batch:
                self._spans += len(spans) - batch.count
                batch.spans, batch.count = spans, len(spans)

    def release(self, batch: Batch) -> None:
        """Sending failed: the batch simply stays first in line."""

    def drain(self) -> list[Batch]:
        """Take every batch out, oldest first (at shutdown, to spool or count them)."""
        with self._lock:
            batches = list(self._batches)
            self._batches.clear()
            self._spans = 0
        return batches

    def pending_spans(self) -> int:
        return self._spans

    def __len__(self) -> int:
        return len(self._batches)


class DiskBacklog:
    """Batches as files under ``<spool_dir>/spans/``, at most ``max_bytes``; the oldest file goes first.

    Names sort by creation time (``<time_ns>-<pid>-<seq>-<spans>.otlp``), so replay keeps the order spans
    were produced in, across restarts. A file is written under a temporary name and renamed, so a crash
    never leaves half a batch; a file being sent is renamed to ``*.sending`` so that other processes
    sharing the directory skip it, and such claims left by a dead process are released on start.
    """

    durable = True

    def __init__(self, spool_dir: str | os.PathLike[str], max_bytes: int) -> None:
        self.dir = Path(spool_dir) / "spans"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max(max_bytes, 1)
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self._held: list[Batch] = []  # files this process has claimed and not yet settled
        self._closed = False
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=functools.partial(_after_fork, weakref.ref(self)))
        self._release_stale_claims()

    def _after_fork(self) -> None:
        # The parent still holds and sends what it claimed; a fork taken while a claim was made would
        # otherwise leave the child with a lock that is never released.
        self._lock = threading.Lock()
        self._held = []

    def _release_stale_claims(self) -> None:
        now = time.time()
        for claimed in self.dir.glob(f"*{SUFFIX}.*{_CLAIMED}"):
            try:
                owner = int(claimed.name.rsplit(".", 2)[-2])
                if owner == os.getpid() or now - claimed.stat().st_mtime > _STALE_CLAIM_SECONDS or not alive(owner):
                    claimed.rename(claimed.with_name(claimed.name.split(SUFFIX)[0] + SUFFIX))
            except (OSError, ValueError):
                continue
        for tmp in self.dir.glob("*.tmp"):
            try:
                if now - tmp.stat().st_mtime > _STALE_CLAIM_SECONDS:
                    tmp.unlink()
            except OSError:
                continue

    def _files(self) -> list[Path]:
        return sorted(self.dir.glob(f"*{SUFFIX}"))

    def add(self, spans: list[ReadableSpan]) -> int:
        """Write a batch to its own file; returns how many (older) spans were dropped to stay in bounds."""
        data = encode_batch(spans)
        name = f"{time.time_ns():020d}-{os.getpid()}-{next(self._seq):08d}-{len(spans)}{SUFFIX}"
        tmp = self.dir / f"{name}.tmp"
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.dir / name)
        return self._trim()

    def _trim(self) -> int:
        dropped = 0
        with self._lock:
            files = self._files()
            sizes = {path: _size(path) for path in files}
            total = sum(sizes.values())
            for path in files:
                if total <= self.max_bytes:
                    break
                try:
                    path.unlink()
                except OSError:
                    continue
                total -= sizes[path]
                dropped += span_count(path)
        return dropped

    def peek(self) -> Batch | None:
        """Claim the oldest unclaimed file (skipping ones another process holds). A directory where a file
        should be is returned too: loading it fails, so it is set aside, counted and said like a corrupt file."""
        with self._lock:  # the claim and its record are one step: close() never misses a claim being made
            if self._closed:
                return None
            for path in self._files():
                claimed = path.with_name(f"{path.name}.{os.getpid()}{_CLAIMED}")
                try:
                    path.rename(claimed)
                except OSError:
                    continue  # taken by another process, or trimmed, since listing
                batch = Batch(span_count(path), path=claimed)
                self._held.append(batch)
                return batch
        return None

    def close(self) -> None:
        """Give back every file this process holds and claim no more: at exit, whatever the sender thread
        was doing, the next start finds all of them under their own names."""
        with self._lock:
            self._closed = True
            held, self._held = self._held, []
        mine = f".{os.getpid()}{_CLAIMED}"
        for batch in held:
            if batch.path is not None and batch.path.name.endswith(mine):
                self.release(batch)

    def _settle(self, batch: Batch) -> None:
        with self._lock:
            if batch in self._held:
                self._held.remove(batch)

    def remove(self, batch: Batch) -> None:
        self._settle(batch)
        if batch.path is not None:
            batch.path.unlink(missing_ok=True)

    def quarantine(self, batch: Batch) -> Path | None:
        """Set an unreadable file aside under a ``.corrupt`` name, once, and say where it lies now.

        None when :meth:`close` gave the file back while it was being read: then it was not unreadable,
        only renamed under the reader, and it must stay in line for the next start, not be set aside."""
        with self._lock:  # against close(): a file is either given back or set aside, never both
            if batch not in self._held:
                return None
            self._held.remove(batch)
            if batch.path is None:
                return None
            target = batch.path.with_name(batch.path.name.split(SUFFIX)[0] + SUFFIX + QUARANTINE)
            try:
                batch.path.rename(target)
            except OSError:
                return batch.path  # left under its claim, which the next start releases
            return target

    def replace(self, batch: Batch, spans: list[ReadableSpan]) -> None:
        """Part of a claimed file was delivered: write the rest under the file's name, keeping its place.

        A file :meth:`close` gave back meanwhile stays whole: the next start sends all of it again, and the
        collector stores the part it already has once."""
        with self._lock:  # against close(): the file is either given back whole or rewritten, never both
            if batch not in self._held or batch.path is None:
                return
            name = batch.path.name.split(SUFFIX)[0].rsplit("-", 1)[0] + f"-{len(spans)}{SUFFIX}"
            original = batch.path.with_name(name)
            tmp = original.with_name(original.name + ".tmp")
            with open(tmp, "wb") as fh:
                fh.write(encode_batch(spans))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, original)
            if batch.path != original:
                batch.path.unlink(missing_ok=True)
            batch.path, batch.count = original, len(spans)

    def release(self, batch: Batch) -> None:
        """Give a claimed file back (sending failed), keeping its place in the order."""
        self._settle(batch)
        if batch.path is not None and batch.path.name.endswith(_CLAIMED):
            original = batch.path.with_name(batch.path.name.split(SUFFIX)[0] + SUFFIX)
            try:
                batch.path.rename(original)
            except OSError:
                return
            batch.path = original

    def pending_spans(self) -> int:
        return sum(span_count(path) for path in self._files())

    def __len__(self) -> int:
        return len(self._files())


def _after_fork(ref: weakref.ref[DiskBacklog]) -> None:
    backlog = ref()
    if backlog is not None:
        backlog._after_fork()


def span_count(path: Path) -> int:
    try:
        return int(path.name.split(SUFFIX)[0].rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return 0


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
