"""Review queues in a real browser, on SQLite and PostgreSQL: two reviewers (two browser profiles) work a queue
with overlap 2 to the end; a pairwise review moves the Bradley–Terry ranking; the API key form when auth is on."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

from playwright.sync_api import expect
from tests.browser.test_workspace_pages import shot

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart.py"


def large_model_details() -> list[str]:
    """The sentence only the quickstart's larger model adds to an answer: how a reviewer tells them apart."""
    answers = runpy.run_path(str(QUICKSTART))["ANSWERS"]
    return [detail for _steps, detail in answers.values()]


def _work(page: Any, url: str, reviewer: str, stars: str) -> int:
    """Rate every item the queue hands this reviewer; returns how many."""
    page.goto(f"{url}?reviewer={reviewer}")
    done = 0
    for _ in range(20):
        heading = page.get_by_role("heading", name="Nothing left for you here")
        form = page.get_by_role("form", name="Rate this span")
        expect(heading.or_(form)).to_be_visible()
        if heading.is_visible():
            return done
        link = page.get_by_role("link", name="Open trace ↗")
        before = link.get_attribute("href")
        if done % 2 == 0:
            form.get_by_role("group", name="thumbs").get_by_role("radio", name="Yes").check()
            form.get_by_label("stars").fill(stars)
            form.get_by_role("button", name="Submit").click()
        else:  # the keyboard: y for thumbs up, a digit on the scale, Enter to submit
            page.get_by_role("heading", level=2).first.click()
            page.keyboard.press("y")
            page.keyboard.press(stars)
            page.keyboard.press("Enter")
        done += 1
        for _wait in range(150):  # until the next item (another span) or the end is shown
            hrefs = link.evaluate_all("links => links.map((a) => a.getAttribute('href'))")
            if heading.is_visible() or (hrefs and hrefs[0] != before):
                break
            page.wait_for_timeout(100)
    raise AssertionError("the queue never ran out")


def test_two_reviewers_work_a_queue_with_overlap_two(browser: Any, workspace: Any, screens: Path) -> None:
    created = workspace.http.post(
        "/v1/queues",
        json={
            "name": "Weekly check",
            "scores": ["thumbs", "stars"],
            "filter": {"span_kind": "llm"},
            "sample": 3,
            "overlap": 2,
        },
    ).json()
    url = f"{workspace.url}/queues/{created['id']}"
    contexts = [browser.new_context(viewport={"width": 1280, "height": 800}) for _ in range(2)]
    try:
        ann, bob = (context.new_page() for context in contexts)
        ann.goto(f"{url}?reviewer=ann")
        bob.goto(f"{url}?reviewer=bob")  # both hold an item at once
        expect(ann.get_by_role("form", name="Rate this span")).to_be_visible()
        expect(bob.get_by_role("form", name="Rate this span")).to_be_visible()
        shot(ann, screens, "queue-review", workspace.backend)
        assert _work(ann, url, "ann", "5") == 3
        assert _work(bob, url, "bob", "2") == 3
        expect(bob.get_by_role("progressbar", name="Progress")).to_have_attribute("aria-valuenow", "100")
        expect(bob.get_by_text("6 of 6 ratings")).to_be_visible()
        shot(bob, screens, "queue-done", workspace.backend)
    finally:
        for context in contexts:
            context.close()
    progress = workspace.http.get(f"/v1/queues/{created['id']}").json()["progress"]
    assert progress["percent"] == 100.0
    assert {r["reviewer"]: r["done"] for r in progress["reviewers"]} == {"ann": 3, "bob": 3}
    stars = workspace.http.get("/v1/feedback", params={"name": "stars", "author": "bob"}).json()["data"]
    assert [f["value"] for f in stars] == [2, 2, 2] and {f["source"] for f in stars} == {"annotator"}


