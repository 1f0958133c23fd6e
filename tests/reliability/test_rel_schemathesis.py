"""Schemathesis against the collector's own OpenAPI schema: whatever it generates, no 5xx.

Every operation in ``/openapi.json`` (routes added later are covered automatically) gets valid and
deliberately invalid requests from Schemathesis' generators (NUL bytes included), sent over real HTTP to
a collector on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from plaudit_collector.server import BackgroundServer
from plaudit_collector.settings import CollectorSettings

EXAMPLES = 10


@pytest.fixture(scope="module")
def live_collector(module_db_url: str) -> Iterator[BackgroundServer]:
    server = BackgroundServer(CollectorSettings(db_url=module_db_url)).start()
    try:
        yield server
    finally:
        server.stop()
        server.app.state.db.dispose()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_no_generated_request_gets_a_5xx(live_collector: BackgroundServer, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_url(f"{live_collector.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 5
    server_errors: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],  # report, don't shrink: shrinking HTTP calls takes minutes
        )
        def call(case: Any) -> None:
            try:
                response = case.call(base_url=live_collector.url, timeout=30)
            except requests.RequestException:  # e.g. a request line past the server's limit: refused, not a 5xx
                return
            if response.status_code >= 500:
                server_errors.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {case!r}")

        try:
            call()
        except Unsatisfiable:  # nothing about this operation can be made invalid (e.g. no parameters)
            assert mode is GenerationMode.NEGATIVE
    assert server_errors == [], server_errors[:5]
