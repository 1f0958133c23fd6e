"""PPI++ estimates: the estimator matches the reference implementation, and on real HANNA ratings posted to a
real collector (humans on a fifth of the stories, a judge on all) its intervals hold the all-human means and
are narrower than human-only ones, where a judge-only leaderboard is wrong."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import httpx
import pytest
from hanna_data import load, seed_hanna
from scipy import stats as sps

from plaudit_collector.analytics.ppi import Paired, more_humans_to_separate, ppi_mean

REFERENCE = json.loads((Path(__file__).with_name("ppi_reference.json")).read_text())
Z = float(sps.norm.ppf(0.975))


@pytest.mark.parametrize("case", REFERENCE["cases"], ids=lambda c: f"n{len(c['y'])}-N{len(c['u'])}")
def test_the_estimator_matches_ppi_python(case: dict[str, Any]) -> None:
    """Point estimate and standard error equal ppi_py's (``ppi_mean_ci``, tuned λ and λ = 1); the interval
    differs only by the quantile (t with n − 1 degrees of freedom instead of the normal one)."""
    paired = Paired.from_arrays(case["y"], case["f"], case["u"])
    for key, lam in (("tuned", None), ("lam1", 1.0)):
        ref = case[key]
        est = ppi_mean(paired, lam=lam)
        assert est is not None and est.se is not None
        assert est.mean == pytest.approx(ref["point"], abs=1e-12)
        assert est.se == pytest.approx((ref["high"] - ref["low"]) / (2 * Z), rel=1e-9)
        t = float(sps.t.ppf(0.975, len(case["y"]) - 1))
        assert est.ci_high - est.ci_low == pytest.approx(2 * t * est.se, rel=1e-12)


def test_the_estimator_matches_ppi_python_live() -> None:
    ppi_py = pytest.importorskip("ppi_py")
    for case in REFERENCE["cases"]:
        low, high = ppi_py.ppi_mean_ci(case["y"], case["f"], case["u"], alpha=0.05)
        est = ppi_mean(Paired.from_arrays(case["y"], case["f"], case["u"]))
        assert est is not None and est.se is not None
        assert est.se == pytest.approx((float(high[0]) - float(low[0])) / (2 * Z), rel=1e-9)


def test_the_tuned_estimate_is_never_wider_than_human_only() -> None:
    """Judge ratings uncorrelated with the humans' (λ̂ ≈ 0) or anti-correlated (clipped to 0): the interval is
    the human-only one, never wider."""
    y = [1, 2, 3, 4, 5, 1, 2, 3, 4, 5]
    for f in ([5, 4, 3, 2, 1, 5, 4, 3, 2, 1], [3, 1, 4, 1, 5, 9, 2, 6, 5, 3]):
        est = ppi_mean(Paired.from_arrays(y, f, [2, 3, 4] * 30))
        human = ppi_mean(Paired.from_arrays(y, f, [2, 3, 4] * 30), lam=0.0)
        assert est is not None and human is not None and est.se is not None and human.se is not None
        assert est.se <= human.se + 1e-12


def test_more_humans_to_separate_is_what_the_test_then_needs() -> None:
    a = ppi_mean(Paired.from_arrays([4, 5, 3, 4, 4, 3], [3, 4, 3, 3, 4, 3], [3, 4] * 40))
    b = ppi_mean(Paired.from_arrays([3, 5, 3, 4, 4, 3], [3, 4, 2, 3, 3, 3], [3, 3] * 40))
    assert a is not None and b is not None
    k = more_humans_to_separate(a, b)
    assert k is not None and k > 0
    power_z = float(sps.norm.ppf(0.975) + sps.norm.ppf(0.8))
    assert power_z * math.hypot(a.se_with(k), b.se_with(k)) <= abs(a.mean - b.mean)
    assert power_z * math.hypot(a.se_with(k - 1), b.se_with(k - 1)) > abs(a.mean - b.mean)


def board(http: httpx.Client, **params: Any) -> dict[str, dict[str, Any]]:
    response = http.get("/v1/analytics/leaderboard", params={"score": "relevance", "group_by": "variant", **params})
    assert response.status_code == 200, response.text
    return {row["group"]["variant"]: row for row in response.json()["rows"]}


def test_ppi_on_hanna_holds_the_human_means_where_the_judge_alone_is_wrong(
    collector: Any, http: httpx.Client, corpus: Path
) -> None:
    data = load(corpus)
    truth = data.human_means()
    sample = data.sample(0.2, seed=7)
    seed_hanna(http, data, sample)

    ppi = board(http, estimator="ppi", min_count=2)
    human_only = board(http, source="human", min_count=2)
    judge_only = board(http, source="llm_judge", min_count=2)
    assert set(ppi) == set(truth) and len(truth) == 11

    held = [s for s in truth if ppi[s]["ci_low"] <= truth[s] <= ppi[s]["ci_high"]]
    assert len(held) >= 9, {s: (ppi[s]["ci_low"], truth[s], ppi[s]["ci_high"]) for s in truth}
    for system, row in ppi.items():
        assert row["method"] == "ppi++" and row["judge_count"] == 96
        assert row["human_count"] == sum(1 for s in sample if s[0] == system) == human_only[system]["rated"]
        assert row["ci_high"] - row["ci_low"] <= human_only[system]["ci_high"] - human_only[system]["ci_low"]
        assert row["human_ci_low"] == pytest.approx(human_only[system]["ci_low"])

    # The judge alone: about a point low, with intervals too narrow to notice.
    wrong = [s for s in truth if not judge_only[s]["ci_low"] <= truth[s] <= judge_only[s]["ci_high"]]
    assert len(wrong) >= 8, wrong
    assert all(judge_only[s]["mean"] < truth[s] for s in wrong)
    assert len(set(wrong) & set(held)) >= 6

    # compare and trend take the same estimator
    params = {"score": "relevance", "a": "variant=Human", "b": "variant=GPT-2", "estimator": "ppi"}
    compared = http.get("/v1/analytics/compare", params=params).json()
    assert compared["method"] == "ppi++" and compared["a"]["judge_count"] == 96
    assert compared["difference"] == pytest.approx(ppi["Human"]["mean"] - ppi["GPT-2"]["mean"])
    assert compared["p_value"] < 0.05 and compared["verdict"].startswith("variant=Human beats variant=GPT-2")
    trend = http.get("/v1/analytics/trend", params={"score": "relevance", "group_by": "variant", "estimator": "ppi"})
    points = {p["group"]["variant"]: p for p in trend.json()["points"]}
    assert points["Fusion"]["mean"] == pytest.approx(ppi["Fusion"]["mean"])
    bad = http.get("/v1/analytics/leaderboard", params={"score": "relevance", "estimator": "ppi", "judge_source": "x"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "judge_source"
