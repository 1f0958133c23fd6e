"""One query vocabulary: every door (REST, ``plaudit.Client``, the CLI) accepts every term the declaration
gives a question, gives the same answer for it, and refuses what the declaration does not name.

Each question maps to its route (``ROUTES``), its ``plaudit.Client`` method (the question's name; exports
through ``Client.export``) and its CLI command (``COMMANDS``)."""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from analytics_seed import BASE_NS, DAY_NS, Seeder
from typer.testing import CliRunner

import plaudit
from plaudit._internal.query_params import FILTERS
from plaudit_collector import vocabulary
from plaudit_collector.cli import analytics as cli_analytics
from plaudit_collector.cli import judges as cli_judges

ROUTES = {
    "leaderboard": "/v1/analytics/leaderboard",
    "compare": "/v1/analytics/compare",
    "trend": "/v1/analytics/trend",
    "agreement": "/v1/analytics/agreement",
    "segments": "/v1/analytics/segments",
    "preferences": "/v1/analytics/preferences",
    "export_spans": "/v1/export/spans",
    "export_finetune": "/v1/export/finetune",
    "export_preferences": "/v1/export/preferences",
    "traces": "/v1/traces",
    "judge_report": "/v1/analytics/judges",
    "alpha": "/v1/analytics/alpha",
    "disagreements": "/v1/analytics/disagreements",
    "informative": "/v1/analytics/informative",
}
COMMANDS = {
    "leaderboard": ["leaderboard"],
    "compare": ["compare"],
    "trend": ["trend"],
    "agreement": ["agreement"],
    "segments": ["segments"],
    "preferences": ["preferences"],
    "export_spans": ["export", "spans"],
    "export_finetune": ["export", "finetune"],
    "export_preferences": ["export", "preferences"],
    "traces": ["traces"],
    "judge_report": ["judges", "report"],
    "alpha": ["judges", "alpha"],
    "disagreements": ["judges", "disagreements"],
    "informative": ["judges", "informative"],
}
BASE: dict[str, dict[str, Any]] = {
    "leaderboard": {"score": "thumbs"},
    "compare": {"score": "thumbs", "a": {"variant": "v1"}, "b": {"variant": "v2"}},
    "trend": {"score": "thumbs"},
    "agreement": {},
    "segments": {"score": "thumbs", "segment": "user.id"},
    "preferences": {},
    "export_spans": {},
    "export_finetune": {"score": "thumbs"},
    "export_preferences": {"score": "thumbs"},
    "traces": {},
    "judge_report": {"score": "thumbs", "bootstrap": 0},
    "alpha": {"score": "thumbs", "bootstrap": 0},
    "disagreements": {"score": "thumbs"},
    "informative": {"score": "thumbs"},
}
SAMPLES: dict[str, Any] = {
    "from": "2025-12-31T00:00:00Z",
    "to": "2026-02-01T00:00:00Z",
    "span_name": ["chat"],
    "span_kind": ["llm"],
    "tag": ["beta"],
    "metadata": {"plan": "pro"},
    "where": {"user.id": "u1"},
    "source": ["human"],
    "author": ["alice"],
    "group_by": ["variant"],
    "higher_is_better": False,
    "confidence": 0.9,
    "estimator": "mean",
    "human_source": "human",
    "judge_source": "llm_judge",
    "correction": "bh",
    "min_count": 2,
    "health": False,
    "test": "welch",
    "bucket": "week",
    "by": "author",
    "rater_a": "alice",
    "rater_b": "judge",
    "min_score": 0.5,
    "max_score": 0.5,
    "corrections": False,
    "format": "plain",
    "preference": "preference",
    "min_margin": 0.1,
    "pairs": "all",
    "max_pairs": 2,
    "q": "refund",
    "status": "error",
    "has_feedback": "thumbs",
    "missing_feedback": "thumbs",
    "min_duration_ms": 50.0,
    "max_duration_ms": 1e6,
    "min_tokens": 10,
    "max_tokens": 100000,
    "bootstrap": 20,
    "raters": "humans",
    "level": "ordinal",
    "mode": "raters",
}
PER_QUESTION = {
    ("leaderboard", "sort"): "mean",
    ("traces", "sort"): "latency",
    ("segments", "limit"): 10,
    ("traces", "limit"): 2,
    ("agreement", "score"): ["thumbs"],
    ("traces", "score"): "thumbs",
    ("preferences", "score"): "preference",
    ("export_spans", "score"): "thumbs",
    ("disagreements", "limit"): 3,
    ("informative", "limit"): 3,
}
TRACE_TERMS_NEED_SCORE = {"min_score", "max_score"}


