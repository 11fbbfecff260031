"""Rewards compared completion by completion: ours (before and after the reward registry) and the rewards of
Unsloth's Llama-3.1 (8B) GRPO notebook, on hand-made and mutated GSM8K completions. Writes the tables of
bench/REWARDS.md to stdout.

    python bench/reward_comparison.py                      # the bundled GSM8K slice (64 questions)
    python bench/reward_comparison.py --data FILE.jsonl    # any GSM8K-format file (question, answer '... #### N')

Every completion is built from a question's gold answer by one mutation whose truth is known by construction: is
the final answer right, and is the layout strict (one thought block, then one answer block, nothing else)? Each
reward is scored against that truth. Both sides see the same text: the notebook's tags (<reasoning>, <answer>) are
given to our rewards as the thought and answer tags.

The notebook's reward functions are restated here (same rules) from unslothai/notebooks, Llama3.1_(8B)-GRPO.
"Before" is the product's rewards before this change: a DOTALL full-match regex for the strict format, tag counts
over the whole text, and numeric compare taking the last number of the first answer match.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import settings  # noqa: E402
from engine.config import build_config  # noqa: E402
from engine.rewards import Row, build_reward_functions  # noqa: E402

OPEN_T, CLOSE_T, OPEN_A, CLOSE_A = "<reasoning>", "</reasoning>", "<answer>", "</answer>"
TAGS = {"thought_tags": [OPEN_T, CLOSE_T], "answer_tags": [OPEN_A, CLOSE_A]}


# ---------------------------------------------------------------------------------------------------------------
# Unsloth's notebook (rewards per completion text; gold is the text after '#### ')

def nb_extract(text: str) -> str:
    return text.split("<answer>")[-1].split("</answer>")[0].strip()


def nb_correct(text: str, gold: str) -> float:
    return 2.0 if nb_extract(text) == gold else 0.0


def nb_strict(text: str) -> float:
    return 0.5 if re.match(r"^<reasoning>\n.*?\n</reasoning>\n<answer>\n.*?\n</answer>\n$", text) else 0.0


def nb_soft(text: str) -> float:
    return 0.5 if re.match(r"<reasoning>.*?</reasoning>\s*<answer>.*?</answer>", text) else 0.0


# ---------------------------------------------------------------------------------------------------------------
# The product before this change (for the "before" columns)

def before_last_number(text: str | None) -> float | None:
    if text is None:
        return None
    cleaned = re.sub(r"(?<=\d),(?=\d{3}\b)", "", str(text)).replace("$", "")
    numbers = re.findall(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?", cleaned)
    return float(numbers[-1]) if numbers else None


def before_correct(text: str, gold: str) -> bool:
    found = re.findall(r"<answer>(.*?)</answer>", text, re.DOTALL)
    predicted, expected = before_last_number(found[-1] if found else None), before_last_number(gold)
    return predicted is not None and expected is not None and abs(predicted - expected) <= 1e-6


def before_strict(text: str) -> bool:
    return re.fullmatch(r"\s*<reasoning>.+?</reasoning>\s*<answer>.+?</answer>\s*", text, re.DOTALL) is not None


# ---------------------------------------------------------------------------------------------------------------
# Mutations: (name, completion, answer right?, layout strict?); None = no single truth (left out of the counts)

def thought(body: str = "step one.\nstep two.") -> str:
    return f"{OPEN_T}\n{body}\n{CLOSE_T}\n"


def block(answer: str) -> str:
    return f"{OPEN_A}\n{answer}\n{CLOSE_A}\n"


@dataclass
class Case:
    name: str
    text: str
    right: bool | None
    strict: bool | None


def mutations(gold: str) -> list[Case]:
    value = int(gold.replace(",", "")) if re.fullmatch(r"-?[\d,]+", gold) else None
    cases = [
        Case("canonical, one-line thinking", thought("3 * 4 = 12.") + block(gold), True, True),
        Case("canonical, multi-line thinking", thought() + block(gold), True, True),
        Case("no newlines around tags", f"{OPEN_T}step{CLOSE_T}{OPEN_A}{gold}{CLOSE_A}", True, True),
        Case("$ before the number", thought() + block(f"${gold}"), True, True),
        Case("trailing unit word", thought() + block(f"{gold} dollars"), True, True),
        Case("trailing .00", thought() + block(f"{gold}.00"), True, True),
        Case("wrong number", thought() + block(str((value or 0) + 1)), False, True),
        Case("hedge: right or other", thought() + block(f"{gold} or {(value or 0) + 10}"), False, True),
        Case("hedge: other or right", thought() + block(f"{(value or 0) + 10} or {gold}"), False, True),
        Case("fraction 1/N", thought() + block(f"1/{gold}"), value == 1, True),  # 1/1 is 1: right
        Case("superscript N²", thought() + block(f"{gold}²"), False, True),
        Case("second number after", thought() + block(f"{gold} apples, 3 left over"), False, True),
        Case("second number before", thought() + block(f"3 left over, {gold} apples"), False, True),
        # U+2212 is a minus: right when the gold answer is negative, wrong (not "the number") when it is positive.
        Case("U+2212 minus", thought() + block("\u2212" + gold.lstrip("-")), gold.startswith("-"), True),
        Case("two answer blocks (last right)", thought() + f"{OPEN_A}{(value or 0) + 400}{CLOSE_A}"
             f"{OPEN_A}{gold}{CLOSE_A}", True, False),
        Case("text after the answer", thought() + block(gold) + "Hope this helps!", True, False),
        Case("answer tag mentioned while thinking", thought(f"I will put the number in {OPEN_A} tags.\nok.")
             + block(gold), True, True),
        Case("prose before the thinking", "Sure! " + thought() + block(gold), True, False),
        Case("no tags at all", f"The answer is {gold}.", False, False),
        Case("empty answer", thought() + block(""), False, False),
        Case("thinking never closed", f"{OPEN_T}\nstep.\n" + block(gold), None, False),
        Case("x = N", thought() + block(f"x = {gold}"), None, True),
        # issue 26: words after the number that change it, and the answer's usual wrappers
        Case("N thousand", thought() + block(f"{gold} thousand"), False, True),
        Case("N or maybe more", thought() + block(f"{gold} or maybe more"), False, True),
        Case("N and a half", thought() + block(f"{gold} and a half"), False, True),
        Case("\\boxed{N}", thought() + block(f"\\boxed{{{gold}}}"), True, True),
        Case("**N** (bold)", thought() + block(f"**{gold}**"), True, True),
        # one answer (right) or wrong are both sound: never the partial string '<answer>N'
        Case("nested answer tags", thought() + f"{OPEN_A}{OPEN_A}{gold}{CLOSE_A}{CLOSE_A}", None, False),
    ]
    if value is not None and value >= 1000:
        grouped = f"{value:,}"
        cases += [Case("thousands comma", thought() + block(grouped), True, True),
                  Case("thousands space", thought() + block(grouped.replace(",", " ")), True, True),
                  Case("scientific notation", thought() + block(f"{Decimal(value).scaleb(-3)}e3"), True, True)]
    return cases


# ---------------------------------------------------------------------------------------------------------------

def ours(compare: str):
    config = build_config({"preset": "rlvr-math", "prompt": {**TAGS, "start_with_thought": False},
                           "rewards": [{"name": "format", "kind": "format"},
                                       {"name": "correct", "kind": "answer_match",
                                        "pattern": "{answer_open}(.*?){answer_close}", "compare": compare,
                                        "reward": 2.0, "penalty": -1.0}]})
    strict, correct = build_reward_functions(config)
    return lambda text, gold: (strict.score(text) == 1.0, correct.score(text, Row(gold=gold)) == 2.0)


SYSTEMS = {
    "notebook (strict)": lambda text, gold: (nb_strict(text) > 0, nb_correct(text, gold) > 0),
    "notebook (soft)": lambda text, gold: (nb_soft(text) > 0, nb_correct(text, gold) > 0),
    "before": lambda text, gold: (before_strict(text), before_correct(text, gold)),
    "now (numeric)": ours("numeric"),
    "now (math)": ours("math"),
}


def mark(value: bool) -> str:
    return "✓" if value else "·"


def gsm8k_rows(path: Path) -> list[tuple[str, str]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        rows.append((record["question"], re.search(r"####\s*(.+?)\s*$", record["answer"], re.M).group(1)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=settings.sample_data_path())
    args = parser.parse_args()
    rows = gsm8k_rows(args.data)

    # One question, every mutation: the completion-by-completion table.
    gold = next(g for _, g in rows if int(g.replace(",", "")) >= 1000)
    print(f"### Hand-made cases (gold answer {gold})\n")
    print("right = the final answer is right; strict = one thought block then one answer block, nothing else. "
          "Each system's column: strict format · correct (✓ yes, · no); ✗ marks a disagreement with the truth.\n")
    print("| completion | right | strict | " + " | ".join(SYSTEMS) + " |")
    print("|---|---|---|" + "---|" * len(SYSTEMS))
    for case in mutations(gold):
        cells = []
        for score in SYSTEMS.values():
            strict, correct = score(case.text, gold)
            wrong = (case.strict is not None and strict != case.strict) or (case.right is not None
                                                                             and correct != case.right)
            cells.append(f"{mark(strict)} {mark(correct)}{' ✗' if wrong else ''}")
        truth = [("—" if v is None else mark(v)) for v in (case.right, case.strict)]
        print(f"| {case.name} | {truth[0]} | {truth[1]} | " + " | ".join(cells) + " |")

    # Every question of the file, every mutation: agreement with the truth.
    totals = {name: {"strict": [0, 0], "correct": [0, 0]} for name in SYSTEMS}
    completions = 0
    for _, gold in rows:
        for case in mutations(gold):
            completions += 1
            for name, score in SYSTEMS.items():
                strict, correct = score(case.text, gold)
                for key, truth, got in (("strict", case.strict, strict), ("correct", case.right, correct)):
                    if truth is not None:
                        totals[name][key][0] += got == truth
                        totals[name][key][1] += 1
    print(f"\n### Agreement with the truth: {len(rows)} questions of {args.data.name}, {completions} completions\n")
    print("| system | strict format right | correctness right |\n|---|---|---|")
    for name, counts in totals.items():
        cells = [f"{ok}/{n} ({ok / n:.1%})" for ok, n in (counts["strict"], counts["correct"])]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
