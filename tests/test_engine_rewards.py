"""Every reward kind on hand-written completions, the TRL calling convention, and `engine score`."""

import json
import time

import pytest

from engine.config import build_config
from engine.rewards import (REGEX_TIMEOUT_S, RewardFunction, SampleBuffer, build_reward_functions, parse_number,
                            reward_problems, score_completion)
from tests.conftest import REPO, run_engine

GOOD = "<thought>\n3 boxes of 4 apples: 3 * 4 = 12.\n</thought>\n<answer>12</answer>"


def config_with(*rewards, **sections):
    return build_config({"rewards": list(rewards), **sections})


def test_rlvr_preset_scores_a_right_and_a_wrong_answer():
    config = build_config({"preset": "rlvr-math"})
    right = score_completion(config, GOOD, "12")
    assert right["scores"] == {"strict_format": 1.0, "tag_count": 1.0, "correct": 2.0}
    assert right["total"] == 4.0
    wrong = score_completion(config, GOOD.replace(">12<", ">13<"), "12")
    assert wrong["scores"]["correct"] == -1.0
    sloppy = score_completion(config, "The answer is 12.", "12")
    assert sloppy["scores"] == {"strict_format": 0.0, "tag_count": 0.0, "correct": -1.0}


@pytest.mark.parametrize("predicted, gold", [("1,000", "1000"), ("1000.0", "1000"), ("$18", "18"),
                                             ("-3", "-3.00"), ("about 7 apples", "7"), ("$1,234.50", "1234.5")])
def test_numeric_compare_normalises_numbers(predicted, gold):
    config = config_with({"name": "c", "kind": "answer_match", "pattern": "<answer>(.*?)</answer>",
                          "reward": 2.0, "penalty": -1.0})
    assert score_completion(config, f"<answer>{predicted}</answer>", gold)["scores"]["c"] == 2.0


def test_numeric_compare_tolerance_and_text_compares():
    assert parse_number("no number") is None
    loose = config_with({"name": "c", "kind": "answer_match", "pattern": "<answer>(.*?)</answer>", "tolerance": 0.1})
    assert score_completion(loose, "<answer>3.14</answer>", "3.1")["scores"]["c"] == 1.0
    exact = config_with({"name": "c", "kind": "answer_match", "pattern": "A: (\\w+)", "compare": "exact"})
    assert score_completion(exact, "A: Paris", "paris")["scores"]["c"] == 0.0
    casefold = config_with({"name": "c", "kind": "answer_match", "pattern": "A: (\\w+)", "compare": "casefold"})
    assert score_completion(casefold, "A: Paris", "paris")["scores"]["c"] == 1.0
    # No gold answer for the row: not applicable (None), rather than wrong.
    assert score_completion(casefold, "A: Paris", None)["scores"]["c"] is None


def test_answer_match_takes_the_last_answer():
    config = config_with({"name": "c", "kind": "answer_match", "pattern": "<answer>(.*?)</answer>"})
    assert score_completion(config, "<answer>5</answer> wait, <answer>6</answer>", "6")["scores"]["c"] == 1.0


def test_regex_match_search_versus_full():
    search = config_with({"name": "r", "kind": "regex_match", "pattern": "\\d+", "reward": 1, "penalty": -0.5})
    full = config_with({"name": "r", "kind": "regex_match", "pattern": "\\d+", "match": "full"})
    assert score_completion(search, "abc 42", None)["scores"]["r"] == 1.0
    assert score_completion(search, "abc", None)["scores"]["r"] == -0.5
    assert score_completion(full, "abc 42", None)["scores"]["r"] == 0.0
    assert score_completion(full, "42", None)["scores"]["r"] == 1.0


def test_tag_count_gives_partial_credit_per_tag_written_once():
    config = build_config({"preset": "reasoning"})
    assert score_completion(config, GOOD, None)["scores"]["tag_count"] == 1.0
    half = score_completion(config, "<thought>x</thought> 12", None)["scores"]["tag_count"]
    assert half == 0.5
    twice = score_completion(config, "<thought>a</thought><thought>b</thought><answer>1</answer>", None)
    assert twice["scores"]["tag_count"] == 0.5  # the repeated thought tags earn nothing


