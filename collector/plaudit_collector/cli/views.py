"""Each analytics reply as :class:`~plaudit_collector.cli.output.View` tables: which columns, in what order,
which may be hidden on a narrow terminal, and the lines printed under them."""

from __future__ import annotations

from typing import Any

from plaudit_collector.cli.output import Column, Marked, View, cell, group_label, number


def leaderboard(board: dict[str, Any]) -> list[View]:
    """Best first; the leader's first group cell is starred; the verdict underneath. Only groups with enough
    ratings to rank (``eligible``) get a rank number: the others print ``–`` in the ``#`` column."""
    title = f"Leaderboard: {board['score']} by {', '.join(board['group_by'])}"
    if board.get("filters"):
        title += f" ({board['filters']})"
    columns = [Column("#", "int"), *(Column(dim, "group") for dim in board["group_by"])]
    columns += [
        Column("mean"),
        Column("95% CI", "interval"),
        Column("ratings", "int"),
        Column("items", "int", hide=4),
        Column("spans", "int", hide=2),
        Column("coverage", "percent", hide=1),
        Column("errors", "percent", hide=1),
        Column("p50 ms", "int", hide=3),
        Column("p95 ms", "int", hide=3),
        Column("p vs top", "p", hide=1),
    ]
    leader = board.get("leader")
    rows = []
    ranked = 0
    for row in board["rows"]:
        rank = None
        if row.get("eligible", True):
            ranked += 1
            rank = ranked
        groups: list[Any] = [row["group"].get(dim) for dim in board["group_by"]]
        if groups and leader is not None and row["group"] == leader:
            groups[0] = Marked(groups[0], " ★")
        rows.append(
            [
                rank,
                *groups,
                row["mean"],
                (row["ci_low"], row["ci_high"]),
                row["count"],
                row.get("rated"),
                row["spans"],
                row.get("coverage"),
                row.get("error_rate"),
                row.get("latency_p50_ms"),
                row.get("latency_p95_ms"),
                row.get("p_vs_leader"),
            ]
        )
    notes = [board["verdict"]] if board.get("verdict") else []
    return [View(title, columns, rows, notes + _slow(board))]


def _slow(result: dict[str, Any]) -> list[str]:
    """Why the answer read every rating or span, and how to make it fast (the reply's ``path_hint``)."""
    hint = result.get("path_hint")
    return [f"(slow path: {hint})"] if hint else []


def compare(result: dict[str, Any], score: str) -> list[View]:
    """A and B side by side, then the difference, the test and P(A better)."""
    columns = [Column("side", "text"), Column("group", "group"), Column("ratings / wins", "int")]
    columns += [Column("mean / win score"), Column("95% CI", "interval")]
    rows = [
        [
            name,
            group_label(side["group"]),
            side.get("count", side.get("wins")),
            side.get("mean", side.get("win_score")),
            (side.get("ci_low"), side.get("ci_high")),
        ]
        for name, side in (("A", result["a"]), ("B", result["b"]))
    ]
    notes = []
    if result.get("difference") is not None:
        low, high = result.get("diff_ci_low"), result.get("diff_ci_high")
        interval = "" if low is None or high is None else f" [{number(low)}, {number(high)}]"
        notes.append(
            f"difference A − B: {result['difference']:+#.3g}{interval}   test: {result['test']}   "
            f"p = {cell('p', result.get('p_value'))}   P(A better) = {number(result.get('prob_a_better'))}"
        )
    notes.append(result["verdict"])
    return [View(f"Compare: {score} ({result['kind']})", columns, rows, notes + _slow(result))]


def trend(result: dict[str, Any], score: str, bucket: str) -> list[View]:
    dims = list(result["group_by"])
    columns = [Column("bucket", "text"), *(Column(dim, "group") for dim in dims)]
    columns += [Column("mean"), Column("95% CI", "interval"), Column("ratings", "int"), Column("change", "text")]
    rows = []
    for p in result["points"]:
        change = {"up": "▲ up", "down": "▼ down"}.get(p["change"] or "", "")
        if change and p.get("better") is not None:
            change += " (better)" if p["better"] else " (worse)"
        rows.append(
            [
                _bucket(p["bucket_start"], bucket),
                *(p["group"].get(dim) for dim in dims),
                p["mean"],
                (p["ci_low"], p["ci_high"]),
                p["count"],
                change,
            ]
        )
    return [View(f"Trend: {score} per {bucket} (UTC)", columns, rows, [result["verdict"], *_slow(result)])]


