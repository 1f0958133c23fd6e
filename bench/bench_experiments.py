"""Experiments: simulated users in three segments, with known and different preferences, drive experiments
through the real SDK (``plaudit.Experiment``, spans, ``plaudit.feedback``) and a real collector. Feedback
arrives as an app's would: late (up to ``--max-delay`` rounds) and for a quarter of the choices never.

Printed per policy (fixed split, epsilon-greedy and Thompson sampling, each global and per segment): the
cumulative expected regret (reward lost against serving every segment its best variant), overall and per
segment, and how often each segment got its best variant in the last 1,000 rounds. The target: Thompson
per segment has the lowest regret, far below the fixed split's, and serves each segment its best variant
at least 70% of the time by the end.

    python bench/bench_experiments.py [--rounds 5000] [--db URL] [--refresh-every 50]
"""

from __future__ import annotations

import argparse
import heapq
import random
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import plaudit
from plaudit_collector.server import BackgroundServer
from plaudit_collector.settings import CollectorSettings

SEGMENTS = {"free": 0.5, "pro": 0.3, "team": 0.2}
"""Each segment's share of the users."""
TRUTH = {
    "free": {"concise": 0.70, "detailed": 0.45, "bullets": 0.55},
    "pro": {"concise": 0.40, "detailed": 0.72, "bullets": 0.50},
    "team": {"concise": 0.50, "detailed": 0.45, "bullets": 0.68},
}
"""The chance a user of each segment gives each variant a thumbs up."""
VARIANTS = {
    "concise": {"prompt": {"name": "answer", "version": "concise", "template": "Briefly: {q}"}},
    "detailed": {"prompt": {"name": "answer", "version": "detailed", "template": "In depth: {q}"}},
    "bullets": {"prompt": {"name": "answer", "version": "bullets", "template": "As a list: {q}"}},
}
CONFIGS = [
    ("fixed", None),
    ("epsilon_greedy", None),
    ("epsilon_greedy", "plan"),
    ("thompson", None),
    ("thompson", "plan"),
]
NEVER_RATED = 0.25


@dataclass
class Result:
    """One simulated run: expected regret per segment, what each round served, feedback sent per variant."""

    policy: str
    segment_by: str | None
    regret: dict[str, float] = field(default_factory=lambda: dict.fromkeys(SEGMENTS, 0.0))
    served: list[tuple[str, str]] = field(default_factory=list)
    rated: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def best_share(self, last: int) -> dict[str, float]:
        """Per segment: the share of its choices in the last ``last`` rounds that got its best variant."""
        tail = self.served[-last:]
        out = {}
        for segment, truth in TRUTH.items():
            best = max(truth, key=truth.__getitem__)
            mine = [variant for seg, variant in tail if seg == segment]
            out[segment] = sum(v == best for v in mine) / len(mine) if mine else float("nan")
        return out


def simulate(
    url: str,
    policy: str,
    segment_by: str | None,
    rounds: int,
    *,
    seed: int = 1,
    refresh_every: int = 50,
    max_delay: int = 100,
    name: str | None = None,
    remove_at: tuple[int, str] | None = None,
) -> Result:
    """Run ``rounds`` requests through ``plaudit.Experiment`` against the collector at ``url`` (Plaudit must
    be configured to export there). ``remove_at=(round, variant)`` removes a variant mid-run."""
    rng = random.Random(seed)
    result = Result(policy, segment_by)
    name = name or f"bench-{policy}-{segment_by or 'global'}-{seed}"
    exp = plaudit.Experiment(
        name, VARIANTS, score="thumbs", policy=policy, segment_by=segment_by, refresh_interval=3600, seed=seed
    )
    pending: list[tuple[int, int, plaudit.SpanRef, bool, str]] = []
    started = time.perf_counter()
    try:
        exp.refresh()
        segments, weights = list(SEGMENTS), list(SEGMENTS.values())
        for i in range(rounds):
            if remove_at is not None and i == remove_at[0]:
                with plaudit.Client(url) as client:
                    client.remove_variant(name, remove_at[1])
                exp.refresh()
            segment = rng.choices(segments, weights)[0]
            with exp.choose(user_id=f"user-{rng.randrange(10_000)}", segment=segment) as choice:
                pass  # the app's LLM call would go here; its spans would carry the choice too
            variant = choice.variant
            assert variant is not None and choice.ref is not None
            truth = TRUTH[segment]
            result.regret[segment] += max(truth.values()) - truth[variant]
            result.served.append((segment, variant))
            if rng.random() >= NEVER_RATED:
                thumbs_up = rng.random() < truth[variant]
                heapq.heappush(pending, (i + rng.randint(0, max_delay), i, choice.ref, thumbs_up, variant))
            while pending and pending[0][0] <= i:
                _, _, ref, thumbs_up, rated = heapq.heappop(pending)
                plaudit.feedback(ref, "thumbs", thumbs_up)
                result.rated[rated] = result.rated.get(rated, 0) + 1
            if i % refresh_every == refresh_every - 1:
                if not plaudit.flush(timeout=60):  # a refresh before delivery would read an older state
                    raise RuntimeError(f"round {i}: spans and ratings not delivered within 60 s")
                exp.refresh()
        plaudit.flush()  # what is still pending was never delivered: like users who never came back
    finally:
        exp.close()
    result.seconds = time.perf_counter() - started
    return result


