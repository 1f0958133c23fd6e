"""Shared fixtures: a fresh database per test (SQLite file and PostgreSQL schema) and a real collector."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

PG_URL = os.environ.get("PLAUDIT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
CORPUS = Path(os.environ.get("PLAUDIT_TEST_CORPUS") or Path(__file__).resolve().parents[2] / "shared" / "corpus")


def _pg_available() -> str | None:
    """None when PostgreSQL answers, else the reason."""
    try:
        import psycopg

        with psycopg.connect(PG_URL.replace("postgresql+psycopg://", "postgresql://"), connect_timeout=3):
            return None
    except Exception as exc:
        return str(exc)


_PG_PROBLEM: str | None | bool = False


def _require_pg() -> None:
    global _PG_PROBLEM
    if _PG_PROBLEM is False:
        _PG_PROBLEM = _pg_available()
    if _PG_PROBLEM:
        if os.environ.get("PLAUDIT_REQUIRE_PG") or os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required here but unreachable at {PG_URL}: {_PG_PROBLEM}")
        pytest.skip(f"PostgreSQL unreachable at {PG_URL}: {_PG_PROBLEM}")


@contextmanager
def _pg_schema() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a schema made for the caller and dropped after it."""
    _require_pg()
    import psycopg

    schema = f"plaudit_test_{uuid.uuid4().hex[:12]}"
    admin = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def release_finished_apps() -> None:
    """Empty FastAPI's memo of which callables are coroutines or generators.

    Its keys hold the callables, and those of each app's docs routes are closures over the app: every collector
    a test made would stay alive, about 2 MB each, until 4,096 newer callables push it out. Over the suite that
    is a heap of millions of objects, and each full garbage collection then pauses every thread for seconds
    (long enough to stall a collector's start-up past its timeout)."""
    from fastapi.dependencies import models

    for value in vars(models).values():
        if callable(getattr(value, "cache_clear", None)):
            value.cache_clear()


@pytest.fixture(autouse=True)
def _release_apps_after_each_test() -> Iterator[None]:
    yield
    release_finished_apps()


@pytest.fixture
def release_apps() -> Callable[[], None]:
    """:func:`release_finished_apps`, for the test that checks it frees a stopped collector."""
    return release_finished_apps


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a schema made for this test and dropped after it."""
    with _pg_schema() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'plaudit.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every storage test runs on both backends."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'plaudit.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Like ``db_url``, for the tests of one module sharing one database (and one collector)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'plaudit.db'}"
        return
    with _pg_schema() as url:
        yield url


@pytest.fixture
def collector(db_url: str) -> Iterator[object]:
    """A real collector (uvicorn on a free port) over the test's database."""
    from plaudit_collector.server import BackgroundServer
    from plaudit_collector.settings import CollectorSettings

    server = BackgroundServer(CollectorSettings(db_url=db_url)).start()
    try:
        yield server
    finally:
        server.stop()
        server.app.state.db.dispose()


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS} (PLAUDIT_TEST_CORPUS names another place)")
    return CORPUS
