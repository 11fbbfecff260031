"""User patterns, run so that none can hang a run: the `regex` package with a timeout around the whole match,
iteration included (a `finditer` consumed outside the timeout is how a catastrophic pattern used to fail a run).

Patterns are compiled with DOTALL (a thought spans lines and `.` should follow it) after the tag placeholders
{thought_open} {thought_close} {answer_open} {answer_close} are filled in, escaped so that '<answer>' or '[ANS]'
match literally.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

import regex

if TYPE_CHECKING:
    from engine.prompt_config import PromptConfig

REGEX_TIMEOUT_S = 0.25
REGEX_FLAGS = regex.DOTALL
TIMEOUT_SENTENCE = (f"the pattern took longer than {REGEX_TIMEOUT_S}s on this text (catastrophic backtracking); "
                    "simplify nested repeats like (a+)+")


class RegexTimeout(Exception):
    """A pattern ran past REGEX_TIMEOUT_S on one completion: that completion is not scored by it (None)."""


def compile_pattern(pattern: str, prompt: PromptConfig, dotall: bool = True) -> regex.Pattern:
    """`dotall=False`: Python's own defaults, for a pattern that must behave as re.match does in a notebook."""
    return regex.compile(prompt.fill(pattern, regex.escape), REGEX_FLAGS if dotall else 0)


def pattern_problem(pattern: str, prompt: PromptConfig) -> str | None:
    """A sentence when the pattern does not compile, else None."""
    try:
        compile_pattern(pattern, prompt)
    except regex.error as e:
        return f"the regex does not compile: {e}; fix the pattern"
    return None


def search(pattern: regex.Pattern, text: str) -> regex.Match | None:
    try:
        return pattern.search(text, timeout=REGEX_TIMEOUT_S)
    except TimeoutError:
        raise RegexTimeout() from None


def match_start(pattern: regex.Pattern, text: str) -> regex.Match | None:
    try:
        return pattern.match(text, timeout=REGEX_TIMEOUT_S)
    except TimeoutError:
        raise RegexTimeout() from None


def fullmatch(pattern: regex.Pattern, text: str) -> regex.Match | None:
    try:
        return pattern.fullmatch(text, timeout=REGEX_TIMEOUT_S)
    except TimeoutError:
        raise RegexTimeout() from None


def last_match(pattern: regex.Pattern, text: str) -> regex.Match | None:
    """The last match; the whole iteration runs inside the time limit."""
    try:
        kept = deque(pattern.finditer(text, timeout=REGEX_TIMEOUT_S), maxlen=1)
    except TimeoutError:
        raise RegexTimeout() from None
    return kept[0] if kept else None
