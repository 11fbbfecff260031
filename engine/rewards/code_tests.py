"""code_tests: run the program a completion wrote against its row's tests, in the code sandbox (engine.sandbox).

The program is the last fenced code block after the thinking (```python ... ``` or ``` ... ```), or, with
`extract: answer`, the last answer block after the thinking (the fenced block inside it when it holds one). The row
gives the tests: HumanEval's `def check(candidate)` with an entry point, or a plain assert script when the row names
none. For HumanEval-style rows, the imports and helper functions of the row's own prompt (`helpers_column`) go in
front of the program (the model was told they exist) and of the tests (so that a program which redefines them, say
`poly` to return 0, passes nothing: names the tests define are never taken from the program).

`score: all` gives the reward when every test passes and the penalty otherwise; `score: share` gives penalty +
(reward - penalty) x the share of tests passed. A completion with no code scores the penalty. A row without tests,
or whose tests test nothing, is not scored (None), as answer_match leaves rows without a gold answer.

Model-written code is hostile by default: it only ever runs in the sandbox, a batch at a time on a pool no larger
than the cores (run_many), so the web app may offer this kind (it runs no code of the user's).
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field

from engine.rewards.base import BaseScorer, RewardKind, RewardSpec
from engine.rewards.row import Row
from engine.rewards.text import Tags, after_thought, last_answer_block
from engine.sandbox.asserts import prompt_helpers
from engine.sandbox.limits import Limits

FENCE = "```"
Job = tuple[str, str, str | None]  # (program, tests, entry point) as run_many takes it


class Spec(RewardSpec):
    kind: Literal["code_tests"]
    extract: Literal["fenced", "answer"] = Field(
        "fenced", description="Where the program is: fenced, the last fenced code block after the thinking; "
                              "answer, the answer block after the thinking (the fenced block inside it, if any).")
    score: Literal["all", "share"] = Field(
        "all", description="all: the reward only when every test passes, else the penalty; share: penalty + "
                           "(reward - penalty) x the share of tests passed.")
    tests_column: str = Field("test", min_length=1, description="The data column with the tests: HumanEval's "
                                                                "def check(candidate), or a plain assert script.")
    entry_point_column: str | None = Field(
        "entry_point", description="The column naming the function check(candidate) is given; empty: the tests are "
                                   "plain assert scripts that call the program's functions by name.")
    helpers_column: str | None = Field(
        "prompt", description="With an entry point: the column whose Python (HumanEval's prompt) defines imports "
                              "and helpers; they run before the program and the tests, so redefining them does not "
                              "pay. Empty: none.")
    time_limit: float = Field(5.0, ge=1, le=120, description="Seconds (wall clock, and CPU time) for one program "
                                                             "and all its tests; then it is killed and scores what "
                                                             "passed.")


def last_fenced_block(text: str) -> str | None:
    """The body of the last closed ``` block (its first line, the info string such as `python`, dropped), or None
    when there is none or it is empty."""
    parts = text.split(FENCE)
    # parts[1], parts[3], ... are the insides of fences; one is closed when a part follows it
    last_closed = len(parts) - 2 if len(parts) % 2 else len(parts) - 3
    if last_closed < 1:
        return None
    _info, newline, body = parts[last_closed].partition("\n")
    return body if newline and body.strip() else None


def extract_program(text: str, tags: Tags, extract: str) -> str | None:
    """The program a completion wrote (after its thinking), or None when it wrote none."""
    after = after_thought(text, tags)
    if extract == "fenced":
        return last_fenced_block(after)
    answer = last_answer_block(after, tags)
    if answer is None:
        return None
    program = last_fenced_block(answer) or answer
    return program if program.strip() else None


def _cell(row: Row, column: str | None) -> str | None:
    value = row.columns.get(column) if column else None
    return value if isinstance(value, str) and value.strip() else None


class Scorer(BaseScorer):
    def __init__(self, spec: Spec, prompt):
        super().__init__(spec, prompt)
        self.tags = Tags.of(prompt)
        self.limits = Limits(wall_seconds=spec.time_limit, cpu_seconds=math.ceil(spec.time_limit))

    def job(self, text: str, row: Row) -> Job | float | None:
        """What to run for one completion, or its score without running anything: None for a row without tests,
        the penalty for a completion without code."""
        tests = _cell(row, self.spec.tests_column)
        if tests is None:
            return None
        program = extract_program(text, self.tags, self.spec.extract)
        if program is None:
            return self.spec.penalty
        entry_point = _cell(row, self.spec.entry_point_column)
        helpers = ""
        if entry_point is not None and (source := _cell(row, self.spec.helpers_column)) is not None:
            helpers = prompt_helpers(source, entry_point.strip())
        return helpers + program, helpers + tests, entry_point.strip() if entry_point else None

    def score(self, text: str, row: Row) -> float | None:
        return self.score_batch([text], [row])[0]

    def score_batch(self, texts: list[str], rows: list[Row]) -> list[float | None]:
        from engine.sandbox import run_many  # the runner's imports only where code runs

        planned = [self.job(text, row) for text, row in zip(texts, rows)]
        # A group of completions often repeats a program: each distinct job runs once.
        jobs = list(dict.fromkeys(job for job in planned if isinstance(job, tuple)))
        outcomes = dict(zip(jobs, run_many(jobs, self.limits)))
        return [self._score(outcomes[job]) if isinstance(job, tuple) else job for job in planned]

    def _score(self, outcome) -> float | None:
        if outcome.total == 0:  # the row's tests do not parse or assert nothing: the data's fault, not the model's
            return None
        reward, penalty = self.spec.reward, self.spec.penalty
        if self.spec.score == "share":
            return penalty + (reward - penalty) * outcome.score
        return reward if outcome.status == "passed" else penalty


def _columns(spec: Spec) -> list[str]:
    columns = [spec.tests_column]
    if spec.entry_point_column:
        columns.append(spec.entry_point_column)
        if spec.helpers_column:
            columns.append(spec.helpers_column)
    return columns


KIND = RewardKind(Spec, Scorer, category="correctness", columns=_columns, runs_model_code=True,
                  help="Runs the program the completion wrote (its last fenced code block, or its answer block) "
                       "against the row's tests in the code sandbox: reward when every test passes (or partly, by the "
                       "share passed), penalty when not or when it wrote no code; rows without tests are not scored.")
