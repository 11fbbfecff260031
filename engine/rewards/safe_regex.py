"""User patterns, compiled and run so that none can hang a run or take the app's memory: the `regex` package with a
timeout around the whole match, iteration included (a `finditer` consumed outside the timeout is how a catastrophic
pattern used to fail a run), and every pattern compiled first in a throwaway process with a memory and CPU limit.
`regex` expands a counted repeat when it compiles: `x{1000000000}` from the form took the app to 16 GB and the OOM
killer. Patterns that pass are compiled here once and cached (the trial is a process start, ~0.1 s).

data.answer_pattern (engine.data.gold_pattern) compiles through compile_bounded too.

Patterns are compiled with DOTALL (a thought spans lines and `.` should follow it) after the tag placeholders
{thought_open} {thought_close} {answer_open} {answer_close} are filled in, escaped so that '<answer>' or '[ANS]'
match literally.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import deque
from functools import lru_cache
from typing import TYPE_CHECKING

import regex

if TYPE_CHECKING:
    from engine.prompt_config import PromptConfig

REGEX_TIMEOUT_S = 0.25
REGEX_FLAGS = regex.DOTALL
TIMEOUT_SENTENCE = (f"the pattern took longer than {REGEX_TIMEOUT_S}s on this text (catastrophic backtracking); "
                    "simplify nested repeats like (a+)+")


# A sane pattern compiles in milliseconds and well under a MiB; these bounds are far above that and far below harm.
COMPILE_MEMORY_MIB = 64  # address space the trial may add to what Python and `regex` take when imported
COMPILE_CPU_S = 2
COMPILE_WALL_S = 60  # the trial's whole life, interpreter start included, on a machine under load
TOO_LARGE_SENTENCE = (f"the regex is too large to compile (it needs more than {COMPILE_MEMORY_MIB} MiB or "
                      f"{COMPILE_CPU_S} s; a repeat count such as {{1000000}} does that); use smaller repeat counts")
_TRIAL = f"""
import json, resource, sys
import regex
text, flags = json.loads(sys.stdin.read())
mapped = int(open("/proc/self/statm").read().split()[0]) * resource.getpagesize()
limit = mapped + {COMPILE_MEMORY_MIB << 20}
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
used = resource.getrusage(resource.RUSAGE_SELF)
seconds = int(used.ru_utime + used.ru_stime) + {COMPILE_CPU_S}
resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 1))
try:
    regex.compile(text, flags, cache_pattern=False)
except (regex.error, ValueError, OverflowError, RecursionError):
    pass  # a pattern that does not compile: the caller's own compile says why
"""


class RegexTimeout(Exception):
    """A pattern ran past REGEX_TIMEOUT_S on one completion: that completion is not scored by it (None)."""


class PatternRefused(regex.error):
    """A pattern not compiled here: past the bounds above (TOO_LARGE_SENTENCE), or no trial process could start. A
    regex.error, so that every caller that reports a pattern that does not compile reports this one too."""


@lru_cache(maxsize=1024)
def _fits(text: str, flags: int) -> bool:
    """Whether a throwaway process compiles the pattern within the bounds (a memory error, the CPU limit's signal
    or the wall-clock limit all say no)."""
    try:
        trial = subprocess.run([sys.executable, "-I", "-c", _TRIAL], input=json.dumps([text, flags]), text=True,
                               capture_output=True, timeout=COMPILE_WALL_S, check=False)
    except subprocess.TimeoutExpired:
        return False
    return trial.returncode == 0


@lru_cache(maxsize=64)
def compile_bounded(text: str, flags: int) -> regex.Pattern:
    """regex.compile(text, flags) once a throwaway process has compiled it within the bounds; PatternRefused past
    them, regex.error (or ValueError, OverflowError, RecursionError) for a pattern that does not compile."""
    try:
        fits = _fits(text, flags)
    except OSError as error:  # no process could start (out of memory or processes): said, and not cached
        raise PatternRefused(f"the regex could not be checked ({error.strerror or error}); try again") from None
    if not fits:
        raise PatternRefused(TOO_LARGE_SENTENCE)
    return regex.compile(text, flags, cache_pattern=False)  # cached above, not also in regex's own cache


def compile_pattern(pattern: str, prompt: PromptConfig, dotall: bool = True) -> regex.Pattern:
    """`dotall=False`: Python's own defaults, for a pattern that must behave as re.match does in a notebook."""
    return compile_bounded(prompt.fill(pattern, regex.escape), REGEX_FLAGS if dotall else 0)


def pattern_problem(pattern: str, prompt: PromptConfig) -> str | None:
    """A sentence when the pattern does not compile (or is too large to), else None."""
    try:
        compile_pattern(pattern, prompt)
    except PatternRefused as e:
        return str(e)
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
