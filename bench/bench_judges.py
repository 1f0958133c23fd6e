"""Judge-assisted estimates on real ratings: how much narrower PPI++ intervals are than human-only ones.

HANNA (shared corpus): 11 story-generation systems × 96 stories, Relevance. An LLM judge (Mistral-7B, prompt
4) rates every story; humans rate a random 5%, 10% or 20% of them. Per system, the human-only interval is
Student t over the sampled stories' rater means; the PPI++ interval (plaudit_collector.analytics.ppi) uses
the judge on every story, corrected on the sampled ones. Printed per coverage, over repeated samples: the
median interval width of each, their ratio, and how often each interval holds the all-human mean (96
stories). Runs the estimator functions directly: the HTTP path is covered by tests/judges.

Usage: python bench/bench_judges.py [--repeats N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "judges"))

from hanna_data import load  # noqa: E402

from plaudit_collector.analytics import stats  # noqa: E402
from plaudit_collector.analytics.ppi import Paired, ppi_mean  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    if not (CORPUS / "feedback" / "hanna").is_dir():
        print(f"shared corpus not found at {CORPUS}: skipped")
        return 0
    data = load(CORPUS)
    truth = data.human_means()
    print(f"HANNA Relevance, {len(data.humans)} stories, {len(data.systems)} systems; {args.repeats} samples each")
    print(
        f"{'humans on':>10} {'human-only width':>17} {'PPI++ width':>12} {'ratio':>6} {'human-only covers':>18} "
        f"{'PPI++ covers':>13} {'PPI++ narrower':>15}"
    )
    for fraction in (0.05, 0.10, 0.20):
        widths_h, widths_p, cover_h, cover_p, narrower, total = [], [], 0, 0, 0, 0
        for seed in range(args.repeats):
            sample = data.sample(fraction, seed)
            for system in data.systems:
                stories = [s for s in data.humans if s[0] == system]
                labelled = [s for s in stories if s in sample]
                if len(labelled) < 2:
                    continue
                y = [sum(data.humans[s]) / len(data.humans[s]) for s in labelled]
                f = [data.judge[s] for s in labelled]
                u = [data.judge[s] for s in stories if s not in sample]
                human = stats.Summary(len(y), sum(y), sum(v * v for v in y))
                low, high = stats.t_interval(human)
                est = ppi_mean(Paired.from_arrays(y, f, u))
                if low is None or est is None or est.ci_low is None:
                    continue
                total += 1
                widths_h.append(high - low)
                widths_p.append(est.ci_high - est.ci_low)
                cover_h += low <= truth[system] <= high
                cover_p += est.ci_low <= truth[system] <= est.ci_high
                narrower += (est.ci_high - est.ci_low) <= (high - low)
        wh, wp = statistics.median(widths_h), statistics.median(widths_p)
        print(
            f"{fraction:>10.0%} {wh:>17.3f} {wp:>12.3f} {wp / wh:>6.2f} {cover_h / total:>18.1%} "
            f"{cover_p / total:>13.1%} {narrower / total:>15.1%}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
