"""Rewards: the registry, every kind on hand-written completions (the cases of issue 14 as regressions), math-verify,
TRL's calling convention with every data column, catastrophic patterns, and `engine score`."""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
import subprocess
import sys
import threading
import time

import pytest

import engine.rewards
from engine.cli import main
from engine.config import build_config, load_config
from engine.data import prepare_data
from engine.evaluation import score_completions
from engine.problems import ConfigError
from engine.rewards import (
    KINDS,
    REGEX_TIMEOUT_S,
    RewardFunction,
    Row,
    SampleBuffer,
    build_reward_functions,
    parse_number,
    reward_problems,
    score_completion,
    web_kinds,
)
from engine.rewards.math_answers import math_equal
from engine.rewards.registry import KIND_MODULES
from engine.rewards.row import column_key, column_name
from engine.runs.folder import list_runs

from tests.conftest import REPO, run_engine

GOOD = "<thought>\n3 boxes of 4 apples: 3 * 4 = 12.\n</thought>\n<answer>12</answer>"
TOY = REPO / "tests" / "toy_rewards.py"
QUICKSTART = REPO / "examples" / "quickstart.yaml"


def config_with(*rewards, **sections):
    return build_config({"rewards": list(rewards), **sections})


def scores(config, text, gold=None) -> dict:
    return score_completion(config, text, gold)["scores"]


CORRECT = {"name": "c", "kind": "answer_match", "pattern": "{answer_open}(.*?){answer_close}", "reward": 2.0,
           "penalty": -1.0}


def correct(text: str, gold: str, **fields) -> float | None:
    return scores(config_with({**CORRECT, **fields}), text, gold)["c"]


# ---------------------------------------------------------------------------------------------------------------
# The registry

def test_every_kind_declares_what_the_schema_form_and_eval_derive_from():
    # In KIND_MODULES' order (the order the form offers them); the next test checks that no kind module is left out.
    assert list(KINDS) == [importlib.import_module(f"engine.rewards.{m}").KIND.name for m in KIND_MODULES]
    for kind in KINDS.values():
        assert kind.help and kind.category in ("format", "correctness", "shaping")
        assert kind.fields() and all(kind.spec.model_fields[f].description for f in kind.fields()), kind.name
        assert set(kind.starters) <= set(kind.fields()), kind.name
    # The web offers every kind but the one that runs the user's own code.
    assert [k.name for k in web_kinds()] == [name for name in KINDS if name != "python"] and "python" in KINDS
    assert {k.name for k in KINDS.values() if k.category == "correctness"} == {"answer_match", "code_tests"}
    assert {k.name for k in KINDS.values() if k.runs_model_code} == {"code_tests"}
    assert KINDS["answer_match"].needs_gold and not KINDS["format"].needs_gold


def test_every_kind_module_in_the_package_is_registered():
    """A new kind is one module: it must be named in KIND_MODULES, or its config would be refused."""
    defining = {m.name for m in pkgutil.iter_modules(engine.rewards.__path__)
                if hasattr(__import__(f"engine.rewards.{m.name}", fromlist=["KIND"]), "KIND")}
    assert defining == set(KIND_MODULES)


def test_the_schema_comes_from_the_registry_with_one_sentence_per_mistake():
    def problem(*rewards) -> str:
        with pytest.raises(ConfigError) as caught:
            config_with(*rewards)
        return str(caught.value)

    assert problem({"name": "a", "kind": "regex_match"}) == "rewards.0.pattern: a regex_match reward needs 'pattern'"
    assert "unknown reward kind 'regex'; use one of: format, tag_count" in problem({"name": "a", "kind": "regex"})
    assert "a reward needs a kind" in problem({"name": "a"})
    assert problem({"name": "a", "kind": "length", "target": 5, "pattern": "x"}).startswith(
        "rewards.0.pattern: a length reward has no such key; its keys are: name, kind, weight")
    assert "used twice" in problem({"name": "a", "kind": "length", "target": 5}, {"name": "a", "kind": "format"})
    assert "rewards.0.compare" in problem({**CORRECT, "compare": "roughly"})


def test_readme_lists_the_registry_kinds():
    readme = (REPO / "README.md").read_text()
    table = readme.split("<!-- reward-kinds:start -->\n")[1].split("<!-- reward-kinds:end -->")[0]
    assert table == run_engine("reference", "--kinds").stdout, "run: python -m engine reference --kinds, paste it"


def test_configs_saved_before_the_registry_still_load(tmp_path):
    """Run folders from before kept every field of every kind; they must stay resumable."""
    old = (REPO / "bench" / "learning-run" / "rlvr-math" / "config.yaml")
    config = load_config(old)
    assert [r.kind for r in config.rewards] == ["regex_match", "tag_count", "answer_match"]
    assert config.rewards[2].compare == "numeric"


