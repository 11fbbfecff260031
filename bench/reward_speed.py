"""How fast the presets' rewards score completions: one table of completions per second, math and code.

    python bench/reward_speed.py [--completions 1000] [--batch 64]

Every row calls a preset's reward functions as TRL calls them (each function over batches of `--batch`
completions, the data columns as keyword lists), so the figure is what a GRPO step pays for scoring:
- math: the rlvr-math rewards on `--completions` mutated GSM8K answers (bench/reward_comparison.py: right, wrong,
  hedged, malformed; built from the bundled GSM8K slice and cycled to the count), with the correctness reward
  comparing numbers (the preset) and, for comparison, through math-verify (compare: math);
- code: the rlvr-code rewards on the 164 bundled HumanEval problems, the program in the answer's ```python block:
  the canonical solutions (all must pass), a body that raises, and no code at all. Each program is one sandbox job
  of two fresh processes (engine/sandbox), pooled one per core, so that figure is mostly interpreter start-up and
  grows with the cores.
Speed lives here, never in a timed test.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import settings  # noqa: E402
from engine.config import build_config  # noqa: E402
from engine.rewards import build_reward_functions  # noqa: E402
from engine.rewards.row import column_key  # noqa: E402
from engine.sandbox import isolation  # noqa: E402

from bench.reward_comparison import TAGS, gsm8k_rows, mutations  # noqa: E402


def score_all(config, texts: list[str], columns: dict[str, list], batch: int) -> tuple[float, dict[str, list]]:
    """(seconds, every reward's scores) for the config's rewards over the texts, as TRL calls them."""
    functions = build_reward_functions(config)
    scores: dict[str, list] = {function.spec.name: [] for function in functions}
    started = time.perf_counter()
    for start in range(0, len(texts), batch):
        completions = [[{"role": "assistant", "content": t}] for t in texts[start:start + batch]]
        extra = {key: values[start:start + batch] for key, values in columns.items()}
        for function in functions:
            scores[function.spec.name] += function(prompts=[[]] * len(completions), completions=completions, **extra)
    return time.perf_counter() - started, scores


def math_rows(completions: int, batch: int) -> list[tuple[str, int, float, str]]:
    pairs = [(case.text, gold) for _, gold in gsm8k_rows(settings.sample_data_path()) for case in mutations(gold)]
    texts, golds = zip(*itertools.islice(itertools.cycle(pairs), completions))
    rows = []
    for compare in ("numeric", "math"):
        config = build_config({"preset": "rlvr-math", "prompt": {**TAGS, "start_with_thought": False}})
        config.rewards[2].compare = compare
        seconds, _ = score_all(config, list(texts), {"answer": list(golds)}, batch)
        rows.append((f"rlvr-math: strict format + tag count + correct (compare: {compare})", len(texts), seconds, ""))
    return rows


def code_rows(batch: int) -> list[tuple[str, int, float, str]]:
    with open(settings.code_sample_data_path(), encoding="utf-8") as lines:
        problems = [json.loads(line) for line in lines]
    config = build_config({"preset": "rlvr-code", "prompt": {"start_with_thought": False}})
    # The data columns as training examples carry them (HumanEval's `prompt` is a reserved name: data_prompt).
    columns = {column_key(name): [p[name] for p in problems] for name in ("prompt", "test", "entry_point")}

    def answered(program: str) -> str:
        return f"<thought>\nWrite it.\n</thought>\n<answer>\n```python\n{program}```\n</answer>"

    cases = {"canonical solutions": [answered(p["prompt"] + p["canonical_solution"]) for p in problems],
             "a body that raises": [answered(p["prompt"] + "    raise NotImplementedError\n") for p in problems],
             "no code": ["<thought>\nHmm.\n</thought>\n<answer>I cannot.</answer>"] * len(problems)}
    rows = []
    for case, texts in cases.items():
        seconds, scores = score_all(config, texts, columns, batch)
        passed = sum(score == config.rewards[2].reward for score in scores["tests"])
        rows.append((f"rlvr-code: strict format + tag count + tests (HumanEval, {case})", len(texts), seconds,
                     f"{passed} of {len(texts)} pass every test"))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--completions", type=int, default=1000, help="math completions (default 1000)")
    parser.add_argument("--batch", type=int, default=64, help="completions per reward call (default 64)")
    args = parser.parse_args(argv)
    cores = len(os.sched_getaffinity(0))
    print(f"{cores} cores, load average {os.getloadavg()[0]:.1f}; batches of {args.batch}; "
          f"sandbox: {isolation().describe()}\n")
    print("| rewards | completions | seconds | completions/s | note |\n|---|---:|---:|---:|---|")
    for rows in (lambda: math_rows(args.completions, args.batch), lambda: code_rows(args.batch)):
        for label, count, seconds, note in rows():
            print(f"| {label} | {count} | {seconds:.2f} | {count / seconds:,.1f} | {note} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
