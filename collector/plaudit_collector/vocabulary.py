"""The one query vocabulary: every dimension, filter and option a question accepts, declared once.

REST query parameters (``api/query_params.py``), ``plaudit.Client`` keyword arguments (checked against this
table by a test, since the SDK never imports the collector), CLI options (``cli/query_options.py``) and the
dashboard's controls (served at ``GET /v1/query-model``) are all built from or checked against
:data:`TERMS`, so the doors cannot drift apart. Pure data: no web framework, no database.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

QUESTIONS = (
    "leaderboard",
    "compare",
    "trend",
    "agreement",
    "segments",
    "preferences",
    "export_spans",
    "export_finetune",
    "export_preferences",
    "traces",
)
"""Every question a door can ask; a term names the ones it applies to."""

ANALYSES = ("leaderboard", "compare", "trend", "agreement", "segments", "preferences")
EXPORTS = ("export_spans", "export_finetune", "export_preferences")
RANKED = ("leaderboard", "compare", "trend", "segments")
"""Questions that rank or test groups on a score: they take a direction, a confidence and a correction."""
SOURCES = ("human", "end_user", "annotator", "llm_judge", "code")
PPI = ("leaderboard", "compare", "trend")
"""Questions that take the judge-assisted estimator."""


@dataclass(frozen=True)
class Dimension:
    """A name spans can be grouped or filtered by, and the span column it reads."""

    name: str
    column: str
    help: str


DIMENSIONS: tuple[Dimension, ...] = (
    Dimension("model", "model", "the model requested (gen_ai.request.model)"),
    Dimension("provider", "provider", "the provider (openai, anthropic, ...)"),
    Dimension("prompt.name", "prompt_name", "the prompt's name"),
    Dimension("prompt.version", "prompt_version", "the prompt's version"),
    Dimension("config.hash", "config_hash", "hash of the call's configuration (temperature, ...)"),
    Dimension("variant", "variant", "the variant that produced the span"),
    Dimension("user.id", "user_id", "the end user"),
    Dimension("session.id", "session_id", "the session"),
    Dimension("span.name", "name", "the span's name"),
    Dimension("span.kind", "span_kind", "llm, tool, retrieval, ..."),
    Dimension("service.name", "service_name", "the service that sent the span"),
)
ATTRIBUTE_DIMENSION = "attr.<key>"
"""Any span attribute, e.g. ``attr.plaudit.config.temperature``."""


@dataclass(frozen=True)
class Term:
    """One query parameter, the same in every door.

    ``type``: ``text``, ``texts`` (repeatable), ``time`` (ISO 8601 or unix seconds), ``pairs`` (repeatable
    ``key=value``; a dict in the Client), ``choice``, ``choices`` (repeatable), ``int``, ``float`` or ``bool``.
    """

    name: str
    kind: str
    type: str
    help: str
    questions: tuple[str, ...]
    choices: tuple[str, ...] = ()
    required_in: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    max_length: int = 200
    client: str = ""
    """The ``plaudit.Client`` keyword (defaults to ``name``)."""
    cli: tuple[str, ...] = ()
    """CLI flags, first the canonical one (defaults to ``--name-with-dashes``)."""
    default: Any = None
    """The default the question applies when the term is not given (documentation only)."""

    @property
    def client_name(self) -> str:
        return self.client or self.name

    @property
    def cli_flags(self) -> tuple[str, ...]:
        return self.cli or ("--" + self.name.replace("_", "-"),)

    @property
    def repeatable(self) -> bool:
        return self.type in ("texts", "pairs", "choices")

    def required(self, question: str) -> bool:
        return question in self.required_in


def _t(name: str, kind: str, type_: str, help_: str, questions: Iterable[str], **more: Any) -> Term:
    return Term(name, kind, type_, help_, tuple(questions), **more)


ALL = QUESTIONS
SCORED = (*ANALYSES, *EXPORTS, "traces")
DIMENSION_NAMES = ", ".join([*(d.name for d in DIMENSIONS), ATTRIBUTE_DIMENSION])

TERMS: tuple[Term, ...] = (
    # ---- filters: which spans and which feedback a question looks at (every question)
    _t("from", "filter", "time", "spans started at or after (ISO 8601 or unix seconds)", ALL, client="start"),
    _t("to", "filter", "time", "spans started before (ISO 8601 or unix seconds)", ALL, client="end"),
    _t("span_name", "filter", "texts", "only spans with this name; repeatable", ALL, max_length=1000),
    _t("span_kind", "filter", "texts", "only spans of this kind (llm, tool, ...); repeatable", ALL, max_length=32),
    _t("tag", "filter", "texts", "only spans carrying this tag; repeatable", ALL, client="tags"),
    _t("metadata", "filter", "pairs", "key=value: only spans with plaudit.metadata.<key>=value", ALL, max_length=400),
    _t(
        "where",
        "filter",
        "pairs",
        f"dim=value: only spans in this group, e.g. model=gpt-4o (dim: {DIMENSION_NAMES}; empty value = none)",
        ALL,
        max_length=400,
    ),
    _t("source", "filter", "choices", "only feedback from this source; repeatable", ALL, choices=SOURCES),
    _t("author", "filter", "texts", "only feedback by this author; repeatable", ALL),
    # ---- what to ask
    _t(
        "score",
        "option",
        "text",
        "feedback name, e.g. thumbs",
        (*RANKED, "preferences"),
        required_in=(*RANKED,),
        default={"preferences": "preference"},
    ),
    _t("score", "option", "texts", "feedback names (default: every name both raters used); repeatable", ("agreement",)),
    _t(
        "score",
        "option",
        "text",
        "spans: only feedback with this name; finetune: the rating that selects spans; "
        "preferences: pair spans with the same input by this rating; traces: the score the range and sort read",
        (*EXPORTS, "traces"),
    ),
    _t(
        "group_by",
        "dimension",
        "texts",
        f"dimension to group by: {DIMENSION_NAMES}; repeatable, at most 4",
        ("leaderboard", "trend", "segments", "preferences"),
        max_length=205,
        cli=("--group-by", "--by"),
        default={"leaderboard": ["variant"], "segments": ["variant"], "preferences": ["variant"], "trend": []},
    ),
    _t(
        "a",
        "option",
        "pairs",
        "group A as dim=value; repeatable",
        ("compare",),
        required_in=("compare",),
        max_length=400,
    ),
    _t(
        "b",
        "option",
        "pairs",
        "group B as dim=value, the same dimensions as A",
        ("compare",),
        required_in=("compare",),
        max_length=400,
    ),
    _t(
        "segment",
        "dimension",
        "text",
        "dimension to split by, e.g. user.id or attr.plan",
        ("segments",),
        required_in=("segments",),
        max_length=205,
    ),
    # ---- how to judge
    _t(
        "higher_is_better",
        "option",
        "bool",
        "score direction; default: the score config's (true without one)",
        (*RANKED, "export_finetune", "export_preferences", "traces"),
        cli=("--higher-is-better/--lower-is-better",),
    ),
    _t(
        "confidence",
        "option",
        "float",
        "confidence level of intervals and tests",
        RANKED,
        minimum=0.5,
        maximum=0.999,
        default=0.95,
    ),
    _t(
        "correction",
        "option",
        "choice",
        "multiple-comparison correction: Holm or Benjamini–Hochberg",
        ("leaderboard", "trend", "segments"),
        choices=("holm", "bh"),
        default="holm",
    ),
    _t(
        "estimator",
        "option",
        "choice",
        "mean of the ratings, or ppi: judge ratings corrected by human ones (PPI++)",
        ("leaderboard", "compare", "trend"),
        choices=("mean", "ppi"),
        default="mean",
    ),
    _t("human_source", "option", "choice", "estimator=ppi: the source of the trusted ratings", PPI, choices=SOURCES),
    _t("judge_source", "option", "choice", "estimator=ppi: the source of the judge ratings", PPI, choices=SOURCES),
    _t(
        "min_count",
        "option",
        "int",
        "rated items a group needs to be ranked (or crowned in a segment)",
        ("leaderboard", "segments"),
        minimum=1,
        maximum=100_000,
        default=5,
    ),
    _t(
        "sort",
        "option",
        "choice",
        "rank by the lower interval bound or by the mean",
        ("leaderboard",),
        choices=("lower", "mean"),
        default="lower",
    ),
    _t(
        "health",
        "option",
        "bool",
        "also report spans, coverage, error rate, latency, tokens and cost per group",
        ("leaderboard",),
        cli=("--health/--no-health",),
        default=True,
    ),
    _t(
        "test",
        "option",
        "choice",
        "significance test",
        ("compare",),
        choices=("auto", "welch", "two-proportion", "mann-whitney"),
        default="auto",
    ),
    _t(
        "bucket",
        "option",
        "choice",
        "bucket width (UTC; weeks start on Monday)",
        ("trend",),
        choices=("hour", "day", "week"),
        default="day",
    ),
    _t(
        "by",
        "option",
        "choice",
        "what tells the two raters apart",
        ("agreement",),
        choices=("source", "author"),
        default="source",
    ),
    _t("rater_a", "option", "text", "first rater's source or author", ("agreement",), default="human"),
    _t("rater_b", "option", "text", "second rater's source or author", ("agreement",), default="llm_judge"),
    _t("limit", "option", "int", "largest segments shown", ("segments",), minimum=1, maximum=1000, default=50),
    # ---- exports
    _t(
        "min_score",
        "option",
        "float",
        "keep spans whose mean score is at least this",
        ("export_finetune",),
        minimum=-1e12,
        maximum=1e12,
    ),
    _t(
        "corrections",
        "option",
        "bool",
        "include corrected spans, output replaced by the correction",
        ("export_finetune",),
        cli=("--corrections/--no-corrections",),
        default=True,
    ),
    _t(
        "format",
        "option",
        "choice",
        "chat messages or input/output",
        ("export_finetune",),
        choices=("chat", "plain"),
        default="chat",
    ),
    _t("preference", "option", "text", "pairwise feedback name to export", ("export_preferences",)),
    _t(
        "min_margin",
        "option",
        "float",
        "least mean-score gap for a rating pair",
        ("export_preferences",),
        minimum=0,
        maximum=1e12,
        default=0.0,
    ),
    _t(
        "pairs",
        "option",
        "choice",
        "rating pairs per input: best against worst, or every pair above the margin",
        ("export_preferences",),
        choices=("best_worst", "all"),
        default="best_worst",
    ),
    _t(
        "max_pairs",
        "option",
        "int",
        "most rating pairs per input with pairs=all",
        ("export_preferences",),
        minimum=1,
        maximum=1000,
        default=10,
    ),
    # ---- trace search
    _t(
        "q",
        "filter",
        "text",
        "full-text search over span input and output (all words must match)",
        ("traces",),
        max_length=500,
    ),
    _t(
        "status",
        "filter",
        "choice",
        "only traces with an error span (error) or without (ok)",
        ("traces",),
        choices=("error", "ok"),
    ),
    _t("has_feedback", "filter", "text", "only traces with feedback of this name", ("traces",)),
    _t("missing_feedback", "filter", "text", "only traces without feedback of this name", ("traces",)),
    _t(
        "min_score",
        "filter",
        "float",
        "only traces whose mean `score` is at least this",
        ("traces",),
        minimum=-1e12,
        maximum=1e12,
    ),
    _t(
        "max_score",
        "filter",
        "float",
        "only traces whose mean `score` is at most this",
        ("traces",),
        minimum=-1e12,
        maximum=1e12,
    ),
    _t("min_duration_ms", "filter", "float", "only traces lasting at least this", ("traces",), minimum=0, maximum=1e12),
    _t("max_duration_ms", "filter", "float", "only traces lasting at most this", ("traces",), minimum=0, maximum=1e12),
    _t(
        "min_tokens",
        "filter",
        "int",
        "only traces with a span using at least this many tokens (in + out)",
        ("traces",),
        minimum=0,
        maximum=10**12,
    ),
    _t(
        "max_tokens",
        "filter",
        "int",
        "only traces whose spans use at most this many tokens (in + out)",
        ("traces",),
        minimum=0,
        maximum=10**12,
    ),
    _t(
        "sort",
        "option",
        "choice",
        "order: newest first, slowest, most expensive or best score (needs score)",
        ("traces",),
        choices=("time", "latency", "cost", "score"),
        default="time",
    ),
    _t("limit", "option", "int", "traces per page", ("traces",), minimum=1, maximum=500, default=50),
    _t("cursor", "option", "text", "the next_cursor of the previous page", ("traces",), max_length=500),
)


def terms_for(question: str) -> tuple[Term, ...]:
    """The terms ``question`` accepts, one per name."""
    if question not in QUESTIONS:
        raise KeyError(question)
    return tuple(term for term in TERMS if question in term.questions)


def term(question: str, name: str) -> Term:
    for candidate in terms_for(question):
        if candidate.name == name:
            return candidate
    raise KeyError(f"{question}: {name}")


def close_matches(name: str, known: Iterable[str]) -> list[str]:
    """Known names that look like ``name`` (a typo, another door's spelling, a part of a name), best first."""
    known = list(known)
    found = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    parts = [k for k in known if name in k.replace(".", "_").split("_") and k not in found]
    return (found + parts)[:3]


def unknown_message(kind: str, name: str, known: Iterable[str]) -> str:
    """``unknown query parameter 'by'; did you mean group_by?`` (or the accepted names when nothing is close)."""
    known = sorted(set(known))
    matches = close_matches(name, known)
    shown = name if len(name) <= 60 else name[:57] + "..."
    if matches:
        return f"unknown {kind} {shown!r}; did you mean {' or '.join(matches)}?"
    return f"unknown {kind} {shown!r}; accepted: {', '.join(known)}"


def served() -> dict[str, Any]:
    """The declaration as JSON (``GET /v1/query-model``): what the dashboard builds its controls from."""
    return {
        "questions": list(QUESTIONS),
        "dimensions": [asdict(d) for d in DIMENSIONS]
        + [{"name": ATTRIBUTE_DIMENSION, "column": None, "help": "any span attribute"}],
        "sources": list(SOURCES),
        "terms": [
            {
                "name": t.name,
                "kind": t.kind,
                "type": t.type,
                "help": t.help,
                "questions": list(t.questions),
                "choices": list(t.choices),
                "required_in": list(t.required_in),
                "repeatable": t.repeatable,
                "minimum": t.minimum,
                "maximum": t.maximum,
                "default": t.default,
                "client": t.client_name,
                "cli": list(t.cli_flags),
            }
            for t in TERMS
        ],
    }


def markdown_table() -> str:
    """The vocabulary as the README's table (a test keeps the README's copy equal to this)."""
    short = {
        "export_spans": "export spans",
        "export_finetune": "export finetune",
        "export_preferences": "export preferences",
    }
    lines = ["| parameter | `plaudit.Client` | CLI | questions | meaning |", "| --- | --- | --- | --- | --- |"]
    seen: set[tuple[str, str]] = set()
    for t in TERMS:
        if set(t.questions) == set(QUESTIONS):
            where = "all"
        else:
            where = ", ".join(short.get(q, q) for q in t.questions)
        if (t.name, where) in seen:
            continue
        seen.add((t.name, where))
        text = t.help.replace("|", "\\|")
        if t.choices:
            text += " (" + ", ".join(t.choices) + ")"
        flags = " ".join(f"`{f}`" for f in t.cli_flags)
        lines.append(f"| `{t.name}` | `{t.client_name}` | {flags} | {where} | {text} |")
    return "\n".join(lines) + "\n"