# ---------------------------------------------------------------------------------------------------------------
# format: the strict structural format

STRICT = {"name": "f", "kind": "format"}


@pytest.mark.parametrize("text", [
    GOOD,
    "  \n<thought>a</thought>\n\n<answer>7</answer>\n",
    "<thought>I will write <answer>the number</answer> at the end.</thought><answer>7</answer>",  # a mention
])
def test_format_accepts_exactly_one_thought_then_one_answer(text):
    assert scores(config_with(STRICT), text)["f"] == 1.0


@pytest.mark.parametrize("text", [
    "<thought>x</thought><answer>7000</answer><answer>7400</answer>",  # two answers (issue 14)
    "<thought>x</thought><answer>7000<answer>7400</answer>",
    "Sure! <thought>x</thought><answer>7</answer>",  # text before
    "<thought>x</thought> so: <answer>7</answer>",  # text between
    "<thought>x</thought><answer>7</answer> Hope that helps!",  # text after (nothing_after)
    "<thought>x</thought><answer>  </answer>",  # an empty answer
    "<thought> </thought><answer>7</answer>",
    "<thought>x<answer>7</answer>",  # the thought never closes
    "<answer>7</answer>",
    "<thought>a</thought><answer>7</answer><thought>b</thought>",
])
def test_format_refuses_everything_else(text):
    assert scores(config_with(STRICT), text)["f"] == 0.0


def test_format_can_penalise_trailing_text_per_character_instead():
    config = config_with({**STRICT, "nothing_after": False, "trailing_penalty": 0.01, "penalty": -0.5})
    assert scores(config, GOOD + "\n")["f"] == 1.0
    assert scores(config, GOOD + " 1234567890")["f"] == pytest.approx(0.9)
    assert scores(config, GOOD + "x" * 1000)["f"] == -0.5  # never below the penalty
    assert scores(config, GOOD + "<answer>13</answer>")["f"] == -0.5  # a second block is not trailing text


def test_format_follows_custom_tags():
    config = config_with(STRICT, prompt={"thought_tags": ["[think]", "[/think]"], "answer_tags": ["[ans]", "[/ans]"]})
    assert scores(config, "[think]2+2=4[/think][ans]4[/ans]")["f"] == 1.0
    assert scores(config, GOOD)["f"] == 0.0


# ---------------------------------------------------------------------------------------------------------------
# tag_count: tags as structure

TAGS = {"name": "t", "kind": "tag_count", "tags": ["{thought_open}", "{thought_close}", "{answer_open}",
                                                    "{answer_close}"]}


def test_tag_count_gives_partial_credit_per_tag_written_once():
    config = config_with(TAGS)
    assert scores(config, GOOD)["t"] == 1.0
    assert scores(config, "<thought>x</thought> 12")["t"] == 0.5
    assert scores(config, "<thought>a</thought><thought>b</thought><answer>1</answer>")["t"] == 0.5


def test_tag_count_ignores_tags_mentioned_while_thinking():
    config = config_with(TAGS)
    # Mentioning the answer tags while thinking costs nothing...
    assert scores(config, "<thought>I'll put it in <answer></answer>.</thought><answer>7</answer>")["t"] == 1.0
    # ...and earns nothing without a real answer block after the thinking (issue 14).
    assert scores(config, "<thought>format: <answer>N</answer></thought> 7")["t"] == 0.5
    # A thought that never closes is all thinking: only its opening tag counts (the random model's case).
    assert scores(config, "<thought>\n<answer>7</answer>")["t"] == 0.25


# ---------------------------------------------------------------------------------------------------------------
# answer_match: extraction

def test_the_answer_is_the_block_after_the_thinking():
    mention = "<thought>The format is <answer>N</answer>; 3 * 4 = 12.</thought>\n<answer>12</answer>"
    assert correct(mention, "12") == 2.0
    swallowed = "<thought>I must write <answer> then the number.\n3 * 4 = 12</thought><answer>12</answer>"
    assert correct(swallowed, "12") == 2.0  # the tag in the reasoning does not swallow the real answer
    assert correct(swallowed, "12", after_thought=False) == -1.0  # what the whole-text search did
    assert correct("<thought>12 is it: <answer>12</answer>", "12") == -1.0  # never closed: no answer
    assert correct("<answer>5</answer> wait, <answer>6</answer>", "6") == 2.0  # no thinking: the last answer
    assert correct("<thought>x</thought><answer>7000<answer>7400</answer>", "7400") == -1.0


