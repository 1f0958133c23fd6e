"""The README holds: its Quickstart runs as written against a real collector, and its route table names every
route the collector serves."""

from __future__ import annotations

import itertools
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _table() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("| route | |")
    return text[start : text.index("\n\n", start)]


def _expand(path: str) -> set[str]:
    """``/v1/queues[/{id}]`` and ``/v1/export/{spans,finetune}`` as the plain paths they stand for, with every
    path parameter written ``{}``."""
    optional = re.search(r"\[([^\[\]]*)\]", path)
    if optional:
        before, after = path[: optional.start()], path[optional.end() :]
        return _expand(before + after) | _expand(before + optional.group(1) + after)
    parts = re.split(r"\{([^{}]*,[^{}]*)\}", path)
    choices = [[part] if i % 2 == 0 else part.split(",") for i, part in enumerate(parts)]
    return {re.sub(r"\{[^{}]*\}", "{}", "".join(combo)) for combo in itertools.product(*choices)}


def documented() -> set[str]:
    found: set[str] = set()
    for code in re.findall(r"`([^`]*)`", _table()):
        for path in re.findall(r"(/v1/[^\s?`]*|/healthz)", code):
            found |= _expand(path.rstrip(",").rstrip("["))  # "orphans[?older_than=...]": the query left off
    return found


def test_every_route_is_in_the_readme_table(tmp_path: Path) -> None:
    from plaudit_collector.app import create_app
    from plaudit_collector.settings import CollectorSettings

    app = create_app(CollectorSettings(db_url=f"sqlite:///{tmp_path / 'routes.db'}", migrate=False))
    served = {re.sub(r"\{[^{}]*\}", "{}", path) for path in app.openapi()["paths"]}
    assert "/v1/traces" in served and "/v1/queues/{}/next" in served  # the schema lists the routes
    missing = sorted(served - documented())
    assert not missing, f"routes missing from the README's route table: {missing}"


def test_the_quickstart_runs_as_written(tmp_path: Path) -> None:
    from plaudit_collector.server import BackgroundServer
    from plaudit_collector.settings import CollectorSettings

    text = README.read_text(encoding="utf-8")
    quickstart = text[text.index("## Quickstart") : text.index("\n## ", text.index("## Quickstart") + 1)]
    (snippet,) = re.findall(r"```python\n(.*?)```", quickstart, re.S)
    (tmp_path / "quickstart.py").write_text(snippet, encoding="utf-8")
    db = tmp_path / "quickstart.db"
    with BackgroundServer(CollectorSettings(db_url=f"sqlite:///{db}")) as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PLAUDIT_", "OTEL_"))}
        env["PLAUDIT_ENDPOINT"] = server.url  # where `plaudit serve` listens, on a free port here
        result = subprocess.run(
            [sys.executable, str(tmp_path / "quickstart.py")],
            capture_output=True, text=True, env=env, timeout=120, check=False, cwd=tmp_path,
        )  # fmt: skip
        server.app.state.db.dispose()
    assert result.returncode == 0, result.stdout + result.stderr
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rated = conn.execute(
            "SELECT spans.name, feedback.author FROM feedback JOIN spans ON spans.span_id = feedback.span_id "
            "WHERE feedback.name = 'thumbs'"
        ).fetchall()
    assert rated == [("answer", "user-42")], "the rating lands on the traced call, by its author"
