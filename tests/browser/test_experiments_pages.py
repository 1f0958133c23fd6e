"""The experiments pages in a real browser, on SQLite and PostgreSQL: the list links each experiment to its
report, and the report page shows per segment the figures ``GET /v1/experiments/{name}/report`` returns (score
with interval, IPS and self-normalised estimates, probability of being best, regret, the recommendation) and
a traffic-share chart."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from tests.browser.test_workspace_pages import shot

# An app serving two answer styles to two plans through the SDK; "detailed" pleases the pro plan more.
APP = textwrap.dedent(
    """
    import random, plaudit
    rng = random.Random(7)
    exp = plaudit.Experiment("answer-style", variants={"concise": {"model": "m-small"},
                             "detailed": {"model": "m-large"}}, score="thumbs", segment_by="plan", seed=3)
    for i in range(160):
        plan = "pro" if i % 2 else "free"
        with exp.choose(user_id=f"u{i}", segment=plan) as choice, plaudit.span("answer", kind="llm"):
            pass
        rate = {"pro": {"detailed": 0.9, "concise": 0.3}, "free": {"detailed": 0.55, "concise": 0.5}}[plan]
        plaudit.feedback(choice.ref, "thumbs", rng.random() < rate[choice.variant], source="end_user")
    exp.close()
    print(plaudit.flush())
    """
)


@pytest.fixture(scope="module")
def experimented(workspace: Any) -> Any:
    env = {**os.environ, "PLAUDIT_ENDPOINT": workspace.url, "OTEL_SERVICE_NAME": "browser-tests"}
    ran = subprocess.run([sys.executable, "-c", APP], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert ran.returncode == 0, ran.stderr
    return workspace


def test_experiment_list_and_report(page: Any, experimented: Any, screens: Path) -> None:
    page.goto(experimented.url + "/experiments")
    expect(page.get_by_role("heading", name="Experiments", level=1)).to_be_visible()
    expect(page.get_by_role("link", name="Experiments")).to_have_attribute("aria-current", "page")
    listed = page.get_by_role("table", name="Experiments")
    expect(listed.get_by_role("row")).to_have_count(2)
    expect(listed.get_by_role("row").nth(1)).to_contain_text("thompson")
    shot(page, screens, "experiments", experimented.backend)
    listed.get_by_role("link", name="answer-style").click()

    expect(page).to_have_url(f"{experimented.url}/experiments/answer-style")
    expect(page.get_by_role("heading", name="answer-style", level=1)).to_be_visible()
    report = experimented.http.get("/v1/experiments/answer-style/report").json()
    scopes = [("Overall", report["overall"])] + [(f"Segment plan = {s['segment']}", s) for s in report["segments"]]
    assert {label for label, _ in scopes} == {"Overall", "Segment plan = pro", "Segment plan = free"}
    for label, scope in scopes:
        region = page.get_by_role("region", name=label)
        expect(region.get_by_role("status")).to_contain_text(scope["recommendation"]["reason"])
        expect(region.get_by_role("img", name=f"Traffic share over time, {label}").locator("canvas")).to_have_count(1)
        rows = region.get_by_role("table", name=f"Variants, {label}").get_by_role("row")
        expect(rows).to_have_count(len(scope["variants"]) + 1)
        for variant in scope["variants"]:
            row = rows.filter(has_text=variant["variant"])
            expect(row).to_contain_text(f"{variant['mean']:.3f}")
            expect(row).to_contain_text(f"{variant['snips']:.3f}")
            expect(row).to_contain_text(f"{variant['ips']:.3f}")
            expect(row).to_contain_text(f"{variant['prob_best'] * 100:.1f}%")
        if scope["expected_regret"] is not None:
            expect(region).to_contain_text(f"{scope['expected_regret']:.4f}")
    shot(page, screens, "experiment", experimented.backend)


def test_an_unknown_experiment_says_so(page: Any, experimented: Any) -> None:
    page.goto(experimented.url + "/experiments/nothing-here")
    expect(page.get_by_role("alert")).to_contain_text("nothing-here")
