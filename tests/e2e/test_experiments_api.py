"""The experiments API over real HTTP, on SQLite and PostgreSQL: register and merge, change without a
redeploy, sticky assignment, and bad input refused with the field named and nothing stored."""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

import httpx
import pytest
from analytics_seed import Seeder

DEFINITION = {
    "name": "answer-style",
    "score": "thumbs",
    "variants": {"concise": {"model": "m-small"}, "detailed": {"model": "m-large", "config": {"temperature": 0.2}}},
    "segment_by": "plan",
}


def register(http: httpx.Client, **changes: Any) -> httpx.Response:
    return http.post("/v1/experiments", json={**DEFINITION, **changes})


def assigned(http: httpx.Client, name: str, times: int, **params: str) -> Counter[str]:
    counts: Counter[str] = Counter()
    for _ in range(times):
        reply = http.get(f"/v1/experiments/{name}/assign", params=params)
        assert reply.status_code == 200, reply.text
        counts[reply.json()["variant"]] += 1
    return counts


def test_register_creates_then_merges_without_undoing_changes(http: httpx.Client) -> None:
    created = register(http)
    assert created.status_code == 201
    body = created.json()
    assert body["created"] is True and body["policy"] == "thompson" and body["version"] == 1
    assert list(body["variants"]) == ["concise", "detailed"]
    assert body["variants"]["detailed"]["payload"] == {"model": "m-large", "config": {"temperature": 0.2}}

    changed = http.patch("/v1/experiments/answer-style", json={"variants": {"concise": {"status": "removed"}}})
    assert changed.status_code == 200 and changed.json()["variants"]["concise"]["status"] == "removed"

    # the app redeploys with its old definition plus a new variant and another policy
    merged = register(
        http, policy="fixed", variants={**DEFINITION["variants"], "bullets": {"model": "m-small", "style": "list"}}
    )
    assert merged.status_code == 200
    body = merged.json()
    assert body["created"] is False
    assert body["policy"] == "thompson"  # set on purpose earlier: not undone by the code
    assert [n for n in body["notes"] if n.startswith("policy='fixed' not applied")]
    assert {n: v["status"] for n, v in body["variants"].items()} == {
        "concise": "removed",
        "detailed": "active",
        "bullets": "active",
    }
    assert http.get("/v1/experiments").json()["count"] == 1


def test_changes_without_redeploying(http: httpx.Client) -> None:
    assert register(http).status_code == 201
    path = "/v1/experiments/answer-style"
    added = http.patch(path, json={"variants": {"bullets": {"payload": {"style": "list"}}}}).json()
    assert added["variants"]["bullets"]["status"] == "active" and added["version"] == 2
    paused = http.patch(path, json={"variants": {"bullets": {"status": "paused"}}}).json()
    assert paused["variants"]["bullets"]["status"] == "paused"
    assert set(http.get(f"{path}/state").json()["variants"]) == {"concise", "detailed"}
    policy = http.patch(path, json={"policy": "epsilon_greedy", "epsilon": 0.2, "min_share": 0.1}).json()
    assert (policy["policy"], policy["epsilon"], policy["min_share"]) == ("epsilon_greedy", 0.2, 0.1)

    promoted = http.patch(path, json={"winner": "bullets"}).json()  # a paused winner is served again
    assert (promoted["status"], promoted["winner"], promoted["variants"]["bullets"]["status"]) == (
        "stopped",
        "bullets",
        "active",
    )
    state = http.get(f"{path}/state").json()
    assert state["probabilities"] == {"concise": 0.0, "detailed": 0.0, "bullets": 1.0}
    assert assigned(http, "answer-style", 20, segment="pro") == Counter({"bullets": 20})
    one = http.get(f"{path}/assign").json()
    assert one["probability"] == 1.0 and one["attributes"]["plaudit.experiment.probability"] == 1.0

    resumed = http.patch(path, json={"status": "running"}).json()
    assert (resumed["status"], resumed["winner"]) == ("running", None)
    stopped = http.patch(path, json={"status": "stopped"}).json()
    assert stopped["status"] == "stopped"
    assert assigned(http, "answer-style", 10) == Counter({"concise": 10})  # no winner: the first active one


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"variants": {"new": {"status": "active"}}}, 422, "variants.new.payload"),
        ({"variants": {"concise": {"status": "removed"}, "detailed": {"status": "paused"}}}, 409, "variants"),
        ({"winner": "nope"}, 409, "winner"),
        ({"min_share": 0.6, "max_share": 0.5}, 422, "min_share"),
        ({"policy": "ucb"}, 422, "policy"),
        ({"epsilon": 1.5}, 422, "epsilon"),
        ({"unknown": 1}, 422, "unknown"),
        ({"variants": {"concise": {"status": "gone"}}}, 422, "variants.concise.status"),
    ],
)
def test_refused_changes_name_the_field_and_change_nothing(
    http: httpx.Client, change: dict[str, Any], status: int, field: str
) -> None:
    assert register(http).status_code == 201
    reply = http.patch("/v1/experiments/answer-style", json=change)
    assert reply.status_code == status, reply.text
    assert reply.json()["error"]["field"] == field
    after = http.get("/v1/experiments/answer-style").json()
    assert after["version"] == 1 and after["policy"] == "thompson"
    assert {v["status"] for v in after["variants"].values()} == {"active"}


