"""answer_match: extract the answer with a pattern and compare it with the row's gold answer.

The pattern's last match counts (a model that corrects itself means its final answer), group 1 when it has one.
By default only the text after the thinking is searched, so an answer tag mentioned while thinking cannot swallow
the real answer. An extracted answer that still holds one of the prompt's tags is wrong, never compared as a partial
string: `<answer><answer>30</answer></answer>` extracts '<answer>30', and `<answer>5<answer>30</answer>` is two
answers. Rows without a gold answer are not scored (None), rather than scored wrong.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from engine.rewards.base import BaseScorer, RewardKind, RewardSpec
from engine.rewards.math_answers import math_equal
from engine.rewards.numeric import numbers_equal
from engine.rewards.row import Row
from engine.rewards.safe_regex import compile_pattern, last_match, pattern_problem
from engine.rewards.text import Tags, after_thought


class Spec(RewardSpec):
    kind: Literal["answer_match"]
    pattern: str = Field(min_length=1, description="Extracts the answer: group 1 of the last match (or the whole "
                                                   "match), e.g. {answer_open}(.*?){answer_close}.")
    after_thought: bool = Field(True, description="Search only after the thinking (after the closing thought tag), "
                                                  "so tags mentioned while thinking are not taken for the answer.")
    compare: Literal["numeric", "math", "exact", "casefold"] = Field(
        "numeric", description="numeric: the answer must be one number ($, %, 1,000 or 1 000, 1.2e3, \\boxed{}, "
                               "**bold**, x = and a unit word such as apples, dollars, km or hours allowed; "
                               "'100 or 120', '5 million', '3/4' or '5²' are wrong); math: math-verify (LaTeX, "
                               "fractions, \\boxed{}, sets; a plain number read as numeric reads it); exact or "
                               "casefold text.")
    tolerance: float = Field(1e-6, ge=0, description="numeric: the largest difference still counted right.")


class Scorer(BaseScorer):
    shows_match = True

    def __init__(self, spec: Spec, prompt):
        super().__init__(spec, prompt)
        self.pattern = compile_pattern(spec.pattern, prompt)
        self.tags = Tags.of(prompt)

    def extract(self, text: str) -> str | None:
        found = last_match(self.pattern, after_thought(text, self.tags) if self.spec.after_thought else text)
        if found is None:
            return None
        return found.group(1) if self.pattern.groups >= 1 else found.group(0)

    def matched(self, text: str, row: Row) -> str | None:
        return self.extract(text)

    def answer(self, text: str) -> str | None:
        """The answer to compare: the extraction, unless it holds a tag (then there is no single answer)."""
        predicted = self.extract(text)
        if predicted is None or any(tag in predicted for tag in self.tags.all()):
            return None
        return predicted

    def score(self, text: str, row: Row) -> float | None:
        gold = row.gold
        if gold is None or str(gold).strip() == "":
            return None
        predicted = self.answer(text)
        if predicted is None:
            return self.spec.penalty
        return self.spec.reward if answers_equal(self.spec, predicted, str(gold)) else self.spec.penalty


def answers_equal(spec: Spec, predicted: str, gold: str) -> bool:
    if spec.compare == "exact":
        return predicted.strip() == gold.strip()
    if spec.compare == "casefold":
        return predicted.strip().casefold() == gold.strip().casefold()
    if spec.compare == "math":
        return math_equal(predicted, gold)
    return numbers_equal(predicted, gold, spec.tolerance)


def _problems(spec: Spec, prompt) -> list[tuple[str, str]]:
    problem = pattern_problem(spec.pattern, prompt)
    return [("pattern", problem)] if problem else []


KIND = RewardKind(Spec, Scorer, category="correctness", needs_gold=True, problems=_problems,
                  help="Extracts the answer with the pattern and compares it with the gold answer: reward when equal, "
                       "penalty when not; rows without a gold answer are not scored.",
                  starters={"pattern": "{answer_open}(.*?){answer_close}"})