def choice_cost(url: str, calls: int = 20_000) -> tuple[float, float, float]:
    """Microseconds per ``exp.choose()`` (sampling the cached state), per ``with exp.choose():`` block (the
    choice's span and context too) and, as the baseline, per ``with plaudit.span():`` block."""
    with plaudit.Experiment("bench-cost", VARIANTS, score="thumbs", segment_by="plan", refresh_interval=3600) as exp:
        exp.refresh()
        started = time.perf_counter()
        for i in range(calls):
            exp.choose(segment="pro" if i % 2 else "free")
        bare = (time.perf_counter() - started) / calls * 1e6
        started = time.perf_counter()
        for i in range(calls // 4):
            with exp.choose(segment="pro" if i % 2 else "free"):
                pass
        block = (time.perf_counter() - started) / (calls // 4) * 1e6
        started = time.perf_counter()
        for _ in range(calls // 4):
            with plaudit.span("baseline", kind="chain"):
                pass
        span = (time.perf_counter() - started) / (calls // 4) * 1e6
    plaudit.flush()
    return bare, block, span


def _row(result: Result, last: int) -> str:
    shares = result.best_share(last)
    regret = " ".join(f"{result.regret[s]:8.1f}" for s in SEGMENTS)
    best = " ".join(f"{shares[s]:5.0%}" for s in SEGMENTS)
    label = f"{result.policy} ({result.segment_by or 'global'})"
    return f"{label:<28} {sum(result.regret.values()):9.1f}   {regret}   {best}   {result.seconds:6.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5000)
    parser.add_argument("--db", default=None, help="database URL (default: a SQLite file in a temporary folder)")
    parser.add_argument("--refresh-every", type=int, default=50, help="rounds between policy refreshes")
    parser.add_argument("--max-delay", type=int, default=100, help="most rounds a rating arrives late")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or f"sqlite:///{Path(tmp) / 'experiments.db'}"
        server = BackgroundServer(CollectorSettings(db_url=db)).start()
        plaudit.configure(endpoint=server.url, service_name="bench-experiments")
        try:
            bare, block, span = choice_cost(server.url)
            print(
                f"exp.choose(): {bare:.1f} µs; with exp.choose(): {block:.0f} µs, {block / span:.2f}x a plain "
                f"with plaudit.span() ({span:.0f} µs; the collector shares this process)"
            )
            results = [
                simulate(
                    server.url,
                    policy,
                    segment_by,
                    args.rounds,
                    seed=args.seed,
                    refresh_every=args.refresh_every,
                    max_delay=args.max_delay,
                )
                for policy, segment_by in CONFIGS
            ]
            with plaudit.Client(server.url) as client:
                report = client.experiment_report(f"bench-thompson-plan-{args.seed}").model_dump()
        finally:
            plaudit.shutdown()
            server.stop()
    return _print(results, report, args)


def _print(results: list[Result], report: dict[str, Any], args: argparse.Namespace) -> int:
    last = min(1000, args.rounds)
    print(
        f"{args.rounds} rounds per policy; segments {SEGMENTS}; {NEVER_RATED:.0%} of choices never rated, the rest "
        f"up to {args.max_delay} rounds late; refresh every {args.refresh_every} rounds"
    )
    heads = " ".join(f"{s:>8}" for s in SEGMENTS)
    print(f"{'policy':<28} {'regret':>9}   {heads}   best variant, last {last}: {' / '.join(SEGMENTS)}   seconds")
    for result in results:
        print(_row(result, last))
    by_name = {(r.policy, r.segment_by): r for r in results}
    thompson = by_name[("thompson", "plan")]
    total = {key: sum(r.regret.values()) for key, r in by_name.items()}
    ratio = total[("fixed", None)] / max(total[("thompson", "plan")], 1e-9)
    print(f"fixed split / Thompson per segment regret: {ratio:.1f}x")
    counted = {row["variant"]: row["ratings"] for row in report["overall"]["variants"]}
    print(f"report ratings per variant {counted}; feedback the simulation sent {thompson.rated}")
    lowest = min(total, key=total.__getitem__) == ("thompson", "plan")
    shares = thompson.best_share(last)
    met = lowest and ratio >= 3 and min(shares.values()) >= 0.7 and counted == thompson.rated
    print(
        f"target (Thompson per segment lowest, at least 3x below the fixed split, best variant >= 70% in every "
        f"segment, report counts = feedback sent): {'met' if met else 'MISSED'}"
    )
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