def test_rows_without_a_gold_answer_are_not_scored():
    assert correct(GOOD, None) is None and correct(GOOD, "  ") is None


# ---------------------------------------------------------------------------------------------------------------
# numeric: the whole answer is one number

@pytest.mark.parametrize("predicted, gold", [
    ("1,450,000", "1450000"), ("1000.0", "1,000"), ("$15", "15"), ("$1,234.50", "1234.5"), ("-3", "-3.00"),
    ("\u221216", "-16"), ("12 apples", "12"), ("12 apples.", "12"), ("5 km/h", "5"), ("25%", "25"), ("1 200", "1200"),
    ("1\u2009200", "1200"), ("1\u00a0450\u00a0000", "1450000"), ("€5", "5"), ("-$5", "-5"), (".5", "0.5"),
    ("1e3", "1000"), ("1.2e3", "1200"), ("7" * 150, "7" * 150)])
def test_numeric_accepts_one_number_in_its_usual_dress(predicted, gold):
    assert correct(f"<answer>{predicted}</answer>", gold) == 2.0


@pytest.mark.parametrize("predicted, gold", [
    ("3/4", "4"), ("3/4", "0.75"), ("100 or 120", "120"), ("100 or 120", "100"), ("\u221216", "16"), ("5²", "5"),
    ("12 apples, 3 left over", "3"), ("12 apples, 3 left over", "12"), ("1 200", "200"), ("1 20", "20"),
    ("1,45", "145"), ("3,5", "3.5"), ("about 7 apples", "7"), ("2+3", "5"), ("ten", "10"), ("-$-5", "-5"),
    ("7" * 150 + "8", "7" * 151), ("1e999", "1e998"), ("7" * 5000, "7")])
def test_numeric_refuses_hedges_expressions_and_second_numbers(predicted, gold):
    assert correct(f"<answer>{predicted}</answer>", gold) == -1.0


# Issue 26's table: a number followed by words that change it was paid as the number.
WORDS_THAT_CHANGE_THE_NUMBER = [
    ("12 or thirteen", "12"), ("12 or maybe thirteen", "12"), ("7 minus one", "7"), ("7 times two", "7"),
    ("7 squared", "7"), ("5 million", "5"), ("100 thousand", "100"), ("3 dozen", "3"), ("2 thirds", "2"),
    ("12 and a half", "12"),
    # and their cousins: other multipliers, slang, hedges, operators after a real unit
    ("5 grand", "5"), ("3 pairs", "3"), ("2 score", "2"), ("5k", "5"), ("5 K", "5"), ("5 M", "5"), ("4 cubed", "4"),
    ("7 plus 1", "7"), ("7 to 8", "7"), ("7 or so", "7"), ("7-ish", "7"), ("7 apples or 8", "7"),
    ("7 apples and a half", "7"), ("12 dollars times 3", "12"), ("5 hundred dollars", "5"), ("3 quarters", "3"),
    ("7 per 2", "7"), ("7 per", "7"), ("7 an", "7"), ("7 square", "7"), ("7 apples apples apples apples", "7"),
]


@pytest.mark.parametrize("predicted, gold", WORDS_THAT_CHANGE_THE_NUMBER)
def test_numeric_refuses_a_number_followed_by_words_that_change_it(predicted, gold):
    assert correct(f"<thought>x</thought><answer>{predicted}</answer>", gold) == -1.0


@pytest.mark.parametrize("predicted, gold", [
    ("12 or thirteen", "12"), ("7 minus one", "7"), ("7 squared", "7"), ("5 million", "5"), ("100 thousand", "100"),
    ("3 dozen", "3"), ("12 and a half", "12"), ("5 grand", "5")])
def test_math_compare_refuses_them_too(predicted, gold):
    assert correct(f"<thought>x</thought><answer>{predicted}</answer>", gold, compare="math") == -1.0


