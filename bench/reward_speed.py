"""How fast rewards score completions: a table of completions per second, one row per reward on bundled data.

    python bench/reward_speed.py                 # every row
    python bench/reward_speed.py --workers 1     # the code rows on one worker

A row is one function `(args) -> Row` listed in ROWS; add a reward's row by writing its function. Speed lives here,
never in a timed test. The code rows run the real sandbox (engine/sandbox) on the 164 HumanEval problems bundled
in tests/data/humaneval: each completion is one job of two fresh processes, so the figure is mostly interpreter
start-up, and grows with the cores (run_many pools one job per core).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from engine.sandbox import isolation, run_many

HUMANEVAL = Path(__file__).resolve().parent.parent / "tests" / "data" / "humaneval" / "humaneval.jsonl"


@dataclass(frozen=True)
class Row:
    reward: str
    completions: int
    seconds: float
    note: str = ""


def _humaneval() -> list[dict]:
    with open(HUMANEVAL) as rows:
        return [json.loads(row) for row in rows]


def _code_row(label: str, jobs: list[tuple[str, str, str]], workers: int | None) -> Row:
    start = time.perf_counter()
    outcomes = run_many(jobs, workers=workers)
    seconds = time.perf_counter() - start
    mean = sum(outcome.score for outcome in outcomes) / len(outcomes)
    return Row(label, len(outcomes), seconds, f"mean score {mean:.3f}, {sum(o.total for o in outcomes)} asserts")


def code_humaneval_canonical(args) -> Row:
    rows = _humaneval()
    return _code_row("code_tests: HumanEval canonical solutions",
                     [(row["prompt"] + row["canonical_solution"], row["test"], row["entry_point"]) for row in rows],
                     args.workers)


def code_humaneval_wrong(args) -> Row:
    rows = _humaneval()
    return _code_row("code_tests: HumanEval, a body that raises",
                     [(row["prompt"] + "    raise NotImplementedError\n", row["test"], row["entry_point"])
                      for row in rows], args.workers)


def code_humaneval_empty(args) -> Row:
    rows = _humaneval()
    return _code_row("code_tests: HumanEval, an empty program", [("", row["test"], row["entry_point"]) for row in rows],
                     args.workers)


ROWS = [code_humaneval_canonical, code_humaneval_wrong, code_humaneval_empty]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=None, help="sandbox workers (default: one per core)")
    args = parser.parse_args(argv)
    cores = len(os.sched_getaffinity(0))
    print(f"{cores} cores, load average {os.getloadavg()[0]:.1f}; sandbox: {isolation().describe()}\n")
    print("| reward | completions | seconds | completions/s | note |\n|---|---:|---:|---:|---|")
    for row_function in ROWS:
        row = row_function(args)
        print(f"| {row.reward} | {row.completions} | {row.seconds:.1f} | {row.completions / row.seconds:.1f} | "
              f"{row.note} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
