"""The verifier audit the probe runs before training: which answers would the reward pay wrongly?

Every answer an answer_match reward extracts from the probe's completions (with a gold answer) is compared with the
gold answer twice, by `compare: numeric` and by math-verify (`compare: math`). Where the two disagree, one of them
is wrong about that answer ('3/4' for 0.75: numeric says wrong, math-verify right), and the reward pays by one of
them (or by exact text): the user sees, before a GPU hour is spent, which answers their reward scores and how.
"""

from __future__ import annotations

import time
from collections import Counter

from engine.rewards.answer_match import answers_equal
from engine.rewards.math_answers import math_equal
from engine.rewards.numeric import numbers_equal
from engine.rewards.registry import kind_of
from engine.rewards.row import Row
from engine.rewards.safe_regex import RegexTimeout

MAX_CASES = 5  # the disagreements listed, most frequent first
AUDIT_BUDGET_S = 30.0  # math-verify takes ~10 ms an answer, but up to its timeouts on a pathological one
QUOTE_CHARS = 60


def verifier_audit(config, texts: list[str], rows: list[Row]) -> dict | None:
    """{"rewards", "answers" (compared), "disagreements", "skipped" (not compared in time), "cases"} for the
    config's answer_match rewards; None when it has none."""
    specs = [spec for spec in config.rewards if spec.kind == "answer_match"]
    if not specs:
        return None
    found: Counter = Counter()  # (reward index, answer, gold) -> completions that gave it
    for index, spec in enumerate(specs):
        scorer = kind_of(spec).scorer(spec, config.prompt)
        for text, row in zip(texts, rows):
            if row.gold is None or not str(row.gold).strip():
                continue
            try:
                answer = scorer.answer(text)
            except RegexTimeout:
                continue
            if answer is not None:
                found[index, answer, str(row.gold)] += 1
    deadline = time.monotonic() + AUDIT_BUDGET_S
    compared, cases, skipped = 0, [], 0
    for (index, answer, gold), count in found.items():
        if time.monotonic() > deadline:
            skipped += count
            continue
        spec = specs[index]
        numeric, math = numbers_equal(answer, gold, spec.tolerance), math_equal(answer, gold)
        compared += count
        if numeric != math:
            cases.append({"reward": spec.name, "compare": spec.compare, "answer": answer, "gold": gold,
                          "numeric": numeric, "math": math, "scored_right": answers_equal(spec, answer, gold),
                          "count": count})
    cases.sort(key=lambda case: -case["count"])  # stable: equally frequent ones in the order they came
    return {"rewards": [spec.name for spec in specs], "answers": compared,
            "disagreements": sum(case["count"] for case in cases), "skipped": skipped, "cases": cases[:MAX_CASES]}


def _quoted(text: str, quote: str) -> str:
    """One line, cut at QUOTE_CHARS; a backtick quote (Markdown code) cannot be closed early by the text."""
    text = " ".join(text.split())
    text = text.replace("`", "'") if quote == "`" else text
    text = text if len(text) <= QUOTE_CHARS else text[:QUOTE_CHARS - 1] + "…"
    return f"{quote}{text}{quote}"


def _right(value: bool) -> str:
    return "right" if value else "wrong"


def headline(audit: dict) -> str:
    """The audit in one sentence (without a capital: the CLI and the app each begin it their way)."""
    if not audit["answers"]:
        return "numeric and math-verify had no answer to compare (no answer block with a gold answer)"
    if not audit["disagreements"]:
        return f"numeric and math-verify agree on all {audit['answers']} answers"
    return f"numeric and math-verify disagree on {audit['disagreements']} of {audit['answers']} answers:"


def case_sentence(case: dict, quote: str = "'") -> str:
    """"'3/4' (gold '0.75') x2: numeric says wrong, math-verify says right; 'correct' (numeric) scores it wrong"."""
    times = f" x{case['count']}" if case["count"] > 1 else ""
    return (f"{_quoted(case['answer'], quote)} (gold {_quoted(case['gold'], quote)}){times}: "
            f"numeric says {_right(case['numeric'])}, math-verify says {_right(case['math'])}; "
            f"'{case['reward']}' ({case['compare']}) scores it {_right(case['scored_right'])}")


def skipped_sentence(audit: dict) -> str | None:
    if not audit.get("skipped"):
        return None
    return f"{audit['skipped']} more answers were not compared (the audit stops after {AUDIT_BUDGET_S:.0f} s)"
