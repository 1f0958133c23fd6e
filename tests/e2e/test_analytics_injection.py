"""SQL in every query parameter of every analytics and export route: a 200 that matches nothing, or a 422
naming the parameter; never a 500, never a changed database, never data that a filter should hide."""

from __future__ import annotations

from typing import Any

import httpx
from analytics_seed import Seeder

PAYLOADS = ["' OR '1'='1", "x'); DROP TABLE spans; --", 'attr.x") OR 1=1 --', "variant=a' OR 'a'='a"]
VALID: dict[str, dict[str, Any]] = {
    "/v1/analytics/leaderboard": {"score": "thumbs", "group_by": "variant"},
    "/v1/analytics/compare": {"score": "thumbs", "a": "variant=a", "b": "variant=b"},
    "/v1/analytics/preferences": {"score": "pick", "group_by": "variant"},
    "/v1/analytics/trend": {"score": "thumbs"},
    "/v1/analytics/agreement": {"score": "thumbs"},
    "/v1/analytics/segments": {"score": "thumbs", "segment": "user.id"},
    "/v1/analytics/judges": {"score": "thumbs", "bootstrap": "0"},
    "/v1/analytics/alpha": {"score": "thumbs", "bootstrap": "0"},
    "/v1/analytics/disagreements": {"score": "thumbs"},
    "/v1/analytics/informative": {"score": "thumbs"},
    "/v1/export/spans": {"score": "thumbs"},
    "/v1/export/finetune": {"score": "thumbs"},
    "/v1/export/preferences": {"preference": "pick", "score": "thumbs"},
}


def _counts(http: httpx.Client) -> tuple[int, int]:
    board = http.get("/v1/analytics/leaderboard", params={"score": "thumbs", "group_by": "variant"}).json()
    return sum(r["spans"] for r in board["rows"]), sum(r["count"] for r in board["rows"])


def test_sql_in_every_parameter_is_inert(http: httpx.Client) -> None:
    seed = Seeder(http)
    for i in range(12):
        a = seed.span(plaudit__variant="a", user__id=f"u{i % 3}", plaudit__input="q", plaudit__tags=["t"])
        b = seed.span(plaudit__variant="b", user__id=f"u{i % 3}", plaudit__input="q")
        seed.rate(a, "thumbs", i % 4 != 0, source="human")
        seed.rate(b, "thumbs", i % 2 == 0, source="llm_judge")
        seed.prefer(a, b, "a", name="pick")
    seed.send()
    before = _counts(http)
    spec = http.get("/openapi.json").json()
    routes = {p: ops["get"] for p, ops in spec["paths"].items() if p.startswith(("/v1/analytics/", "/v1/export/"))}
    assert set(routes) == set(VALID), "a new analytics/export route needs a row in VALID"
    tried = 0
    for path, op in routes.items():
        params_spec = {p["name"]: p for p in op.get("parameters", []) if p["in"] == "query"}
        names = list(params_spec)
        assert {"from", "to", "tag", "metadata", "where", "source", "span_name", "span_kind"} <= set(names), path
        for name in names:
            # typed parameters (numbers, booleans, enums) refuse any text: one payload shows it
            free_text = "enum" not in str(params_spec[name]["schema"]) and "string" in str(params_spec[name]["schema"])
            for payload in PAYLOADS if free_text else PAYLOADS[:1]:
                params = {**VALID[path], name: payload}
                response = http.get(path, params=params)
                tried += 1
                assert response.status_code in (200, 422), (path, name, payload, response.text)
                if response.status_code == 422:
                    assert response.json()["error"]["field"].split("[")[0].split(".")[0] in (name, "a", "b"), (
                        path,
                        name,
                        response.text,
                    )
                elif name in ("score", "span_name", "span_kind", "tag", "preference") and path.endswith(
                    ("leaderboard", "trend")
                ):
                    body = response.json()
                    assert not body.get("rows") and not body.get("points"), (path, name, payload)
                elif path.startswith("/v1/export/") and name in ("score", "tag", "span_name"):
                    assert response.text == "" or name == "score" and path.endswith("preferences"), (path, name)
    assert tried > 150
    assert _counts(http) == before
    # an injected attribute key or metadata key is a key that no span has, not SQL
    odd = http.get("/v1/analytics/leaderboard", params={"score": "thumbs", "group_by": "attr.x') OR 1=1 --"}).json()
    assert [r["group"] for r in odd["rows"]] == [{"attr.x') OR 1=1 --": None}]
    hidden = http.get("/v1/analytics/leaderboard", params={"score": "thumbs", "metadata": "k' OR '1'='1=v"}).json()
    assert hidden["rows"] == []