def _rest(term: vocabulary.Term, value: Any) -> list[tuple[str, str]]:
    if isinstance(value, bool):
        return [(term.name, str(value).lower())]
    if isinstance(value, dict):
        return [(term.name, f"{k}={v}") for k, v in value.items()]
    if isinstance(value, list):
        return [(term.name, str(v)) for v in value]
    return [(term.name, str(value))]


def _cli(term: vocabulary.Term, value: Any) -> list[str]:
    flag = term.cli_flags[0]
    if isinstance(value, bool):
        yes, _, no = flag.partition("/")
        return [yes if value else no]
    if isinstance(value, dict):
        return [arg for k, v in value.items() for arg in (flag, f"{k}={v}")]
    if isinstance(value, list):
        return [arg for v in value for arg in (flag, str(v))]
    return [flag, str(value)]


def _seed(http: httpx.Client) -> None:
    seed = Seeder(http)
    for i in range(24):
        variant = "v1" if i % 2 else "v2"
        user = f"u{i % 3}"
        root = seed.span(
            name="chat",
            start_ns=BASE_NS + (i % 6) * DAY_NS + i * 10**9,
            duration_ms=80.0 + i,
            error=i == 5,
            plaudit__variant=variant,
            plaudit__span__kind="llm",
            plaudit__tags=["beta"] if i % 4 else ["stable"],
            plaudit__metadata__plan="pro" if i % 3 else "free",
            user__id=user,
            gen_ai__provider__name="openai",
            gen_ai__request__model="gpt-4o-mini",
            gen_ai__usage__input_tokens=100 + i,
            gen_ai__usage__output_tokens=20,
            plaudit__input=f"question {i % 4} about a refund" if i % 2 else f"question {i % 4} about shipping",
            plaudit__output=f"answer {i}",
        )
        seed.rate(root, "thumbs", (i % 3 != 0) == (variant == "v1"), author="alice", source="human")
        if i % 2:
            seed.rate(root, "thumbs", i % 5 != 0, author="judge", source="llm_judge")
    seed.send()
    refs = [(f"{n:032x}", f"{n:016x}") for n in range(1, 9)]
    for a, b in zip(refs[::2], refs[1::2], strict=True):
        seed.prefer(a, b, "a", author="alice")
    seed.send()


@pytest.fixture
def seeded(collector: Any, http: httpx.Client) -> Any:
    _seed(http)
    return collector


@pytest.fixture
def cli() -> Iterator[Any]:
    app = typer.Typer()
    cli_analytics.register(app)
    cli_judges.register(app)
    runner = CliRunner()
    yield lambda args: runner.invoke(app, args)


def _client_call(client: plaudit.Client, question: str, kwargs: dict[str, Any]) -> Any:
    if question.startswith("export_"):
        return list(client.export(question.removeprefix("export_"), **kwargs))
    result = getattr(client, question)(**kwargs)
    return result if isinstance(result, dict) else result.model_dump(mode="json")


def _rest_call(http: httpx.Client, question: str, params: list[tuple[str, str]]) -> Any:
    response = http.get(ROUTES[question], params=params)
    assert response.status_code == 200, (question, params, response.text)
    if question.startswith("export_"):
        return [json.loads(line) for line in response.text.splitlines() if line.strip()]
    return response.json()


