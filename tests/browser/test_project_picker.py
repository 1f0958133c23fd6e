"""The project picker in a real browser, on SQLite and PostgreSQL: with more than one project readable, the
header offers them (``GET /v1/projects``); the choice is sent as ``X-Plaudit-Project`` on every API call, kept
in the URL (``?project=``) and carried to the next page."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.sync_api import expect
from tests.browser.test_workspace_pages import shot


def test_pick_a_project(page: Any, workspace: Any, screens: Path) -> None:
    made = workspace.http.put(
        "/v1/score-configs/quality",
        json={"type": "numeric", "min": 1, "max": 5},
        headers={"X-Plaudit-Project": "team-b"},
    )
    assert made.status_code in (200, 201), made.text
    listed = workspace.http.get("/v1/projects").json()
    assert "team-b" in listed["projects"] and listed["current"] == listed["default"]
    assert workspace.http.get("/v1/projects", headers={"X-Plaudit-Project": "team-b"}).json()["current"] == "team-b"

    sent: list[str | None] = []
    page.on("request", lambda r: sent.append(r.headers.get("x-plaudit-project")) if "/v1/" in r.url else None)
    page.goto(workspace.url + "/traces")
    expect(page.get_by_role("table").get_by_role("row")).to_have_count(32)
    picker = page.get_by_role("navigation", name="Workspace").get_by_label("Project")
    expect(picker).to_have_value(listed["default"])
    sent.clear()
    picker.select_option("team-b")
    expect(page).to_have_url(f"{workspace.url}/traces?project=team-b")
    expect(page.get_by_role("table").get_by_role("row")).to_have_count(0)
    shot(page, screens, "project-picker", workspace.backend)
    assert sent and set(sent) == {"team-b"}

    sent.clear()
    page.get_by_role("link", name="Leaderboard").click()
    expect(page).to_have_url(re.compile(r"/leaderboard\?project=team-b"))
    expect(page.get_by_role("heading", name="Leaderboard", level=1)).to_be_visible()
    expect(page.get_by_label("Score", exact=True)).to_contain_text("quality")
    page.wait_for_load_state("networkidle")
    assert sent and set(sent) == {"team-b"}

    page.get_by_role("navigation", name="Workspace").get_by_label("Project").select_option(listed["default"])
    expect(page).to_have_url(f"{workspace.url}/leaderboard")  # a new project starts the page afresh