def test_unknown_experiments_and_parameters(http: httpx.Client) -> None:
    for reply in (
        http.get("/v1/experiments/nope"),
        http.get("/v1/experiments/nope/assign"),
        http.get("/v1/experiments/nope/report"),
        http.patch("/v1/experiments/nope", json={"policy": "fixed"}),
    ):
        assert reply.status_code == 404 and reply.json()["error"]["field"] == "name"
    assert register(http).status_code == 201
    reply = http.get("/v1/experiments/answer-style/assign", params={"segmnt": "pro"})
    assert reply.status_code == 422 and reply.json()["error"]["field"] == "segmnt"
    reply = http.get("/v1/experiments/answer-style/report", params={"bucket": "week"})
    assert reply.status_code == 422 and reply.json()["error"]["field"] == "bucket"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"variants": {"a": {"text": "nul \x00 here"}}}, "variants.a"),
        ({"variants": {"a": {"deep": None}}, "score": "x\x00"}, "score"),
        ({"name": "a/b"}, "name"),
        ({"name": "   "}, "name"),
        ({"variants": {}}, "variants"),
        ({"variants": {"a": {"n": 2**60}}}, "variants.a"),
        ({"variants": {"a": "not an object"}}, "variants.a"),
        ({"weights": {"zzz": 2}}, "body"),
        ({"weights": {"concise": -1}}, "weights.concise"),
        ({"min_share": float("inf")}, "min_share"),
        ({"sticky": "yes"}, "sticky"),
    ],
)
def test_bad_definitions_are_refused_and_nothing_is_stored(
    http: httpx.Client, body: dict[str, Any], field: str
) -> None:
    payload = {**DEFINITION, **body}
    content = httpx.Request("POST", "/", json=payload).content if "inf" not in repr(body) else None
    if content is None:  # JSON has no Infinity: send the token Python's encoder writes
        content = b'{"name": "answer-style", "score": "t", "variants": {"a": {}}, "min_share": Infinity}'
    reply = http.post("/v1/experiments", content=content, headers={"content-type": "application/json"})
    assert reply.status_code in (400, 422), reply.text
    if reply.status_code == 422:
        assert reply.json()["error"]["field"] == field
    assert http.get("/v1/experiments").json()["count"] == 0


def test_lone_surrogates_deep_nesting_and_broken_json(http: httpx.Client) -> None:
    surrogate = b'{"name": "e", "score": "t", "variants": {"a": {"k": "\\ud800"}}}'
    deep = b'{"name": "e", "score": "t", "variants": {"a": ' + b'{"k": ' * 40 + b"1" + b"}" * 40 + b"}}"
    very_deep = b'{"name": "e", "score": "t", "variants": {"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}"
    for content, status in ((surrogate, 422), (deep, 422), (very_deep, 400), (b"{not json", 400), (b"[]", 422)):
        reply = http.post("/v1/experiments", content=content, headers={"content-type": "application/json"})
        assert reply.status_code == status, (content[:60], reply.text)
    assert http.get("/v1/experiments").json()["count"] == 0
    assert register(http).status_code == 201
    for query in ("segment=%ED%A0%80", "unit=%00", "segment=" + "x" * 201):  # a surrogate, a NUL, too long
        reply = http.get(f"/v1/experiments/answer-style/assign?{query}")
        assert reply.status_code in (200, 422), reply.text
        if reply.status_code == 200:
            assert "\x00" not in reply.json()["attributes"].get("user.id", "")


def test_sticky_units_keep_their_variant_until_it_is_removed(http: httpx.Client) -> None:
    assert register(http, sticky=True).status_code == 201
    first = {u: http.get("/v1/experiments/answer-style/assign", params={"unit": u}).json() for u in "abcdefgh"}
    for unit, choice in first.items():
        again = http.get("/v1/experiments/answer-style/assign", params={"unit": unit}).json()
        assert (again["variant"], again["probability"]) == (choice["variant"], choice["probability"])
        assert again["attributes"]["user.id"] == unit and again["sticky"] is True
    moved = [u for u, c in first.items() if c["variant"] == "concise"]
    assert moved  # with 8 units and an even split, some got each variant
    http.patch("/v1/experiments/answer-style", json={"variants": {"concise": {"status": "removed"}}})
    for unit in first:
        assert http.get("/v1/experiments/answer-style/assign", params={"unit": unit}).json()["variant"] == "detailed"

    # an SDK reports units it assigned locally: the first stored assignment wins
    reply = http.post(
        "/v1/experiments/answer-style/units",
        json={"units": [{"unit": "a", "variant": "detailed", "probability": 0.5}, {"unit": "zz", "variant":
              "detailed", "probability": 0.5, "segment": "pro"}]},
    )  # fmt: skip
    assert reply.status_code == 200
    stored = {u["unit"]: u for u in reply.json()["units"]}
    assert stored["zz"] == {"unit": "zz", "variant": "detailed", "probability": 0.5, "segment": "pro"}
    assert stored["a"]["variant"] == "detailed"
    bad = http.post("/v1/experiments/answer-style/units", json={"units": [{"unit": "q", "variant": "x",
                    "probability": 0}]})  # fmt: skip
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "units[0].probability"