def _contains(big: Any, small: Any) -> bool:
    """Every field of ``small`` (the REST answer) is in ``big`` (the Client's) with the same value."""
    if isinstance(small, dict):
        return isinstance(big, dict) and all(k in big and _contains(big[k], v) for k, v in small.items())
    if isinstance(small, list):
        return isinstance(big, list) and len(big) == len(small) and all(map(_contains, big, small))
    return bool(big == small)


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _cases() -> Iterator[tuple[str, str]]:
    for question in vocabulary.QUESTIONS:
        for term in vocabulary.terms_for(question):
            yield question, term.name


def test_every_door_accepts_every_term_and_answers_alike(seeded: Any, http: httpx.Client, cli: Any, tmp_path: Path):
    checked = 0
    with plaudit.Client(seeded.url) as client:
        first = client.traces(limit=1)
        cursor = first.next_cursor
        assert cursor is not None
        for question, name in _cases():
            vocabulary.term(question, name)  # declared
            asked = dict(BASE[question])
            if name == "cursor":
                value: Any = cursor
            else:
                value = PER_QUESTION.get((question, name), SAMPLES.get(name, BASE[question].get(name)))
            assert value is not None, f"no sample value for {question}.{name}"
            if question == "traces" and name in TRACE_TERMS_NEED_SCORE:
                asked["score"] = "thumbs"
            if name == "corrections":
                asked["score"] = "thumbs"
            asked[name] = value
            terms = {n: vocabulary.term(question, n) for n in asked}
            params = [p for n, v in asked.items() for p in _rest(terms[n], v)]
            rest = _rest_call(http, question, params)
            kwargs = {terms[n].client_name: v for n, v in asked.items()}
            via_client = _client_call(client, question, kwargs)
            assert _contains(via_client, rest), (question, name)
            args = [arg for n, v in asked.items() for arg in _cli(terms[n], v)]
            command = COMMANDS[question]
            out_file = tmp_path / f"{question}-{name}.jsonl"
            extra = ["--out", str(out_file)] if question.startswith("export_") else []
            result = cli([*command, *args, *extra, "--endpoint", seeded.url])
            assert result.exit_code == 0, (question, name, args, result.output)
            if question.startswith("export_"):
                lines = [json.loads(line) for line in out_file.read_text().splitlines() if line.strip()]
                assert lines == rest, (question, name)
            elif question == "traces":
                if rest["next_cursor"]:
                    assert _squash(rest["next_cursor"]) in _squash(result.output), (question, name)
            else:
                assert _squash(rest["verdict"]) in _squash(result.output), (question, name, result.output)
            checked += 1
    assert checked == sum(len(vocabulary.terms_for(q)) for q in vocabulary.QUESTIONS)


