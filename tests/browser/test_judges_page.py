"""The judges page in a real browser, on SQLite and PostgreSQL: each judge's figures are the report's
(``GET /v1/analytics/judges``), its bias per group flags the group it favours, the defined judges show whether
they are enabled, and the largest disagreements link to their traces."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from tests.browser.test_workspace_pages import shot

JUDGE = "grader@5f2a9c0d1e7b"
PROMPT = "Is this answer helpful? {{input}} -> {{output}}"


@pytest.fixture(scope="module")
def judged(workspace: Any) -> Any:
    """A judge that calls every answer of one variant good and otherwise agrees with the users' thumbs but
    for the first item of each variant; and two judge definitions, one of them disabled."""
    given = workspace.http.get("/v1/feedback", params={"name": "thumbs", "limit": 500}).json()
    spans = {
        s["span_id"]: s
        for t in workspace.traces()
        for s in workspace.http.get(f"/v1/traces/{t['trace_id']}").json()["spans"]
    }
    items, flipped = [], set()
    for f in (f for f in given["data"] if f["source"] == "end_user"):
        variant = spans.get(f["span_id"], {}).get("variant")
        value = True if variant == "v1/fake-small" else f["value"] != (variant not in flipped)
        flipped.add(variant)
        items.append(
            {
                **{k: f[k] for k in ("trace_id", "span_id")},
                "name": "thumbs",
                "value": value,
                "source": "llm_judge",
                "author": JUDGE,
            }
        )
    assert workspace.http.post("/v1/feedback", json={"items": items}).status_code == 201
    for name, enabled in (("grader", True), ("strict-grader", False)):
        body = {
            "name": name,
            "score": "thumbs",
            "score_config": {"type": "boolean"},
            "prompt": PROMPT,
            "model": "fake-judge",
        }
        body["enabled"] = enabled
        created = workspace.http.post("/v1/judges", json=body)
        assert created.status_code == 201, created.text
    return workspace


def test_judges_page_shows_the_report(page: Any, judged: Any, screens: Path) -> None:
    params = {"score": "thumbs", "human_source": "end_user"}
    report = judged.http.get("/v1/analytics/judges", params=params).json()
    entry = next(e for e in report["judges"] if e["judge"] == JUDGE)
    page.goto(f"{judged.url}/judges?score=thumbs&human_source=end_user")
    expect(page.get_by_role("heading", name="Judges", level=1)).to_be_visible()
    expect(page.get_by_role("link", name="Judges")).to_have_attribute("aria-current", "page")
    panel = page.get_by_role("region", name=f"Judge {JUDGE}")
    expect(panel).to_contain_text(f"+{entry['bias']:.3f}")
    expect(panel).to_contain_text(f"{entry['bias_ci_low']:+.3f} to {entry['bias_ci_high']:+.3f}")
    expect(panel).to_contain_text(f"{entry['alpha']:.3f}"[:4])
    expect(panel.get_by_role("table", name=f"Confusion table for {JUDGE}")).to_be_visible()
    groups = panel.get_by_role("table", name=f"Bias per group for {JUDGE}")
    expect(groups.get_by_role("row")).to_have_count(len(entry["groups"]) + 1)
    flagged = [g["group"]["variant"] for g in entry["groups"] if g["flagged"]]
    expect(groups.get_by_role("row").filter(has_text="flagged")).to_have_count(len(flagged))
    for variant in flagged:
        expect(groups.get_by_role("row").filter(has_text="flagged")).to_contain_text(variant)
    if entry["group_bias_differs"] is not None:
        differs = "differs between groups" if entry["group_bias_differs"] else "No evidence the bias differs"
        expect(panel).to_contain_text(differs)

    defined = page.get_by_role("table", name="Defined judges")
    expect(defined.get_by_role("row").filter(has_text="strict-grader")).to_contain_text("disabled")
    expect(defined.get_by_role("row").filter(has_text="fake-judge").first).to_contain_text("enabled")

    disputes = judged.http.get("/v1/analytics/disagreements", params={"score": "thumbs", "limit": 25}).json()
    table = page.get_by_role("table", name="Disagreements on thumbs")
    expect(table.get_by_role("row")).to_have_count(len(disputes["items"]) + 1)
    shot(page, screens, "judges", judged.backend)
    first = disputes["items"][0]
    table.get_by_role("row").nth(1).get_by_role("link").click()
    expect(page).to_have_url(f"{judged.url}/traces/{first['trace_id']}#span={first['span_id']}")


def test_a_queue_form_orders_by_disagreement(page: Any, judged: Any) -> None:
    page.goto(f"{judged.url}/queues?reviewer=rita")
    page.get_by_role("button", name="New queue").click()
    form = page.get_by_role("form", name="Create a review queue")
    form.get_by_label("Name", exact=True).fill("Disputed thumbs")
    form.get_by_label("Order", exact=True).select_option(label="Judge–human disagreement first")
    expect(form.get_by_label("Order", exact=True)).to_have_accessible_description(re.compile("differ most"))
    form.get_by_role("button", name="Create queue").click()
    expect(page).to_have_url(re.compile(r"/queues/\d+"))
    queue_id = page.url.rsplit("/", 1)[-1].split("?")[0]
    assert judged.http.get(f"/v1/queues/{queue_id}").json()["order"] == "disagreement"
    disputes = judged.http.get("/v1/analytics/disagreements", params={"score": "thumbs"}).json()["items"]
    gap = {d["span_id"]: d["disagreement"] for d in disputes}
    first = judged.http.get(f"/v1/queues/{queue_id}/next", params={"reviewer": "rita"}).json()  # held for her
    assert gap.get(first["span"]["span_id"]) == disputes[0]["disagreement"]  # one of the largest gaps
