"""regex_match: `reward` when the pattern is found (or matches the whole completion), else `penalty`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from engine.rewards.base import BaseScorer, RewardKind, RewardSpec
from engine.rewards.row import Row
from engine.rewards.safe_regex import compile_pattern, fullmatch, pattern_problem, search


class Spec(RewardSpec):
    kind: Literal["regex_match"]
    pattern: str = Field(min_length=1, description="The regular expression (DOTALL; may use the tag placeholders "
                                                   "such as {answer_open}).")
    match: Literal["search", "full"] = Field("search", description="search: found anywhere; full: matches the "
                                                                   "whole completion.")


class Scorer(BaseScorer):
    def __init__(self, spec: Spec, prompt):
        super().__init__(spec, prompt)
        self.pattern = compile_pattern(spec.pattern, prompt)

    def score(self, text: str, row: Row) -> float:
        found = (fullmatch if self.spec.match == "full" else search)(self.pattern, text)
        return self.spec.reward if found else self.spec.penalty


def _problems(spec: Spec, prompt) -> list[tuple[str, str]]:
    problem = pattern_problem(spec.pattern, prompt)
    return [("pattern", problem)] if problem else []


KIND = RewardKind(Spec, Scorer, category="format", problems=_problems,
                  help="Reward when the pattern is found (search) or matches the whole completion (full); penalty "
                       "otherwise.",
                  starters={"pattern": "{answer_open}.+?{answer_close}"})
