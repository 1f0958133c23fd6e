"""``plaudit.Experiment`` against a real collector: choices stamp their spans, never wait on the network,
follow removals after a refresh, and match the REST assignment's distribution."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from typing import Any

import httpx
import pytest
from scipy import stats

import plaudit
from plaudit.testing import capture_spans
from plaudit_collector.server import free_port

VARIANTS = {
    "concise": {"prompt": {"name": "answer", "version": "3", "template": "Briefly: {q}"}, "model": "m-small"},
    "detailed": {"prompt": "answer@4", "template": "In depth: {q}", "config": {"temperature": 0.7}},
}


def experiment(url: str, name: str = "answer-style", **kwargs: Any) -> plaudit.Experiment:
    kwargs.setdefault("variants", VARIANTS)
    kwargs.setdefault("score", "thumbs")
    kwargs.setdefault("refresh_interval", 60)
    return plaudit.Experiment(name, endpoint=url, seed=1, **kwargs)


def test_spans_inside_a_choice_carry_the_experiment(sdk: Any, http: httpx.Client) -> None:
    with experiment(sdk.url, segment_by="plan") as exp:
        assert exp.refresh()
        with exp.choose(user_id="u-1", segment="pro") as choice, plaudit.span("generate", kind="llm") as inner:
            text = choice.prompt.format(q="why?") if choice.prompt else ""
            inner.set_output(text)
        assert plaudit.flush()
        assert choice.variant in VARIANTS and choice.probability == 0.5 and choice.ref is not None
        plaudit.feedback(choice.ref, "thumbs", True)
        assert plaudit.flush()
        spans = {s["name"]: s for s in http.get(f"/v1/traces/{choice.ref.trace_id}").json()["spans"]}
        assert set(spans) == {"experiment answer-style", "generate"}
        for span in spans.values():
            attrs = span["attributes"]
            assert attrs["plaudit.experiment"] == "answer-style"
            assert attrs["plaudit.variant"] == choice.variant == span["variant"]
            assert attrs["plaudit.experiment.probability"] == 0.5 == span["experiment_probability"]
            assert attrs["plaudit.experiment.segment"] == "pro" == span["experiment_segment"]
            assert attrs["plaudit.experiment.choice"] == choice.id == span["experiment_choice"]
            assert span["user_id"] == "u-1" and span["experiment"] == "answer-style"
        # LLM spans inherit the variant's prompt
        assert spans["generate"]["prompt_name"] == "answer"
        assert spans["generate"]["prompt_version"] == {"concise": "3", "detailed": "4"}[choice.variant]
        report = http.get("/v1/experiments/answer-style/report").json()
        row = {r["variant"]: r for r in report["overall"]["variants"]}[choice.variant]
        assert (row["choices"], row["count"], row["ratings"], row["mean"]) == (1, 1, 1, 1.0)
        assert row["ips"] == pytest.approx(2.0)  # one rated choice, logged probability 1/2


def test_choice_payload_helpers() -> None:
    concise = plaudit.Choice("e", "concise", VARIANTS["concise"], 0.5, None, None)
    assert concise.prompt == plaudit.Prompt("answer", "3", "Briefly: {q}") and concise.model == "m-small"
    assert concise.config is None
    detailed = plaudit.Choice("e", "detailed", VARIANTS["detailed"], 0.5, None, None)
    assert detailed.prompt == plaudit.Prompt("answer", "4", "In depth: {q}")
    assert detailed.config == {"temperature": 0.7} and detailed.model is None
    odd = plaudit.Choice("e", "odd", {"prompt": 5, "config": "hot", "model": 3}, 0.5, None, None)
    assert (odd.prompt, odd.config, odd.model) == (None, None, None)
    with capture_spans() as spans, odd as entered:  # a payload the span cannot describe still makes a block
        assert entered is odd
    assert [s.name for s in spans.get_finished_spans()] == ["experiment e"]


def test_user_exceptions_pass_through_and_the_choice_span_records_them(sdk: Any, http: httpx.Client) -> None:
    with experiment(sdk.url) as exp:

        class Boom(Exception):
            pass

        with pytest.raises(Boom), exp.choose() as choice:
            raise Boom("from the app")
        assert plaudit.flush() and choice.ref is not None
        span = http.get(f"/v1/traces/{choice.ref.trace_id}").json()["spans"][0]
        assert span["status"] == "ERROR"
        assert plaudit.current_ref() is None


def test_segment_comes_from_the_context_metadata(sdk: Any) -> None:
    with experiment(sdk.url, segment_by="plan") as exp:
        exp.refresh()
        with plaudit.context(metadata={"plan": "enterprise"}):
            choice = exp.choose()
        assert choice.segment == "enterprise"
        assert exp.choose(segment="free").segment == "free"
        with pytest.raises(TypeError):
            exp.choose(segment=3)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            exp.choose(user_id=7)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"variants": {}}, ValueError),
        ({"variants": {"a": "payload"}}, TypeError),
        ({"score": None}, ValueError),
        ({"policy": "ucb"}, ValueError),
        ({"min_share": 2}, ValueError),
        ({"sticky": "yes"}, TypeError),
        ({"refresh_interval": 0}, ValueError),
    ],
)
def test_wrong_arguments_raise_at_the_call_site(kwargs: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        experiment("http://127.0.0.1:9", **kwargs)


def test_unreachable_collector_splits_the_code_variants_evenly(caplog: Any) -> None:
    url = f"http://127.0.0.1:{free_port('127.0.0.1')}"
    with caplog.at_level(logging.WARNING, logger="plaudit"), experiment(url) as exp:
        counts = Counter(exp.choose().variant for _ in range(2000))
        assert set(counts) == set(VARIANTS) and abs(counts["concise"] - 1000) < 150
        assert exp.choose().probability == 0.5
        assert exp.refresh() is False
    assert any("could not refresh the policy state" in r.getMessage() for r in caplog.records)
    with experiment(url, variants=None, score=None) as bare:
        nothing = bare.choose()
        assert (nothing.variant, nothing.payload, nothing.probability) == (None, {}, None)
        with capture_spans() as spans, nothing:  # nothing to stamp, still a working block
            pass
        assert "plaudit.experiment" not in spans.get_finished_spans()[0].attributes  # type: ignore[operator]


def test_choosing_never_waits_on_a_collector_that_hangs() -> None:
    """A collector that accepts connections and never answers: a refresh blocks, choices do not."""
    with socket.create_server(("127.0.0.1", 0), backlog=64) as silent:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with experiment(url, timeout=30) as exp:
            refreshing = threading.Thread(target=exp.refresh, daemon=True)
            refreshing.start()
            counts = Counter(exp.choose(user_id=f"u{i}").variant for i in range(1000))
            assert refreshing.is_alive(), "the refresh should still be waiting for an answer"
            assert set(counts) == set(VARIANTS)


def test_last_state_is_used_while_the_collector_is_down(sdk: Any) -> None:
    with plaudit.Client(sdk.url) as client, experiment(sdk.url) as exp:
        assert exp.refresh()
        client.promote("answer-style", "detailed")
        assert exp.refresh()
        sdk.stop()
        assert exp.refresh() is False
        assert {exp.choose().variant for _ in range(200)} == {"detailed"}


def test_a_removed_variant_is_never_chosen_after_the_next_refresh(sdk: Any) -> None:
    variants = {**VARIANTS, "bullets": {"model": "m-small"}}
    with plaudit.Client(sdk.url) as client, experiment(sdk.url, variants=variants) as exp:
        assert exp.refresh()
        assert {exp.choose().variant for _ in range(300)} == set(variants)
        client.remove_variant("answer-style", "bullets")
        client.pause_variant("answer-style", "concise")
        assert exp.refresh()
        assert {exp.choose(segment="x").variant for _ in range(1000)} == {"detailed"}
        # the app restarts with its old definition: removed and paused stay so
        with experiment(sdk.url, variants=variants) as again:
            assert again.refresh()
            assert {again.choose().variant for _ in range(300)} == {"detailed"}


def _rate(sdk_url: str, exp: plaudit.Experiment, truth: dict[str, float], rounds: int) -> None:
    import random

    rng = random.Random(4)
    for _ in range(rounds):
        with exp.choose() as choice:
            pass
        plaudit.feedback(choice.ref, "thumbs", rng.random() < truth[choice.variant])  # type: ignore[index]
    assert plaudit.flush()


def test_rest_assignment_and_the_sdk_give_the_same_distribution(sdk: Any, http: httpx.Client) -> None:
    with experiment(sdk.url, variants={**VARIANTS, "third": {}}) as exp:
        assert exp.refresh()
        _rate(sdk.url, exp, {"concise": 0.6, "detailed": 0.45, "third": 0.5}, 60)
        assert exp.refresh()
        state = http.get("/v1/experiments/answer-style/state", params={"max_age": 0}).json()
        probabilities = state["probabilities"]
        assert exp._state is not None and exp._state.overall == probabilities
        assert max(probabilities.values()) < 0.98 and min(probabilities.values()) > 0.02  # a real mix
        names = list(probabilities)
        local = Counter(exp.choose().variant for _ in range(4000))
        remote = Counter(http.get("/v1/experiments/answer-style/assign").json()["variant"] for _ in range(800))
        for counts in (local, remote):
            observed = [counts[n] for n in names]
            expected = [probabilities[n] * sum(observed) for n in names]
            assert stats.chisquare(observed, expected).pvalue > 0.001, (counts, probabilities)
        table = [[local[n] for n in names], [remote[n] for n in names]]
        assert stats.chi2_contingency(table).pvalue > 0.001


def test_sticky_units_agree_between_the_sdk_and_rest(sdk: Any, http: httpx.Client) -> None:
    with experiment(sdk.url, sticky=True) as exp:
        assert exp.refresh()
        local = {f"u{i}": exp.choose(user_id=f"u{i}").variant for i in range(12)}
        assert {exp.choose(user_id=u).variant for u in local for _ in range(3)} <= set(VARIANTS)
        assert all(exp.choose(user_id=u).variant == v for u, v in local.items())
        assert exp.refresh()  # reports the units it assigned
        for unit, variant in local.items():
            assert http.get("/v1/experiments/answer-style/assign", params={"unit": unit}).json()["variant"] == variant
        remote = {f"r{i}": http.get("/v1/experiments/answer-style/assign", params={"unit": f"r{i}"}).json()
                  for i in range(12)}  # fmt: skip
        for unit, choice in remote.items():
            assert exp.choose(user_id=unit).variant == choice["variant"]
        assert len(set(local.values())) == 2  # both variants got units


def test_client_and_cli(sdk: Any, tmp_path: Any) -> None:
    with plaudit.Client(sdk.url) as client:
        info = client.create_experiment("cli-exp", {"a": {"model": "m1"}, "b": {}}, score="stars", policy="fixed")
        assert (info.name, info.policy, list(info.variants)) == ("cli-exp", "fixed", ["a", "b"])
        assert client.add_variant("cli-exp", "c", {"model": "m3"}, weight=2).variants["c"]["weight"] == 2
        assert client.set_policy("cli-exp", "epsilon_greedy", epsilon=0.3).epsilon == 0.3  # type: ignore[attr-defined]
        assert client.assign("cli-exp", segment="s", unit="u").variant in {"a", "b", "c"}
        assert [e.name for e in client.experiments()] == ["cli-exp"]
        report = client.experiment_report("cli-exp", bucket="hour")
        assert report.experiment == "cli-exp" and len(report.overall["variants"]) == 3
    cli = [sys.executable, "-m", "plaudit_collector.cli"]
    for args in (
        ["pause", "cli-exp", "c"],
        ["set", "cli-exp", "--policy", "thompson", "--min-share", "0.1"],
        ["report", "cli-exp"],
        ["assign", "cli-exp", "--segment", "s"],
        ["promote", "cli-exp", "a"],
        ["list"],
    ):
        done = subprocess.run([*cli, "experiments", *args, "--endpoint", sdk.url], capture_output=True, text=True)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    assert "stopped (winner: a)" in done.stdout or "cli-exp" in done.stdout
    bad = subprocess.run(
        [*cli, "experiments", "promote", "cli-exp", "nope", "--endpoint", sdk.url], capture_output=True, text=True
    )
    assert bad.returncode == 2 and "no variant 'nope'" in bad.stderr
    with plaudit.Client(sdk.url) as client:
        final = client.experiment("cli-exp")
        assert (final.status, final.winner, final.policy) == ("stopped", "a", "thompson")
        assert final.variants["c"]["status"] == "paused"


def test_a_busy_app_refreshes_before_the_interval_is_up(sdk: Any) -> None:
    with plaudit.Client(sdk.url) as client, experiment(sdk.url, refresh_interval=3600) as exp:
        deadline = time.monotonic() + 10
        while exp._state is None and time.monotonic() < deadline:  # the first background refresh
            time.sleep(0.05)
        client.promote("answer-style", "concise")
        time.sleep(1.1)
        for _ in range(100):  # the hundredth choice, a second after the last refresh, wakes the refresher
            exp.choose()
        while time.monotonic() < deadline and {exp.choose().variant for _ in range(50)} != {"concise"}:
            time.sleep(0.05)
        assert {exp.choose().variant for _ in range(200)} == {"concise"}


def test_a_sticky_unit_follows_its_first_assignment_in_every_process(sdk: Any) -> None:
    from plaudit._internal.experiment_state import unit_draw

    unit = next(f"user-{i}" for i in range(1000) if 0.1 < unit_draw("sticky-exp", f"user-{i}") < 0.5)
    variants = {"a": {}, "b": {}}
    with plaudit.Client(sdk.url) as client:
        with experiment(sdk.url, "sticky-exp", variants=variants, policy="fixed", sticky=True) as first:
            assert first.refresh()
            assert first.choose(user_id=unit).variant == "a"  # an even split: its draw falls in a's half
            assert first.refresh()  # reports the assignment to the collector
        client.update_experiment("sticky-exp", variants={"b": {"weight": 9}})  # now a 10%, b 90%
        with experiment(sdk.url, "sticky-exp", variants=variants) as second:  # another process
            assert second.refresh()
            assert second.choose(user_id=unit).variant == "b"  # has not heard of the unit: draws afresh
            assert second.refresh()  # learns what the collector stored first
            assert {second.choose(user_id=unit).variant for _ in range(20)} == {"a"}
        assert client.assign("sticky-exp", unit=unit).variant == "a"
