"""`check`'s questions to the rewards: a sentence per reward that cannot be built as configured."""

from __future__ import annotations

from typing import TYPE_CHECKING

import regex

from engine.rewards.registry import kind_of

if TYPE_CHECKING:
    from engine.config import Problem, RunConfig


def reward_problems(config: RunConfig) -> list[Problem]:
    """A sentence per reward that cannot be built (a pattern that does not compile, a function not found), keyed
    rewards[i] (name).field; and the data's answer pattern."""
    from engine.config import Problem  # at call time: the config's schema is built from this package

    problems = []
    for index, spec in enumerate(config.rewards):
        for field_name, message in kind_of(spec).problems(spec, config.prompt):
            problems.append(Problem(f"rewards[{index}] ({spec.name}).{field_name}", message))
    if config.data.answer_pattern:
        try:
            regex.compile(config.data.answer_pattern)
        except regex.error as e:
            problems.append(Problem("data.answer_pattern", f"the regex does not compile: {e}; fix the pattern"))
    return problems
