"""length: `reward` at exactly `target` characters, falling linearly to `penalty` at 0 or twice the target."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from engine.rewards.base import BaseScorer, RewardKind, RewardSpec
from engine.rewards.row import Row


class Spec(RewardSpec):
    kind: Literal["length"]
    target: int = Field(ge=1, le=1_000_000, description="The completion length in characters that earns the full "
                                                        "reward.")


class Scorer(BaseScorer):
    def score(self, text: str, row: Row) -> float:
        closeness = max(0.0, 1.0 - abs(len(text) - self.spec.target) / self.spec.target)
        return self.spec.penalty + (self.spec.reward - self.spec.penalty) * closeness


KIND = RewardKind(Spec, Scorer, category="shaping", starters={"target": 400},
                  help="Reward at exactly the target length, falling linearly to the penalty at 0 or twice the "
                       "target.")
