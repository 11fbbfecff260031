"""`check`'s questions to the rewards: a sentence per reward that cannot be built as configured."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.problems import Problem
from engine.rewards.registry import kind_of

if TYPE_CHECKING:
    from engine.config import RunConfig


def reward_problems(config: RunConfig) -> list[Problem]:
    """A sentence per reward that cannot be built (a pattern that does not compile, a function not found), keyed
    rewards[i] (name).field. (data.answer_pattern is engine.data's: gold_pattern checks it.)"""
    problems = []
    for index, spec in enumerate(config.rewards):
        for field_name, message in kind_of(spec).problems(spec, config.prompt):
            problems.append(Problem(f"rewards[{index}] ({spec.name}).{field_name}", message))
    return problems
