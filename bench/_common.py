"""Pieces the benchmarks share: a throwaway PostgreSQL schema and a free local port."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

from plaudit_collector.server import free_port

__all__ = ["PG_URL", "free_port", "pg_schema"]

PG_URL = os.environ.get("PLAUDIT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@contextlib.contextmanager
def pg_schema() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards; raises if PostgreSQL is down."""
    import psycopg

    schema = f"plaudit_bench_{uuid.uuid4().hex[:10]}"
    admin = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
