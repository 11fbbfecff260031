"""format: the strict structural format -- exactly one thought block, then exactly one answer block.

Nothing but whitespace may come before the thought block or between the blocks; both blocks must hold some text;
no tag may appear in the answer or after it (`<answer>7000</answer><answer>7400</answer>` is two answers, not the
format). Text after the closing answer tag fails the format (`nothing_after`), or, with `nothing_after` off, costs
`trailing_penalty` per character as in Unsloth's GRPO notebook. The tags are the prompt's (prompt.*_tags): no regex
to write, and none to backtrack.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from engine.rewards.base import BaseScorer, RewardKind, RewardSpec
from engine.rewards.row import Row
from engine.rewards.text import Tags, strict_layout


class Spec(RewardSpec):
    kind: Literal["format"]
    nothing_after: bool = Field(True, description="Fail when anything but whitespace follows the closing answer "
                                                  "tag.")
    trailing_penalty: float = Field(0.0, ge=0, le=10, description="With nothing_after off: subtract this per "
                                                                  "character after the closing answer tag (Unsloth's "
                                                                  "notebook: 0.001), down to the penalty.")


class Scorer(BaseScorer):
    def __init__(self, spec: Spec, prompt):
        super().__init__(spec, prompt)
        self.tags = Tags.of(prompt)

    def score(self, text: str, row: Row) -> float:
        layout = strict_layout(text, self.tags)
        if layout is None:
            return self.spec.penalty
        trailing = len(layout.trailing.strip())
        if trailing and self.spec.nothing_after:
            return self.spec.penalty
        lowest = min(self.spec.reward, self.spec.penalty)
        return max(lowest, self.spec.reward - self.spec.trailing_penalty * trailing)


KIND = RewardKind(Spec, Scorer, category="format",
                  help="Reward when the completion is exactly one thought block then one answer block (the prompt's "
                       "tags), nothing else; penalty otherwise.")