def test_removed_and_paused_variants_are_never_assigned(http: httpx.Client) -> None:
    assert register(http, variants={**DEFINITION["variants"], "third": {}}).status_code == 201
    assert set(assigned(http, "answer-style", 60)) == {"concise", "detailed", "third"}
    http.patch("/v1/experiments/answer-style", json={"variants": {"third": {"status": "removed"}}})
    http.patch("/v1/experiments/answer-style", json={"variants": {"concise": {"status": "paused"}}})
    assert assigned(http, "answer-style", 100, segment="pro") == Counter({"detailed": 100})
    assert assigned(http, "answer-style", 20) == Counter({"detailed": 20})


def test_experiments_need_the_api_key_when_auth_is_on(tmp_path: Any) -> None:
    from plaudit_collector.server import BackgroundServer
    from plaudit_collector.settings import CollectorSettings
    from plaudit_collector.store import projects
    from plaudit_collector.store.db import Database

    url = f"sqlite:///{tmp_path / 'auth.db'}"
    db = Database(url)
    db.prepare()
    key, _ = projects.create_key(db, "team-a")
    db.dispose()
    server = BackgroundServer(CollectorSettings(db_url=url, auth=True)).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:  # as every test: a loaded CI machine
            assert http.post("/v1/experiments", json=DEFINITION).status_code == 401
            assert http.get("/v1/experiments/answer-style/assign").status_code == 401
            headers = {"Authorization": f"Bearer {key}"}
            assert http.post("/v1/experiments", json=DEFINITION, headers=headers).status_code == 201
            listed = http.get("/v1/experiments", headers=headers).json()
            assert [e["name"] for e in listed["data"]] == ["answer-style"]
    finally:
        server.stop()
        server.app.state.db.dispose()


def _rated_choices(
    http: httpx.Client, name: str, score: str, error_rates: dict[str, float], first_id: int, n: int = 40
) -> None:
    seed = Seeder(http, _ids=itertools.count(first_id))
    for variant, rate in error_rates.items():
        for i in range(n):
            ref = seed.span(plaudit__experiment=name, plaudit__variant=variant, plaudit__experiment__probability=0.5)
            seed.rate(ref, score, i < n * rate)
    seed.send()


def _best(http: httpx.Client, name: str) -> tuple[str, dict[str, Any]]:
    report = http.get(f"/v1/experiments/{name}/report").json()
    best = max(report["overall"]["variants"], key=lambda row: row["prob_best"])
    state = http.get(f"/v1/experiments/{name}/state", params={"max_age": "0"}).json()
    assert max(state["probabilities"], key=state["probabilities"].get) == best["variant"]
    return best["variant"], report


def test_an_experiment_follows_its_score_configs_direction_unless_it_sets_its_own(http: httpx.Client) -> None:
    """``errors`` is lower-is-better: the experiment learns to serve the variant with fewer of them, until
    it says otherwise itself."""
    assert http.put("/v1/score-configs/errors", json={"type": "boolean", "higher_is_better": False}).is_success
    variants = {"careful": {}, "sloppy": {}}
    created = register(http, name="direction", score="errors", variants=variants, segment_by=None)
    assert created.status_code == 201 and created.json()["higher_is_better"] is None
    _rated_choices(http, "direction", "errors", {"careful": 0.1, "sloppy": 0.6}, first_id=1)
    best, report = _best(http, "direction")
    assert best == "careful"
    assert (report["higher_is_better"], report["direction"], report["direction_from"]) == (
        False,
        "lower is better",
        "score config",
    )
    recommendation = report["overall"]["recommendation"]
    assert recommendation["variant"] in ("careful", None)

    own = http.patch("/v1/experiments/direction", json={"higher_is_better": True}).json()
    assert own["higher_is_better"] is True
    best, report = _best(http, "direction")
    assert best == "sloppy" and report["direction_from"] == "experiment"
    unset = http.patch("/v1/experiments/direction", json={"higher_is_better": None}).json()
    assert unset["higher_is_better"] is None
    assert _best(http, "direction")[0] == "careful"

    # no score config: higher is better
    assert register(http, name="plain", score="misses", variants=variants, segment_by=None).status_code == 201
    _rated_choices(http, "plain", "misses", {"careful": 0.1, "sloppy": 0.6}, first_id=1000)
    best, report = _best(http, "plain")
    assert best == "sloppy" and report["direction_from"] == "default" and report["higher_is_better"] is True