def test_length_reward_peaks_at_the_target():
    config = config_with({"name": "len", "kind": "length", "target": 10, "reward": 1.0, "penalty": -1.0})
    assert score_completion(config, "x" * 10, None)["scores"]["len"] == 1.0
    assert score_completion(config, "x" * 5, None)["scores"]["len"] == 0.0
    assert score_completion(config, "x" * 30, None)["scores"]["len"] == -1.0


def test_custom_tags_flow_into_patterns_and_tag_lists():
    config = build_config({"preset": "rlvr-math", "prompt": {"thought_tags": ["[think]", "[/think]"],
                                                             "answer_tags": ["[ans]", "[/ans]"]}})
    text = "[think]2+2=4[/think][ans]4[/ans]"  # the brackets are matched literally, not as a character class
    assert score_completion(config, text, "4")["scores"] == {"strict_format": 1.0, "tag_count": 1.0, "correct": 2.0}


def test_python_reward_from_a_user_file():
    function = f"{REPO / 'tests' / 'toy_rewards.py'}:digit_share"
    config = config_with({"name": "digits", "kind": "python", "function": function})
    assert score_completion(config, "ab12", None)["scores"]["digits"] == 0.5
    broken = config_with({"name": "b", "kind": "python", "function": f"{REPO / 'tests' / 'toy_rewards.py'}:broken"})
    result = score_completion(broken, "x", None)
    assert result["scores"]["b"] is None and "broken on purpose" in result["errors"]["b"]
    missing = config_with({"name": "m", "kind": "python", "function": "tests/nope.py:f"})
    assert "does not exist" in str(reward_problems(missing)[0])


def test_catastrophic_regex_is_cut_off_and_reported():
    config = config_with({"name": "slow", "kind": "regex_match", "pattern": "(a|aa)+$"},
                         {"name": "fine", "kind": "regex_match", "pattern": "a"})
    text = "a" * 5000 + "!"
    started = time.perf_counter()
    result = score_completion(config, text, None)
    assert time.perf_counter() - started < 10 * REGEX_TIMEOUT_S + 2  # bounded, not minutes
    assert result["scores"] == {"slow": None, "fine": 1.0}
    assert "catastrophic" in result["errors"]["slow"]
    # In training the same pattern scores None (TRL leaves it out of the means) and is counted for the events.
    buffer = SampleBuffer()
    slow = build_reward_functions(config, buffer)[0]
    assert slow(prompts=[[]], completions=[[{"role": "assistant", "content": text}]], answer=[None]) == [None]
    assert buffer.regex_timeouts == {"slow": 1}


def test_bad_patterns_are_reported_per_reward():
    config = config_with({"name": "ok", "kind": "regex_match", "pattern": "a"},
                         {"name": "bad", "kind": "answer_match", "pattern": "(unclosed"},
                         data={"answer_pattern": "[z-a]"})
    problems = [str(p) for p in reward_problems(config)]
    assert len(problems) == 2
    assert problems[0].startswith("rewards[1] (bad).pattern: the regex does not compile")
    assert problems[1].startswith("data.answer_pattern")


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
        scores = function(prompts=prompts, completions=completions, completion_ids=[[1], [2]], answer=["12", "3"],
                          trainer_state=None, log_extra=None, log_metric=None)
        assert len(scores) == 2
    assert buffer.texts == [GOOD, "<thought>\nno idea"]  # what samples.jsonl shows
    assert buffer.scores == {"strict_format": [1.0, 0.0], "tag_count": [1.0, 0.25], "correct": [2.0, -1.0]}
    assert isinstance(functions[0], RewardFunction)


def test_score_command_prints_json():
    result = run_engine("score", REPO / "examples" / "quickstart.yaml", "--completion", GOOD, "--answer", "12")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["total"] == 4.0
    bad = run_engine("score", REPO / "examples" / "quickstart.yaml", "--completion", "x",
                     "--set", "rewards=[{name: r, kind: regex_match, pattern: '(('}]")
    assert bad.returncode == 2 and "does not compile" in bad.stderr
