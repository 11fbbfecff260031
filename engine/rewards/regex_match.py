"""regex_match: `reward` where the pattern matches, else `penalty`; `match` says where it must match.

- search: anywhere in the completion, with '.' matching line breaks too (a thought spans lines).
- start: from the first character, exactly as Python's re.match does in a notebook (Unsloth's GRPO notebooks score
  their format with it): '.' stops at a line break, as there, so a pattern pasted from a notebook scores the
  completions it scored there (a preamble before the format fails; two answer blocks on their own lines fail).
  Write (?s) at the start of the pattern to let '.' cross lines.
- full: the whole completion, '.' matching line breaks.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from engine.rewards.base import BaseScorer, RewardKind, RewardSpec
from engine.rewards.row import Row
from engine.rewards.safe_regex import compile_pattern, fullmatch, match_start, pattern_problem, search

MATCHERS = {"search": search, "start": match_start, "full": fullmatch}


class Spec(RewardSpec):
    kind: Literal["regex_match"]
    pattern: str = Field(min_length=1, description="The regular expression (may use the tag placeholders such as "
                                                   "{answer_open}).")
    match: Literal["search", "start", "full"] = Field(
        "search", description="Where the pattern must match: search, anywhere ('.' matches line breaks too); "
                              "start, from the first character, exactly as Python's re.match in a notebook ('.' "
                              "stops at a line break; (?s) lets it cross); full, the whole completion.")


class Scorer(BaseScorer):
    shows_match = True

    def __init__(self, spec: Spec, prompt):
        super().__init__(spec, prompt)
        self.pattern = compile_pattern(spec.pattern, prompt, dotall=spec.match != "start")
        self.find = MATCHERS[spec.match]

    def matched(self, text: str, row: Row) -> str | None:
        found = self.find(self.pattern, text)
        return None if found is None else found.group(0)

    def score(self, text: str, row: Row) -> float:
        return self.spec.reward if self.find(self.pattern, text) else self.spec.penalty


def _problems(spec: Spec, prompt) -> list[tuple[str, str]]:
    problem = pattern_problem(spec.pattern, prompt)
    return [("pattern", problem)] if problem else []


KIND = RewardKind(Spec, Scorer, category="format", problems=_problems,
                  help="Reward when the pattern matches: anywhere (search), from the start (start, as Python's "
                       "re.match in a notebook) or the whole completion (full); penalty otherwise.",
                  starters={"pattern": "{answer_open}.+?{answer_close}"})