@pytest.mark.parametrize("predicted, gold", [
    # units from the list: money, measures, time, percent, counted things; singular, plural, any case
    ("1 apple", "1"), ("3 people", "3"), ("1 person", "1"), ("4 children", "4"), ("15 dollars", "15"),
    ("15 Dollars", "15"), ("1 dollar", "1"), ("15 USD", "15"), ("15€", "15"), ("15 €", "15"), ("25 percent", "25"),
    ("25 per cent", "25"), ("25 %", "25"), ("3 hours", "3"), ("3 hrs", "3"), ("12 feet", "12"), ("1 foot", "1"),
    ("6 inches", "6"), ("2 kg", "2"), ("2 kilograms", "2"), ("5 m", "5"), ("90°", "90"), ("90 degrees", "90"),
    ("20 °C", "20"), ("5 m²", "5"), ("5 square feet", "5"), ("5 sq ft", "5"), ("8 cubic meters", "8"),
    # rates: per, /, a, an, each
    ("60 miles per hour", "60"), ("60 mph", "60"), ("12 dollars an hour", "12"), ("$12 per hour", "12"),
    ("3 apples each", "3"), ("$4 each", "4"), ("10 m/s", "10"), ("5 km/h.", "5"),
    # read as a mathematician would: the box, bold, a variable
    ("\\boxed{360}", "360"), ("$\\boxed{360}$", "360"), ("\\boxed{360}.", "360"), ("\\(\\boxed{360}\\)", "360"),
    ("**7**", "7"), ("**$7**", "7"), ("x = 8", "8"), ("x=8", "8"), ("$x = 8$", "8"), ("**x = 8**", "8"),
    ("x = -3", "-3"), ("\\boxed{x = 8}", "8"), ("10 \\text{ dollars}", "10"), ("25\\%", "25"), ("\\$15", "15"),
    ("1\\,200", "1200")])
def test_numeric_reads_units_boxes_bold_and_a_variable(predicted, gold):
    assert correct(f"<thought>x</thought><answer>{predicted}</answer>", gold) == 2.0


@pytest.mark.parametrize("predicted, gold", [
    ("\\boxed{7} or \\boxed{8}", "7"), ("\\boxed{7}²", "7"), ("\\boxed{7}^2", "7"), ("2\\boxed{7}", "7"),
    ("The answer is \\boxed{7}", "7"), ("\\boxed{7}{8}", "7"), ("**7** or 8", "7"), ("**7** apples **8**", "7"),
    ("2x = 8", "8"), ("2x = 8", "4"), ("x = 8, y = 3", "8"), ("x = 8 or 9", "8"), ("x ≈ 8", "8"), ("x = y = 8", "8"),
    ("\\boxed{}", "7"), ("**", "7"), ("x =", "7")])
def test_numeric_reads_those_only_when_they_hold_the_whole_answer(predicted, gold):
    assert correct(f"<thought>x</thought><answer>{predicted}</answer>", gold) == -1.0


def test_nested_or_repeated_answer_tags_are_one_answer_or_wrong():
    nested = "<thought>x</thought><answer><answer>30</answer></answer>"
    assert correct(nested, "30") == -1.0  # never the partial string '<answer>30'
    assert correct(nested, "<answer>30", compare="exact") == -1.0
    assert correct(nested, "30", compare="math") == -1.0
    assert correct("<thought>x</thought><answer>5<answer>30</answer></answer>", "30") == -1.0
    repeated = "<thought>x</thought><answer>30</answer><answer>30</answer>"
    assert correct(repeated, "30") == 2.0  # the last answer block, one answer (the format reward fails it)
    greedy = {"pattern": "{answer_open}(.*){answer_close}"}  # a pattern that spans both blocks
    assert correct("<thought>x</thought><answer>5</answer><answer>30</answer>", "30", **greedy) == -1.0


def test_numeric_details():
    assert parse_number("no number") is None and parse_number("1,000") == 1000
    assert parse_number("\\boxed{1.2e3}") == 1200 and parse_number("x = 8 apples") == 8
    assert correct("<answer>3.14</answer>", "3.1", tolerance=0.1) == 2.0
    assert correct("<answer>3/4</answer>", "3/4") == 2.0  # a gold answer that is not one number: exact text
    exact = {"name": "c", "kind": "answer_match", "pattern": "A: (\\w+)", "compare": "exact"}
    assert scores(config_with(exact), "A: Paris", "paris")["c"] == 0.0
    assert scores(config_with({**exact, "compare": "casefold"}), "A: Paris", "paris")["c"] == 1.0


# ---------------------------------------------------------------------------------------------------------------
# math: math-verify

@pytest.mark.parametrize("predicted, gold", [
    ("\\frac{3}{4}", "0.75"), ("0.75", "3/4"), ("\\boxed{7}", "7"), ("$\\boxed{\\frac{1}{2}}$", "0.5"),
    ("25\\%", "0.25"), ("\\{2, 1\\}", "\\{1,2\\}"), ("(x+1)^2", "x^2+2x+1"), ("\\frac{1}{\\sqrt{2}}", "\\sqrt{2}/2"),
    ("$15", "15"), ("1,450,000", "1450000"), ("\u221216", "-16"), ("10 \\text{ dollars}", "10"),
    # issue 26: trailing unit words and scientific notation, as a mathematician reads them
    ("7 apples.", "7"), ("7 apples", "7"), ("1.2e3", "1200"), ("1.2E3", "1.2e3"), ("1.2 \\times 10^{3}", "1200"),
    ("5 km/h", "5"), ("1 200", "1200"), ("\\boxed{360}", "360"), ("**7**", "7"), ("x = 8", "8"),
    ("60 miles per hour", "60")])