def test_pairwise_review_changes_the_bradley_terry_ranking(page: Any, workspace: Any, screens: Path) -> None:
    created = workspace.http.post(
        "/v1/queues", json={"name": "Small or large", "kind": "pairwise", "filter": {"span_name": "chat"}, "sample": 5}
    ).json()
    assert created["items"] == 5
    page.goto(f"{workspace.url}/queues/{created['id']}?reviewer=pia")
    details = large_model_details()
    for _ in range(created["items"]):
        expect(page.get_by_role("button", name="A is better")).to_be_visible()
        shot(page, screens, "pairwise", workspace.backend)
        side_a = page.get_by_role("region", name="Output A").inner_text()
        # pia always prefers the small model's (shorter) answer, whichever side it is shown on
        a_is_large = any(detail in side_a for detail in details)
        page.get_by_role("button", name="B is better" if a_is_large else "A is better").click()
        expect(page.get_by_role("status").filter(has_text="preferred")).to_be_visible()
    expect(page.get_by_role("heading", name="Nothing left for you here")).to_be_visible()
    page.goto(f"{workspace.url}/preferences?score=preference")
    ranking = page.get_by_role("table", name="Bradley–Terry ranking")
    expect(ranking.get_by_role("row").nth(1)).to_contain_text("fake-small")
    shot(page, screens, "preferences-after", workspace.backend)
    api = workspace.http.get("/v1/analytics/preferences", params={"score": "preference"}).json()
    assert "fake-small" in api["rows"][0]["group"]["variant"]
    assert sum(r["comparisons"] for r in api["rows"]) == 2 * created["items"]


def test_api_key_is_asked_once_per_tab(browser: Any, tmp_path: Path) -> None:
    from plaudit_collector.server import BackgroundServer
    from plaudit_collector.settings import CollectorSettings
    from plaudit_collector.store import projects
    from plaudit_collector.store.db import Database

    url = f"sqlite:///{tmp_path / 'auth.db'}"
    db = Database(url)
    db.prepare()
    key, _ = projects.create_key(db, "default", name="browser")
    db.dispose()
    server = BackgroundServer(CollectorSettings(db_url=url, auth=True)).start()
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.goto(server.url + "/traces")
        dialog = page.get_by_role("dialog", name="API key required")
        dialog.get_by_label("API key").fill("wrong-key")
        dialog.get_by_role("button", name="Use this key").click()
        expect(dialog.get_by_text("unknown or revoked")).to_be_visible()
        dialog.get_by_label("API key").fill(key)
        dialog.get_by_role("button", name="Use this key").click()
        expect(page.get_by_role("heading", name="Traces", level=1)).to_be_visible()
        expect(page.get_by_text("No trace matches")).to_be_visible()
        page.goto(server.url + "/queues")  # same tab: not asked again
        expect(page.get_by_role("heading", name="Review queues", level=1)).to_be_visible()
        expect(page.get_by_role("dialog")).to_have_count(0)
    finally:
        context.close()
        server.stop()
        server.app.state.db.dispose()


def test_a_request_sent_before_the_key_was_entered_does_not_ask_again(browser: Any, tmp_path: Path) -> None:
    """The pages' first requests go out together without a key; one refused after a wrong key was entered
    must not replace the form saying that key was refused. The network holds those two replies so they
    arrive in that order on every run."""
    from plaudit_collector.server import BackgroundServer
    from plaudit_collector.settings import CollectorSettings
    from plaudit_collector.store.db import Database

    url = f"sqlite:///{tmp_path / 'auth.db'}"
    db = Database(url)
    db.prepare()
    db.dispose()
    server = BackgroundServer(CollectorSettings(db_url=url, auth=True)).start()
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    early: list[Any] = []  # /v1/query-model, sent without a key at load
    retried: list[Any] = []  # /v1/projects, sent again with the wrong key

    def hold(route: Any) -> None:
        request_url, key = route.request.url, route.request.headers.get("authorization")
        if "/v1/query-model" in request_url and key is None and not early:
            early.append(route)
        elif "/v1/projects" in request_url and key == "Bearer wrong-key" and not retried:
            retried.append(route)
        else:
            route.continue_()

    try:
        page = context.new_page()
        page.route("**/v1/**", hold)
        page.goto(server.url + "/traces")
        dialog = page.get_by_role("dialog", name="API key required")
        _wait_for(page, early)  # sent while the form is open
        dialog.get_by_label("API key").fill("wrong-key")
        dialog.get_by_role("button", name="Use this key").click()
        _wait_for(page, retried)
        early[0].continue_()  # refused without a key, after the wrong key was entered
        expect(dialog).to_be_visible()  # the form is back; once the wrong key's reply lands it must say why
        retried[0].continue_()
        expect(dialog.get_by_text("unknown or revoked")).to_be_visible()
        expect(page.get_by_role("dialog")).to_have_count(1)
    finally:
        context.close()
        server.stop()
        server.app.state.db.dispose()


def _wait_for(page: Any, held: list[Any]) -> None:
    for _ in range(500):
        if held:
            return
        page.wait_for_timeout(20)
    raise AssertionError("the request was never sent")
