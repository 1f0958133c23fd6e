"""Experiment replies as :class:`~plaudit_collector.cli.output.View` tables: a definition, the list, the
report (every scope in one table, so CSV carries them all) and a choice."""

from __future__ import annotations

import json
from typing import Any

from plaudit_collector.cli.output import Column, View, number

_SOURCES = {"score config": "per the score config", "experiment": "set on the experiment", "default": "by default"}


def definition(info: dict[str, Any]) -> list[View]:
    """The variants in order (the first is the control); the settings in the title, notes underneath."""
    segment = f", per {info['segment_by']}" if info.get("segment_by") else ""
    state = info["status"] + (f" (winner: {info['winner']})" if info.get("winner") else "")
    title = f"{info['name']}: {info['policy']}{segment} on {info['score']}; {state}; v{info['version']}"
    columns = [Column("variant", "group"), Column("status", "text"), Column("weight")]
    columns += [Column("payload", "text", hide=1)]
    rows = [
        [name, v["status"], v["weight"], json.dumps(v["payload"], ensure_ascii=False)]
        for name, v in info["variants"].items()
    ]
    return [View(title, columns, rows, list(info.get("notes") or ()))]


def experiments(found: list[dict[str, Any]]) -> list[View]:
    columns = [Column("name", "group"), Column("score", "text"), Column("policy", "text")]
    columns += [Column("segment by", "text", hide=2), Column("status", "text"), Column("served", "text", hide=1)]
    rows = [
        [
            info["name"],
            info["score"],
            info["policy"],
            info.get("segment_by"),
            info["status"],
            ", ".join(n for n, v in info["variants"].items() if v["status"] == "active"),
        ]
        for info in found
    ]
    return [View("Experiments", columns, rows, [] if rows else ["no experiment yet"])]


def report(result: dict[str, Any]) -> list[View]:
    """One row per (scope, variant): the overall rows, then each segment's; per scope a line with its counts,
    regret and recommendation."""
    segmented = bool(result["segments"])
    scopes = [("overall", result["overall"])]
    scopes += [(f"{result['segment_by']}={e['segment']}", e) for e in result["segments"]]
    columns = [Column("scope", "group")] if segmented else []
    columns += [Column("variant", "group"), Column("status", "text", hide=4), Column("share", "percent", hide=2)]
    columns += [Column("now", "percent", hide=1), Column("rated", "int", hide=1), Column("mean")]
    columns += [Column("95% CI", "interval"), Column("IPS", hide=3), Column("SNIPS", hide=2)]
    columns += [Column("SNIPS 95% CI", "interval", hide=3), Column("P(best)"), Column("exp. loss", hide=2)]
    rows = []
    notes = []
    for scope, entry in scopes:
        for row in entry["variants"]:
            rows.append(
                ([scope] if segmented else [])
                + [row["variant"], row["status"], row["share"], row["probability"], row["count"], row["mean"]]
                + [(row["ci_low"], row["ci_high"]), row["ips"], row["snips"]]
                + [(row["snips_ci_low"], row["snips_ci_high"]), row["prob_best"], row["expected_loss"]]
            )
        advice = entry["recommendation"]
        action = advice["action"] + (f" {advice['variant']}" if advice["variant"] else "")
        notes.append(
            f"{scope}: {entry['choices']} choices, {entry['rated']} rated; expected regret per choice "
            f"{number(entry['expected_regret'])}, so far {number(entry['regret_so_far'])}; {action}: {advice['reason']}"
        )
    source = _SOURCES.get(result["direction_from"], result["direction_from"])
    title = (
        f"{result['experiment']}: {result['policy']} on {result['score']} ({result['direction']}, {source}; "
        f"{result['reward']}); {result['status']}"
    )
    return [View(title, columns, rows, notes)]


def choice(made: dict[str, Any]) -> list[View]:
    """The variant chosen, its probability, and what to set on the request's spans."""
    columns = [Column("variant", "group"), Column("probability"), Column("segment", "group", hide=1)]
    columns += [Column("unit", "group", hide=1), Column("sticky", "text", hide=2)]
    row = [made["variant"], made["probability"], made["segment"], made["unit"], "yes" if made["sticky"] else "no"]
    notes = [
        f"payload: {json.dumps(made['payload'], ensure_ascii=False)}",
        f"span attributes: {json.dumps(made['attributes'], ensure_ascii=False)}",
    ]
    return [View(f"Choice: {made['experiment']}", columns, [row], notes)]