def test_math_compare_reads_latex_fractions_sets_and_boxes(predicted, gold):
    assert correct(f"<answer>{predicted}</answer>", gold, compare="math") == 2.0


@pytest.mark.parametrize("predicted, gold", [
    ("100 or 120", "120"), ("5²", "5"), ("3/4", "4"), ("12 apples, 3 left over", "3"), ("\\frac{1}{3}", "0.333"),
    ("$2$ and $3$", "3"), ("", "1"), ("1.2e3", "1.2"), ("1 200", "200")])
def test_math_compare_refuses_hedges(predicted, gold):
    assert correct(f"<thought>x</thought><answer>{predicted} </answer>", gold, compare="math") == -1.0


def test_math_compare_off_the_main_thread_runs_in_a_helper_process_with_a_limit():
    """The web app scores in worker threads, where math-verify's signal timeout cannot work."""
    results = {}

    def compare():
        started = time.perf_counter()
        results["right"] = math_equal("\\frac{1}{2}", "0.5")
        results["tower"] = math_equal("9^{9^{9}}", "5")  # would keep sympy busy for ages without a limit
        results["seconds"] = time.perf_counter() - started

    worker = threading.Thread(target=compare)
    worker.start()
    worker.join(120)
    assert results["right"] is True and results["tower"] is False and results["seconds"] < 60


# ---------------------------------------------------------------------------------------------------------------
# regex_match, length and catastrophic patterns

def test_regex_match_anywhere_from_the_start_or_the_whole_completion():
    def regex(match: str | None = None):
        return config_with({"name": "r", "kind": "regex_match", "pattern": "\\d+", "reward": 1, "penalty": -0.5,
                            **({"match": match} if match else {})})

    assert scores(regex(), "abc 42")["r"] == 1.0 and scores(regex(), "abc")["r"] == -0.5  # search, the default
    assert scores(regex("start"), "abc 42")["r"] == -0.5 and scores(regex("start"), "42 abc")["r"] == 1.0
    assert scores(regex("full"), "abc 42")["r"] == -0.5 and scores(regex("full"), "42")["r"] == 1.0
    assert score_completion(regex(), "abc 42 7", None)["matched"] == {"r": "42"}
    assert score_completion(regex("start"), "42 abc", None)["matched"] == {"r": "42"}
    assert score_completion(regex("start"), "abc 42", None)["matched"] == {"r": None}
    matched = score_completion(config_with(CORRECT, STRICT), GOOD, "12")["matched"]
    assert matched == {"c": "12"}  # what the answer reward compared; format shows no match


# Unsloth's Llama-3.1 (8B) GRPO notebook, pasted as they are: both call re.match on the completion.
NOTEBOOK_STRICT = r"^<reasoning>\n.*?\n</reasoning>\n<answer>\n.*?\n</answer>\n$"
NOTEBOOK_SOFT = r"<reasoning>.*?</reasoning>\s*<answer>.*?</answer>"
NOTEBOOK_TEXTS = [
    "<reasoning>\n3 * 4 = 12\n</reasoning>\n<answer>\n12\n</answer>\n",  # the notebook's own format
    "Sure! <reasoning>\n3 * 4 = 12\n</reasoning>\n<answer>\n12\n</answer>\n",  # a preamble
    "<reasoning>\nx\n</reasoning>\n<answer>\n5\n</answer>\n<answer>\n6\n</answer>\n",  # two answer blocks
    "<reasoning>\nstep one.\nstep two.\n</reasoning>\n<answer>\n12\n</answer>\n",  # multi-line reasoning
    "<reasoning>x</reasoning><answer>12</answer>",
    "<reasoning>x</reasoning>\n\n<answer>12</answer> trailing",
    "<reasoning>\nx\n</reasoning>\n<answer>\n12\n</answer>",  # no final newline
    "<answer>\n12\n</answer>\n", "", "\n<reasoning>\nx\n</reasoning>\n<answer>\n12\n</answer>\n",
]


@pytest.mark.parametrize("pattern", [NOTEBOOK_STRICT, NOTEBOOK_SOFT])
def test_a_notebook_regex_from_the_start_scores_as_in_the_notebook(pattern):
    """Python's re.match is the notebook's own scorer: 'from the start' must agree with it on every text."""
    config = config_with({"name": "r", "kind": "regex_match", "pattern": pattern, "match": "start"},
                         prompt={"thought_tags": ["<reasoning>", "</reasoning>"]})
    for text in NOTEBOOK_TEXTS:
        assert (scores(config, text)["r"] == 1.0) == bool(re.match(pattern, text)), text


