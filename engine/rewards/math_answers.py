"""`compare: math`: the extracted answer and the gold answer as mathematics, through math-verify (the checker TRL's
accuracy_reward and open-r1 use): LaTeX, fractions, percentages, \\boxed{}, sets, intervals, equations.

A side that is one number as `compare: numeric` reads it (engine.rewards.numeric: '7 apples.', '1.2e3', '1 200',
'60 miles per hour', '**7**') reaches math-verify as that plain number, as a mathematician reads it; math-verify
alone takes '7 apples.' for a product of symbols and finds '1.2e3' unequal to 1200. Percentages stay math-verify's
(it reads 25% as 25 or 0.25, as the gold answer needs). Everything else is parsed as one LaTeX expression: text
without delimiters is wrapped in $...$, so that '100 or 120' is the set {100, 120} (wrong unless the gold answer is
that set) and never its last number, and '5 million' a product, never 5. A lone '$' before a digit is a currency
sign, not a delimiter.

math-verify bounds parse and verify with its own timeout, which is signal.alarm: it works in a process's main
thread only (the trainer, the CLI). Elsewhere -- the web app's handlers run in worker threads -- the comparison runs
in a helper process (math-verify's timeout works there too) that is killed and replaced if it overruns, so a
pathological answer can never hang the app.
"""

from __future__ import annotations

import functools
import multiprocessing
import threading

import regex

from engine.rewards.numeric import parse_number

PARSE_TIMEOUT_S = 3  # math-verify's timeouts are whole seconds
VERIFY_TIMEOUT_S = 3
HELPER_WAIT_S = 2 * (PARSE_TIMEOUT_S + VERIFY_TIMEOUT_S) + 30  # + the helper's start-up (imports sympy)
MAX_ANSWER_CHARS = 2000

_DELIMITED = regex.compile(r"\$|\\\(|\\\[|\\boxed|\\fbox")
_CURRENCY = regex.compile(r"(?<!\\)\$(?=\s?[0-9])")
_PERCENT = regex.compile(r"%|per\s*cent", regex.IGNORECASE)


def _as_latex(text: str) -> str:
    number = parse_number(text)
    if number is not None and not _PERCENT.search(text):
        return f"${number:f}$"
    text = text.strip()
    if text.count("$") - text.count("\\$") == 1:  # '$15': a price, not an opening delimiter
        text = _CURRENCY.sub("", text)
    return text if _DELIMITED.search(text) else f"${text}$"


def _extraction_config():
    from latex2sympy2_extended import NormalizationConfig
    from math_verify import ExprExtractionConfig, LatexExtractionConfig

    # As TRL's accuracy_reward: \boxed first, units normalised ('10 \text{ dollars}' is 10).
    return [LatexExtractionConfig(boxed_match_priority=0, normalization_config=NormalizationConfig(units=True)),
            ExprExtractionConfig()]


@functools.lru_cache(maxsize=4096)  # a group's completions share one gold answer, and models repeat answers
def _parsed(text: str) -> list:
    from math_verify import parse

    return parse(_as_latex(text), extraction_config=_extraction_config(), extraction_mode="first_match",
                 parsing_timeout=PARSE_TIMEOUT_S)


def _compare_here(predicted: str, gold: str) -> bool:
    """In the current thread, which must be a main thread (math-verify's signal-based timeouts)."""
    from math_verify import verify

    gold_parsed = _parsed(gold)
    if not gold_parsed:
        return predicted.strip() == gold.strip()  # a gold answer math-verify cannot read: exact text
    answer_parsed = _parsed(predicted)
    # Gold first: verify treats its first argument as the reference.
    return bool(answer_parsed) and verify(gold_parsed, answer_parsed, timeout_seconds=VERIFY_TIMEOUT_S)


_helper_lock = threading.Lock()
_helper = None


def _compare_in_helper(predicted: str, gold: str) -> bool:
    global _helper
    with _helper_lock:  # one comparison at a time: the helper is one process
        if _helper is None:
            _helper = multiprocessing.get_context("spawn").Pool(1)
        pending = _helper.apply_async(_compare_here, (predicted, gold))
        try:
            return pending.get(HELPER_WAIT_S)
        except multiprocessing.TimeoutError:
            _helper.terminate()
            _helper = None
            return False


def math_equal(predicted: str, gold: str) -> bool:
    """True when math-verify finds the two equal; False when not, when either cannot be parsed in time, or when the
    answer is implausibly long."""
    if len(predicted) > MAX_ANSWER_CHARS:
        return False
    if threading.current_thread() is threading.main_thread():
        return _compare_here(predicted, gold)
    return _compare_in_helper(predicted, gold)
