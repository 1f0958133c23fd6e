"""Load: 8 concurrent clients send OTLP batches and feedback while an analyst reads the leaderboard.

The CI version runs a few seconds per backend; ``bench/bench_load.py`` runs the same driver for a
minute per backend and prints requests/s, p99 latency and peak RSS.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from rel_helpers import CollectorProcess, db_count

SECONDS = 6.0
MAX_RSS_MB = 600  # the collector holds no per-request state: memory must not grow with the load


def _load_bench_module(name: str) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    path = Path(__file__).parents[2] / "bench" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_driver() -> ModuleType:
    """The load driver of ``bench/bench_load.py``, with the helper module it imports as a script."""
    _load_bench_module("_common")
    return _load_bench_module("bench_load")


def test_eight_clients_get_no_5xx_and_analytics_keeps_answering(db_url: str, tmp_path: Path) -> None:
    driver = load_driver()
    collector = CollectorProcess(db_url, tmp_path).start()
    try:
        assert collector.proc is not None
        # one client first, as bench_load's baseline does: the statistics are imported before the clock starts
        driver.run_load(collector.url, 2.0, clients=1, pid=collector.proc.pid)
        result = driver.run_load(collector.url, SECONDS, clients=8, pid=collector.proc.pid)
    finally:
        collector.stop()
    assert result["errors"] == [], result["errors"][:5]  # 5xx, 503 without Retry-After, failed leaderboard
    assert set(result["statuses"]) <= {200, 201, 429, 503}, result["statuses"]
    assert result["statuses"].get(200, 0) > 0 and result["statuses"].get(201, 0) > 0
    assert result["analytics"] >= 3, "the leaderboard must keep answering while ingest runs"
    if result["peak_rss_mb"]:
        assert result["peak_rss_mb"] < MAX_RSS_MB, result
    spans = db_count(db_url, "SELECT COUNT(*) FROM spans")
    assert spans > 0 and spans % driver.SPANS_PER_BATCH == 0, "batches are stored whole"