def test_anywhere_is_not_the_notebooks_rule():
    """What the issue saw: searched anywhere, '.' crossing lines, a preamble passes and so do two answer blocks."""
    anywhere = config_with({"name": "r", "kind": "regex_match", "pattern": NOTEBOOK_SOFT})
    assert scores(anywhere, NOTEBOOK_TEXTS[1])["r"] == 1.0 and not re.match(NOTEBOOK_SOFT, NOTEBOOK_TEXTS[1])
    full = config_with({"name": "r", "kind": "regex_match", "pattern": NOTEBOOK_STRICT, "match": "full"})
    assert scores(full, NOTEBOOK_TEXTS[2])["r"] == 1.0 and not re.match(NOTEBOOK_STRICT, NOTEBOOK_TEXTS[2])


def test_length_reward_peaks_at_the_target():
    config = config_with({"name": "len", "kind": "length", "target": 10, "reward": 1.0, "penalty": -1.0})
    assert [scores(config, "x" * n)["len"] for n in (10, 5, 30)] == [1.0, 0.0, -1.0]


@pytest.mark.parametrize("reward", [
    {"name": "slow", "kind": "regex_match", "pattern": "(a|aa)+$"},
    {"name": "slow", "kind": "answer_match", "pattern": "(a|aa)+$"},  # its matches used to be iterated untimed
])
def test_a_catastrophic_pattern_scores_none_and_is_counted(reward):
    config = config_with(reward, {"name": "fine", "kind": "regex_match", "pattern": "a"})
    text = "a" * 5000 + "!"
    started = time.perf_counter()
    result = score_completion(config, text, "1")
    assert time.perf_counter() - started < 10 * REGEX_TIMEOUT_S + 2  # bounded, not minutes
    assert result["scores"] == {"slow": None, "fine": 1.0} and "catastrophic" in result["errors"]["slow"]
    buffer = SampleBuffer()
    slow = build_reward_functions(config, buffer)[0]
    completions = [[{"role": "assistant", "content": text}], [{"role": "assistant", "content": "b"}]]
    assert slow(prompts=[[], []], completions=completions, answer=["1", "1"])[0] is None
    assert buffer.regex_timeouts == {"slow": 1}


def test_bad_patterns_are_reported_per_reward():
    config = config_with({"name": "ok", "kind": "regex_match", "pattern": "a"},
                         {"name": "bad", "kind": "answer_match", "pattern": "(unclosed"},
                         data={"answer_pattern": "[z-a]"})
    problems = [str(p) for p in reward_problems(config)]
    # data.answer_pattern is the data's own check (engine.data.gold_pattern), not a reward's
    assert len(problems) == 1 and problems[0].startswith("rewards[1] (bad).pattern: the regex does not compile")


# ---------------------------------------------------------------------------------------------------------------
# python rewards, TRL's calling convention, every data column

def test_python_reward_from_a_user_file():
    config = config_with({"name": "digits", "kind": "python", "function": f"{TOY}:digit_share"})
    assert scores(config, "ab12")["digits"] == 0.5
    result = score_completion(config_with({"name": "b", "kind": "python", "function": f"{TOY}:broken"}), "x")
    assert result["scores"]["b"] is None and "broken on purpose" in result["errors"]["b"]
    missing = config_with({"name": "m", "kind": "python", "function": "tests/nope.py:f"})
    assert "does not exist" in str(reward_problems(missing)[0])


