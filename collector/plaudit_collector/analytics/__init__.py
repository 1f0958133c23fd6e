"""Analytics: which group of spans gets the best feedback, and is the difference real.

Enters: a question (a score, dimensions, filters) against stored spans and feedback. Leaves: plain dicts
with counts, means and intervals. One module per question (leaderboard, compare, trend, agreement,
segments, preferences, export); aggregation runs in SQL, :mod:`.stats` turns the aggregates into
intervals and tests. ``analytics.leaderboard(db, project, "thumbs", ["model"])``.
"""

from __future__ import annotations

from plaudit_collector.analytics.agreement import agreement
from plaudit_collector.analytics.compare import compare
from plaudit_collector.analytics.core import DIMENSIONS, Filters, dimension, format_group
from plaudit_collector.analytics.export import export_finetune, export_preference_pairs, export_spans, jsonl
from plaudit_collector.analytics.leaderboard import leaderboard
from plaudit_collector.analytics.preferences import preferences
from plaudit_collector.analytics.segments import segments
from plaudit_collector.analytics.trace_search import search_traces
from plaudit_collector.analytics.trend import trend

__all__ = [
    "DIMENSIONS",
    "Filters",
    "agreement",
    "compare",
    "dimension",
    "export_finetune",
    "export_preference_pairs",
    "export_spans",
    "format_group",
    "jsonl",
    "leaderboard",
    "preferences",
    "search_traces",
    "segments",
    "trend",
]
