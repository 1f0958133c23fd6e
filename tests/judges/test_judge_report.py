"""The judge report, agreement among k raters, the disagreement list and the informative ordering, on HANNA
ratings posted to a real collector: every figure matches a direct computation from the corpus files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import krippendorff
import numpy as np
import pytest
from hanna_data import load, seed_hanna
from scipy import stats as sps


def kappa(table: np.ndarray) -> float:
    p = table / table.sum()
    po, pe = np.trace(p), p.sum(axis=1) @ p.sum(axis=0)
    return float((po - pe) / (1 - pe))


def test_judge_agreement_on_hanna_matches_a_direct_computation(
    collector: Any, http: httpx.Client, corpus: Path
) -> None:
    data = load(corpus)
    sample = data.sample(0.2, seed=7)
    seed_hanna(http, data, sample)
    stories = sorted(sample)
    y = np.array([np.mean(data.humans[s]) for s in stories])
    f = np.array([data.judge[s] for s in stories])

    report = http.get("/v1/analytics/judges", params={"score": "relevance", "bootstrap": 200}).json()
    (judge,) = report["judges"]
    assert judge["judge"] == "mistral@hanna" and judge["name"] == "mistral" and judge["n"] == len(stories)
    diff = f - y
    half = sps.t.ppf(0.975, len(diff) - 1) * diff.std(ddof=1) / np.sqrt(len(diff))
    assert judge["bias"] == pytest.approx(diff.mean())
    assert judge["bias_ci_low"] == pytest.approx(diff.mean() - half)
    assert judge["bias_ci_high"] < 0  # the judge rates Relevance lower than humans do, for sure
    assert judge["pearson"] == pytest.approx(np.corrcoef(y, f)[0, 1])
    assert judge["spearman"] == pytest.approx(sps.spearmanr(y, f).statistic)
    assert judge["alpha"] == pytest.approx(krippendorff.alpha(np.vstack([y, f]), level_of_measurement="interval"))
    assert judge["alpha_ci_low"] < judge["alpha"] < judge["alpha_ci_high"]
    levels = judge["categories"]
    table = np.zeros((len(levels), len(levels)), dtype=int)
    for a, b in zip(np.floor(y + 0.5), np.floor(f + 0.5), strict=True):
        table[levels.index(int(a)), levels.index(int(b))] += 1
    assert judge["table"] == table.tolist()
    assert judge["kappa"] == pytest.approx(kappa(table))
    per_group = {g["group"]["variant"]: g for g in judge["groups"]}
    human_stories = [s for s in stories if s[0] == "Human"]
    assert per_group["Human"]["n"] == len(human_stories)
    assert per_group["Human"]["bias"] == pytest.approx(
        np.mean([data.judge[s] - np.mean(data.humans[s]) for s in human_stories])
    )
    assert judge["group_bias_p"] is not None and "mistral@hanna" in report["verdict"]

    # k raters: the three human rater slots and the judge
    alpha = http.get("/v1/analytics/alpha", params={"score": "relevance", "raters": "humans", "bootstrap": 100}).json()
    humans = np.array([[data.humans[s][k] for s in stories] for k in range(3)])
    assert alpha["rater_count"] == 3 and alpha["items_multi_rated"] == len(stories)
    assert alpha["alpha"] == pytest.approx(krippendorff.alpha(humans, level_of_measurement="interval"))
    everyone = http.get("/v1/analytics/alpha", params={"score": "relevance", "bootstrap": 0}).json()
    rows = {r["rater"]: r for r in everyone["per_rater"]}
    rater1 = humans[0] - humans[1:].mean(axis=0)
    assert rows["rater1"]["mean_difference"] == pytest.approx(rater1.mean())
    assert rows["mistral@hanna"]["human"] is False and rows["mistral@hanna"]["n"] == len(stories)
    assert rows["mistral@hanna"]["pearson"] == pytest.approx(np.corrcoef(f, y)[0, 1])
    ordinal = http.get(
        "/v1/analytics/alpha", params={"score": "relevance", "raters": "humans", "level": "ordinal", "bootstrap": 0}
    )
    assert ordinal.json()["alpha"] == pytest.approx(krippendorff.alpha(humans, level_of_measurement="ordinal"))

    # the disagreement list: largest |judge − human mean| first
    listed = http.get("/v1/analytics/disagreements", params={"score": "relevance", "limit": 5}).json()["items"]
    gaps = sorted(np.abs(diff), reverse=True)
    assert [round(i["disagreement"], 9) for i in listed] == [round(g, 9) for g in gaps[:5]]
    trace = http.get(f"/v1/traces/{listed[0]['trace_id']}").json()
    assert {fb["author"] for fb in trace["spans"][0]["feedback"]} == {"mistral@hanna", "rater1", "rater2", "rater3"}

    # informative: spans humans have not rated, in the groups still contending for the lead
    picked = http.get("/v1/analytics/informative", params={"score": "relevance", "limit": 20}).json()
    contenders = {c["variant"] for c in picked["contenders"]}
    assert picked["count"] == 20 and "Human" in contenders
    for item in picked["items"]:
        assert item["group"]["variant"] in contenders
        spans = http.get(f"/v1/traces/{item['trace_id']}").json()["spans"]
        assert {fb["source"] for fb in spans[0]["feedback"]} == {"llm_judge"}