def test_a_process_that_forbids_user_code_never_loads_it(tmp_path):
    marker = tmp_path / "ran"
    module = tmp_path / "evil.py"
    module.write_text(f"open({str(marker)!r}, 'w').write('x')\ndef f(**kw): return [1.0]\n")
    code = ("from engine.rewards.python_function import forbid_user_code; forbid_user_code()\n"
            "from engine.config import build_config; from engine.rewards import reward_problems, score_completion\n"
            f"c = build_config({{'rewards': [{{'name': 'p', 'kind': 'python', 'function': '{module}:f'}}]}})\n"
            "print(reward_problems(c)[0]); print(score_completion(c, 'x')['errors']['p'])\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("turned off in the web app") == 2 and not marker.exists()


def test_column_keys_round_trip_and_never_clash_with_trl():
    for name in ("question", "prompt", "answer", "completions", "data_prompt", "data_data_answer", "data_x"):
        assert column_name(column_key(name)) == name
    assert column_key("prompt") == "data_prompt" and column_key("data_prompt") == "data_data_prompt"
    assert column_key("test") == "test"


def test_reward_functions_follow_trls_calling_convention():
    config = build_config({"preset": "rlvr-math"})
    buffer = SampleBuffer()
    functions = build_reward_functions(config, buffer)
    assert [f.__name__ for f in functions] == ["strict_format", "tag_count", "correct"]
    prompts = [[{"role": "user", "content": "q1"}], [{"role": "user", "content": "q2"}]]
    # The preset starts answers inside the thought: TRL hands over only what the model wrote after "<thought>\n".
    generated = GOOD.removeprefix("<thought>\n")
    completions = [[{"role": "assistant", "content": generated}], [{"role": "assistant", "content": "no idea"}]]
    for function in functions:
        result = function(prompts=prompts, completions=completions, completion_ids=[[1], [2]], answer=["12", "3"],
                          question=["q1", "q2"], trainer_state=None, log_extra=None, log_metric=None)
        assert len(result) == 2
    assert buffer.texts == [GOOD, "<thought>\nno idea"]  # what samples.jsonl shows
    assert buffer.scores == {"strict_format": [1.0, 0.0], "tag_count": [1.0, 0.25], "correct": [2.0, -1.0]}
    assert isinstance(functions[0], RewardFunction)


def test_examples_keep_every_column(tmp_path):
    data = code_data(tmp_path)
    config = build_config({"preset": "reasoning", "data": {"path": str(data), "answer_pattern": "####\\s*(.+)"}})
    example = prepare_data(config).train[0]
    number = example["entry_point"][1:]
    assert example["data_prompt"] == f"Write f{number}." and example["answer"] == number
    assert example["data_answer"] == f"#### {number}" and example["test"] == f"assert f{number}()"
    row = Row.from_example(example)
    assert row.columns == {"prompt": f"Write f{number}.", "answer": f"#### {number}", "test": f"assert f{number}()",
                           "entry_point": f"f{number}"} and row.gold == number


def code_data(tmp_path):
    """HumanEval-style rows: a `prompt` column (TRL's key), `test` and `entry_point`, all naming one function."""
    data = tmp_path / "code.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"Write f{i}.", "answer": f"#### {i}", "test": f"assert f{i}()",
                                        "entry_point": f"f{i}"}) + "\n" for i in range(8)))
    return data


def test_a_real_run_hands_rewards_every_column_and_survives_a_catastrophic_pattern(tmp_path, runs_dir):
    """One 1-step `engine train` for two promises. A python reward checks that each completion arrives with its own
    row's columns (the run fails otherwise). And issue 11: '(.|.)*(?!)' backtracks on any text; the run completes
    and counts the completions it could not score."""
    rewards = (f"rewards=[{{name: columns, kind: python, function: '{TOY}:columns_match'}}, "
               "{name: slow, kind: answer_match, pattern: '(.|.)*(?!)', after_thought: false}]")
    result = run_engine("train", QUICKSTART, "--set", f"data.path={code_data(tmp_path)}", "--set",
                        "data.prompt_column=prompt", "--set", "train.max_steps=1", "--set", rewards)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    run = list_runs(runs_dir)[0]
    assert run.read_status().state == "completed"
    samples = run.read_samples()
    assert samples and all(s["scores"]["columns"] == 1.0 and s["scores"]["slow"] is None for s in samples)
    assert run.read_events()[0]["regex_timeouts"] == {"slow": 4}


def test_eval_counts_correctness_and_format_by_category():
    config = build_config({"preset": "rlvr-math"})
    examples = [{"prompt": [], "answer": "12"}] * 3
    texts = [GOOD, GOOD.replace(">12<", ">13<"), "12"]
    result = score_completions(config, texts, examples)
    assert result["accuracy"] == pytest.approx(1 / 3) and result["format_compliance"] == pytest.approx(2 / 3)
    assert result["mean_reward"] == pytest.approx((4.0 + 1.0 + -1.0) / 3)


def test_score_command_prints_json():
    result = run_engine("score", QUICKSTART, "--completion", GOOD, "--answer", "12")
    assert result.returncode == 0, result.stderr
    scored = json.loads(result.stdout)
    assert scored["total"] == 4.0 and scored["matched"] == {"correct": "12"}
    bad = run_engine("score", QUICKSTART, "--completion", "x",
                     "--set", "rewards=[{name: r, kind: regex_match, pattern: '(('}]")
    assert bad.returncode == 2 and "does not compile" in bad.stderr