def test_unknown_parameter_is_refused_by_every_door(collector: Any, http: httpx.Client, cli: Any) -> None:
    response = http.get("/v1/analytics/leaderboard", params={"score": "x", "by": "model"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"] == "by"
    assert error["code"] == "unknown_parameter"
    assert error["message"] == "unknown query parameter 'by'; did you mean group_by?"
    typo = http.get("/v1/analytics/leaderboard", params={"score": "x", "group_bys": "model"}).json()["error"]
    assert typo["code"] == "unknown_parameter" and "did you mean group_by?" in typo["message"]
    assert http.get("/v1/traces", params={"qq": "x"}).json()["error"]["message"].startswith("unknown query parameter")
    with plaudit.Client(collector.url) as client, pytest.raises(TypeError, match="did you mean"):
        client.leaderboard("x", group_bys=["model"])
    result = cli(["leaderboard", "--score", "x", "--group-bi", "model", "--endpoint", collector.url])
    assert result.exit_code == 2
    assert "No such option: --group-bi" in result.output and "--group-by" in result.output
    judged = http.get("/v1/analytics/judges", params={"score": "x", "groupby": "model"}).json()["error"]
    assert (judged["code"], judged["field"]) == ("unknown_parameter", "groupby")
    assert judged["message"] == "unknown query parameter 'groupby'; did you mean group_by?"
    with plaudit.Client(collector.url) as client, pytest.raises(TypeError, match="did you mean"):
        client.informative("x", limits=3)
    result = cli(["judges", "alpha", "--score", "x", "--rater", "humans", "--endpoint", collector.url])
    assert result.exit_code == 2 and "--raters" in result.output


def test_the_rest_routes_take_exactly_the_declared_terms(collector: Any, http: httpx.Client) -> None:
    spec = http.get("/openapi.json").json()
    for question, path in ROUTES.items():
        params = {p["name"] for p in spec["paths"][path]["get"]["parameters"] if p["in"] == "query"}
        assert params == {t.name for t in vocabulary.terms_for(question)}, question
    assert http.get("/v1/query-model").json() == json.loads(json.dumps(vocabulary.served()))


def test_the_client_takes_every_declared_term() -> None:
    shared = {t.client_name: t.name for t in vocabulary.TERMS if set(t.questions) == set(vocabulary.QUESTIONS)}
    assert shared == FILTERS
    for question in vocabulary.QUESTIONS:
        if question.startswith("export_"):
            taken = {*plaudit.Client.EXPORT_OPTIONS[question.removeprefix("export_")], *FILTERS}
        else:
            taken = set(inspect.signature(getattr(plaudit.Client, question)).parameters) | set(FILTERS)
        for term in vocabulary.terms_for(question):
            assert term.client_name in taken, (question, term.name)


def test_the_cli_takes_every_declared_term() -> None:
    app = typer.Typer()
    cli_analytics.register(app)
    cli_judges.register(app)
    group = typer.main.get_command(app)
    assert set(COMMANDS) == set(vocabulary.QUESTIONS) == set(ROUTES)
    for question in vocabulary.QUESTIONS:
        command: Any = group
        for name in COMMANDS[question]:
            if not hasattr(command, "commands"):
                break  # the rest are arguments (the kind of an export)
            command = command.commands[name]
        flags = {opt for param in command.params for opt in [*param.opts, *param.secondary_opts]}
        for term in vocabulary.terms_for(question):
            for flag in term.cli_flags:
                assert set(flag.split("/")) <= flags, (question, flag)


def test_the_workspace_builds_its_controls_from_the_served_declaration(collector: Any, http: httpx.Client) -> None:
    """The pages read their filters from ``GET /v1/query-model`` and keep no copy of the declaration."""
    model = http.get("/static/js/parts/querymodel.js").text
    assert 'api("/v1/query-model")' in model
    for page in ("/static/js/parts/analysis.js", "/static/js/pages/traces.js"):
        assert re.search(r'import \{[^}]*termsFor[^}]*\} from "[./a-z]*querymodel\.js"', http.get(page).text), page
    copied = [f'"{name}"' for name in (*(d.name for d in vocabulary.DIMENSIONS), *vocabulary.SOURCES)]
    copied += [f'T("{t.name}"' for t in vocabulary.TERMS]
    assert [c for c in copied if c in model] == []


def test_the_readme_documents_the_vocabulary_once() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- vocabulary:start -->\n", 1)[1].split("<!-- vocabulary:end -->", 1)[0]
    assert block == vocabulary.markdown_table()


@pytest.mark.parametrize(
    ("path", "wrong", "right"),
    [
        ("/v1/feedback", "source", "name"),
        ("/v1/feedback/orphans", "older", "older_than"),
        ("/v1/projects", "all", None),
        ("/v1/export/spans", "formt", None),
    ],
)
def test_every_v1_route_refuses_a_query_parameter_it_does_not_take(
    http: httpx.Client, path: str, wrong: str, right: str | None
) -> None:
    """A misspelt or unsupported filter is a 422 naming it, never silently ignored (the answer would be wider
    than asked)."""
    response = http.get(path, params={wrong: "x"})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("unknown_parameter", wrong)
    assert error["message"].startswith(f"unknown query parameter {wrong!r}")
    if right is not None:
        assert http.get(path, params={right: "1"}).status_code == 200
