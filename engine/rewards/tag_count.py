"""tag_count: partial credit for each tag written exactly once, counted as structure.

Tags written inside the thinking are part of the thinking (engine.rewards.text), so a model that mentions
'<answer>' while it thinks neither loses the answer tag's share nor earns it without an answer block.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from engine.rewards.base import BaseScorer, RewardKind, RewardSpec
from engine.rewards.row import Row
from engine.rewards.text import Tags, without_thought_content


class Spec(RewardSpec):
    kind: Literal["tag_count"]
    tags: list[str] = Field(min_length=1, max_length=32, description="Tags expected exactly once each (may use "
                                                                      "the placeholders, e.g. {answer_open}).")

    @field_validator("tags")
    @classmethod
    def _no_blank_tags(cls, tags: list[str]) -> list[str]:
        if not all(tag.strip() for tag in tags):
            raise ValueError("a tag is empty; remove it or write it out, e.g. <answer>")
        return tags


class Scorer(BaseScorer):
    def __init__(self, spec: Spec, prompt):
        super().__init__(spec, prompt)
        self.tags = [prompt.fill(tag) for tag in spec.tags]
        self.structure = Tags.of(prompt)

    def score(self, text: str, row: Row) -> float:
        structural = without_thought_content(text, self.structure)
        share = 1.0 / len(self.tags)
        return sum((self.spec.reward if structural.count(tag) == 1 else self.spec.penalty) * share
                   for tag in self.tags)


KIND = RewardKind(Spec, Scorer, category="format",
                  help="Partial credit for each tag written exactly once (tags mentioned inside the thinking do "
                       "not count).",
                  starters={"tags": ["{thought_open}", "{thought_close}", "{answer_open}", "{answer_close}"]})