def score_cli(capsys, *args) -> tuple[int, str, str]:
    """`engine score ...` through the CLI's own main() in this process: exit code, stdout, stderr."""
    code = main(["score", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


CODE_EXAMPLE = REPO / "examples" / "rlvr-code.yaml"  # rlvr-code on the bundled HumanEval problems


def humaneval_answer(index: int, solution: str | None = None) -> str:
    problem = json.loads((REPO / "tests/data/humaneval/humaneval.jsonl").read_text().splitlines()[index])
    body = problem["canonical_solution"] if solution is None else solution
    return f"<thought>\nok\n</thought>\n<answer>\n```python\n{problem['prompt']}{body}```\n</answer>"


def test_score_command_scores_a_code_reward_against_a_data_row(capsys):
    row = json.loads((REPO / "tests/data/humaneval/humaneval.jsonl").read_text().splitlines()[0])
    code, out, err = score_cli(capsys, CODE_EXAMPLE, "--completion", humaneval_answer(0), "--row", json.dumps(row))
    assert code == 0, err
    assert json.loads(out)["scores"] == {"strict_format": 1.0, "tag_count": 1.0, "tests": 2.0}
    wrong = humaneval_answer(0, "    return True\n")
    code, out, err = score_cli(capsys, CODE_EXAMPLE, "--completion", wrong, "--index", 0)  # the config's data file
    assert code == 0, err
    assert json.loads(out)["scores"]["tests"] == -1.0 and json.loads(out)["total"] == 1.0
    code, out, err = score_cli(capsys, CODE_EXAMPLE, "--completion", humaneval_answer(1), "--data",
                               REPO / "tests/data/humaneval/humaneval.jsonl", "--index", 1)
    assert code == 0 and json.loads(out)["scores"]["tests"] == 2.0


def test_score_command_takes_the_gold_answer_from_the_row(capsys):
    row = {"question": "3 boxes of 4 apples?", "answer": "3 * 4 = 12\n#### 12"}
    code, out, err = score_cli(capsys, QUICKSTART, "--completion", GOOD, "--row", json.dumps(row))
    assert code == 0, err
    assert json.loads(out)["scores"]["correct"] == 2.0
    code, out, err = score_cli(capsys, QUICKSTART, "--completion", GOOD, "--row", json.dumps(row), "--answer", "13")
    assert json.loads(out)["scores"]["correct"] == -1.0  # --answer overrides the row's
    code, out, err = score_cli(capsys, QUICKSTART, "--completion", GOOD.replace("12", "16"), "--index", 0)
    assert code == 0 and json.loads(out)["scores"]["correct"] == 2.0  # the slice's first row: 16


@pytest.mark.parametrize("args, said", [
    (["--row", '{"prompt": "Write f.", "entry_point": "f"}'],
     "rewards[2] (tests): reads the column 'test', which --row does not have (columns: prompt, entry_point)"),
    (["--row", '{"prompt": "Write f.", "test": "  ", "entry_point": "f"}'], "the row's 'test' is empty"),
    ([], "rewards[2] (tests): reads the column 'test' of a data row; give the row with --row JSON or "
         "--data FILE --index N"),
    (["--row", "{not json"], "--row: not a JSON object"),
    (["--row", "[1, 2]"], "--row: not a JSON object"),
    (["--index", "999"], "--index: 999 is past the last row of humaneval.jsonl (rows 0 to "),
    (["--index", "-1"], "--index: -1 is not a row number; rows count from 0"),
    (["--data", "nope.jsonl", "--index", "0"], "--data: file nope.jsonl does not exist"),
    (["--data", "tests/data/humaneval/humaneval.jsonl"], "--data: give the row's number with --index N"),
    (["--row", "{}", "--index", "0"], "--row: give either --row or --index, not both"),
])
def test_score_command_says_what_is_missing_in_one_sentence(capsys, args, said):
    code, out, err = score_cli(capsys, CODE_EXAMPLE, "--completion", humaneval_answer(0), *args)
    assert code == 2 and out == "" and said in err, err
    assert "Traceback" not in err and err.count("\n") == 2  # "1 problem:" and the sentence


def test_score_command_never_leaves_a_gold_answer_silently_null(capsys):
    code, out, err = score_cli(capsys, QUICKSTART, "--completion", GOOD)
    assert code == 2 and "rewards[2] (correct): compares with a gold answer; give it with --answer GOLD" in err
    row = json.dumps({"question": "q", "answer": ""})
    code, out, err = score_cli(capsys, QUICKSTART, "--completion", GOOD, "--row", row)
    assert code == 2 and "the row's 'answer' is empty" in err
    code, out, err = score_cli(capsys, QUICKSTART, "--completion", GOOD, "--row", json.dumps({"question": "q"}))
    assert code == 2 and "data.answer_column: column 'answer' is not in --row; its columns are: question" in err