def _bucket(start: str, bucket: str) -> str:
    """``2026-01-05`` for a day or week, ``2026-01-05 13:00`` for an hour (buckets are UTC)."""
    day, _, clock = str(start).partition("T")
    return f"{day} {clock[:5]}" if bucket == "hour" and clock else day


def agreement(result: dict[str, Any], rater_a: str, rater_b: str) -> list[View]:
    """One row per score, then each score's confusion table (tables only; CSV carries the first)."""
    columns = [Column("score", "group"), Column("kind", "text"), Column("n", "int"), Column("kappa")]
    columns += [Column("95% CI", "interval"), Column("weighted kappa", hide=1), Column("Spearman", hide=1)]
    rows = [
        [
            s["name"],
            s["kind"],
            s["n"],
            s["kappa"],
            (s["kappa_ci_low"], s["kappa_ci_high"]),
            s["weighted_kappa"],
            s["spearman"],
        ]
        for s in result["scores"]
    ]
    views = [View(f"Agreement: {rater_a} vs {rater_b}", columns, rows, [])]
    for s in result["scores"]:
        if s["table"]:
            matrix = [Column("", "group"), *(Column(str(c), "int") for c in s["categories"])]
            body = [[cat, *counts] for cat, counts in zip(s["categories"], s["table"], strict=True)]
            views.append(View(f"{s['name']}: {rater_a} (rows) × {rater_b} (columns)", matrix, body, []))
    views[-1].notes.append(result["verdict"])
    return views


def segments(result: dict[str, Any], score: str, segment: str) -> list[View]:
    columns = [Column(segment, "group"), Column("best", "group"), Column("mean"), Column("items", "int", hide=2)]
    columns += [Column("overall leader loses?", "text"), Column("p (Holm)", "p", hide=1)]
    rows = []
    for e in result["segments"]:
        best = next((r for r in e["rows"] if r["group"] == e.get("best")), None)
        flag = "yes" if e["significant"] else ("not significant" if e["reverses"] else "no")
        rows.append(
            [
                e["segment"],
                group_label(best["group"]) if best else None,
                best["mean"] if best else None,
                e["rated"],
                flag,
                e["p_adjusted"],
            ]
        )
    title = f"Segments: {score} by {', '.join(result['group_by'])} within {segment}"
    return [View(title, columns, rows, [result["verdict"]])]


def preferences(result: dict[str, Any], score: str) -> list[View]:
    columns = [Column("#", "int"), Column("group", "group"), Column("win score"), Column("95% CI", "interval")]
    columns += [Column("comparisons", "int"), Column("BT strength", hide=1), Column("BT 95% CI", "interval", hide=1)]
    rows = [
        [
            r["rank"],
            group_label(r["group"]),
            r["win_score"],
            (r["ci_low"], r["ci_high"]),
            r["comparisons"],
            r["strength"],
            (r["strength_ci_low"], r["strength_ci_high"]),
        ]
        for r in result["rows"]
    ]
    return [View(f"Preferences: {score}", columns, rows, [result["verdict"]])]


def traces(page: dict[str, Any]) -> list[View]:
    """One row per trace of a search page (when, which, what ran, how long, how it ended, how many feedback
    items it has), then the cursor of the next page. Tables show the trace id's first 8 characters; CSV and JSON
    carry it whole."""
    columns = [Column("time (UTC)", "time"), Column("trace", "id"), Column("name", "group")]
    columns += [Column("model", "group", hide=2), Column("variant", "group", hide=1)]
    columns += [Column("latency ms", "int"), Column("status", "text"), Column("rated", "int")]
    columns += [Column("user", "text", hide=3)]
    rows = []
    for t in page["traces"]:
        rows.append(
            [
                t["start_time"],
                t["trace_id"],
                t["name"] or "(no root span)",
                t["model"],
                t["variant"],
                t["duration_ms"],
                t["status"],
                sum(int(v.get("count") or 0) for v in t["feedback"].values()),
                t["user_id"],
            ]
        )
    notes = [f"next page: --cursor {page['next_cursor']}"] if page.get("next_cursor") else []
    return [View("Traces", columns, rows, notes)]
