"""Scoring speed of the rlvr-math rewards: completions per second on 1,000 completions, called as TRL calls them
(one reward function after another over a batch), with the correctness reward comparing numbers (the preset) and,
for comparison, through math-verify (compare: math).

    python bench/reward_speed_math.py [--completions 1000] [--batch 64]

The completions are the mutated GSM8K answers of bench/reward_comparison.py (right, wrong, hedged, malformed), built
from the bundled GSM8K slice and cycled to the count asked for.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import settings  # noqa: E402
from engine.config import build_config  # noqa: E402
from engine.rewards import build_reward_functions  # noqa: E402

from bench.reward_comparison import TAGS, gsm8k_rows, mutations  # noqa: E402


def completions_per_second(compare: str, texts: list[str], golds: list[str], batch: int) -> float:
    config = build_config({"preset": "rlvr-math", "prompt": {**TAGS, "start_with_thought": False}})
    config.rewards[2].compare = compare
    functions = build_reward_functions(config)
    started = time.perf_counter()
    for start in range(0, len(texts), batch):
        completions = [[{"role": "assistant", "content": t}] for t in texts[start:start + batch]]
        answers = golds[start:start + batch]
        for function in functions:
            function(prompts=[[]] * len(completions), completions=completions, answer=answers)
    return len(texts) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--completions", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    pairs = [(case.text, gold) for _, gold in gsm8k_rows(settings.sample_data_path()) for case in mutations(gold)]
    texts, golds = zip(*itertools.islice(itertools.cycle(pairs), args.completions))
    print(f"| rlvr-math rewards, {args.completions} completions, batches of {args.batch} | completions/s |")
    print("|---|---|")
    for compare in ("numeric", "math"):
        rate = completions_per_second(compare, list(texts), list(golds), args.batch)
        print(f"| strict format + tag count + correct (compare: {compare}) | {rate:,.0f} |")


if __name__ == "__main__":
    main()
