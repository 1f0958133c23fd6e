"""Judge replies as :class:`~plaudit_collector.cli.output.View` tables: the definitions, a run, the dead
letters, the judge report, alpha, the disagreement list and the informative ordering."""

from __future__ import annotations

from typing import Any

from plaudit_collector.cli.output import Column, View, number


def _yes(value: Any) -> str | None:
    return None if value is None else ("yes" if value else "no")


def judges(found: list[dict[str, Any]]) -> list[View]:
    columns = [Column("name", "group"), Column("score", "text"), Column("model", "text", hide=2)]
    columns += [Column("author", "text", hide=1), Column("enabled", "text"), Column("sample")]
    columns += [Column("key set", "text", hide=3)]
    rows = [
        [j["name"], j["score"], j["model"], j["author"], _yes(j["enabled"]), j["sample_rate"], _yes(j["api_key_set"])]
        for j in found
    ]
    return [View("Judges", columns, rows, [] if rows else ["no judge yet: plaudit judges add NAME ..."])]


def run(name: str, stats: dict[str, Any]) -> list[View]:
    """One row of counts; the first errors underneath."""
    names = ("queued", "claimed", "scored", "retried", "dead")
    columns = [Column("judge", "group"), *(Column(n, "int") for n in names)]
    return [View(f"Run: {name}", columns, [[name, *(stats.get(n) for n in names)]], list(stats.get("errors") or ()))]


def dead_letters(name: str, found: list[dict[str, Any]]) -> list[View]:
    columns = [Column("trace id", "text"), Column("span id", "text", hide=2), Column("attempts", "int")]
    columns += [Column("error", "group")]
    rows = [[d["trace_id"], d["span_id"], d["attempts"], d["error"]] for d in found]
    return [View(f"Dead letters: {name}", columns, rows, [] if rows else ["none"])]


def judge_report(result: dict[str, Any]) -> list[View]:
    """One row per judge, then the bias per group; the verdict underneath (CSV carries the first table)."""
    columns = [Column("judge", "group"), Column("n", "int"), Column("bias"), Column("95% CI", "interval")]
    columns += [Column("Pearson", hide=1), Column("Spearman", hide=1), Column("kappa", hide=2)]
    columns += [Column("alpha", hide=2), Column("bias differs by group", "text")]
    rows = [
        [
            j["judge"],
            j["n"],
            j["bias"],
            (j["bias_ci_low"], j["bias_ci_high"]),
            j["pearson"],
            j["spearman"],
            j["kappa"],
            j["alpha"],
            _yes(j["group_bias_differs"]),
        ]
        for j in result["judges"]
    ]
    title = f"Judges ({result['judge_source']}) against {result['human_source']}: {result['score']}"
    views = [View(title, columns, rows, [])]
    dims = list(result["group_by"])
    group_columns = [*(Column(d, "group") for d in dims), Column("n", "int"), Column("bias")]
    group_columns += [Column("95% CI", "interval"), Column("p vs rest", "p", hide=1), Column("differs", "text")]
    for j in result["judges"]:
        if j["groups"]:
            per_group = [
                [*(g["group"].get(d) for d in dims), g["n"], g["bias"], (g["ci_low"], g["ci_high"])]
                + [g["p_vs_rest"], "yes" if g["flagged"] else ""]
                for g in j["groups"]
            ]
            views.append(View(f"{j['judge']}: bias per {', '.join(dims)}", group_columns, per_group, []))
    views[-1].notes.append(result["verdict"])
    return views


def alpha(result: dict[str, Any]) -> list[View]:
    """Each rater against the human consensus; alpha over all of them underneath."""
    columns = [Column("rater", "group"), Column("human", "text"), Column("n", "int")]
    columns += [Column("mean difference"), Column("Pearson", hide=1), Column("alpha")]
    rows = [
        [r["rater"], _yes(r["human"]), r["n"], r["mean_difference"], r["pearson"], r["alpha"]]
        for r in result["per_rater"]
    ]
    notes = []
    if result["alpha"] is not None:
        low, high = result["alpha_ci_low"], result["alpha_ci_high"]
        interval = "" if low is None or high is None else f" [{number(low)}, {number(high)}]"
        notes.append(f"alpha = {number(result['alpha'])}{interval} ({result['bootstrap']} bootstrap draws)")
    notes.append(result["verdict"])
    title = f"Agreement ({result['level']} alpha, raters: {result['raters']}): {result['score']}"
    return [View(title, columns, rows, notes)]


def _target(item: dict[str, Any]) -> str | None:
    if item.get("trace_id"):
        return str(item["trace_id"])
    return f"session {item['session_id']}" if item.get("session_id") is not None else None


def disagreements(result: dict[str, Any]) -> list[View]:
    """Most disputed first: where to find the item, the gap, the two means and how many raters."""
    columns = [Column("#", "int"), Column("trace id", "group"), Column("span id", "text", hide=2)]
    columns += [Column("gap"), Column("human"), Column("judge"), Column("raters", "int", hide=1)]
    rows = [
        [
            rank,
            _target(item),
            item.get("span_id"),
            item["disagreement"],
            item["human_mean"],
            item["judge_mean"],
            len(item["ratings"]),
        ]
        for rank, item in enumerate(result["items"], start=1)
    ]
    mode = "judge vs humans" if result["mode"] == "judge_vs_human" else "among raters"
    return [View(f"Disagreements ({mode}): {result['score']}", columns, rows, [result["verdict"]])]


def informative(result: dict[str, Any]) -> list[View]:
    """The spans to ask humans about, in order, with their group and why."""
    dims = list(result["group_by"])
    columns = [Column("#", "int"), Column("trace id", "text"), Column("span id", "text", hide=2)]
    columns += [*(Column(d, "group") for d in dims), Column("judge"), Column("expected gap", hide=1)]
    columns += [Column("variance cut", hide=3)]
    rows = [
        [rank, item.get("trace_id"), item.get("span_id"), *(item["group"].get(d) for d in dims)]
        + [item["judge_mean"], item["expected_disagreement"], item["variance_reduction"]]
        for rank, item in enumerate(result["items"], start=1)
    ]
    return [View(f"Rate next: {result['score']}", columns, rows, [result["verdict"]])]
