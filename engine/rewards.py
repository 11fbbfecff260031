"""Reward functions built from the config's `rewards:` list.

Each kind is a small pure function `(spec, completion text, gold answer) -> score`. `RewardFunction` wraps one
spec as a TRL reward function named after the reward (so TRL logs `rewards/<name>/mean`), and `score_completion`
is the same code path for one completion: the CLI's `score` and the app's "try it" box use it.

Patterns run through the `regex` package with a timeout, so a catastrophic pattern such as `(a|aa)+$` on a long
completion scores None (TRL leaves it out of the means) and is counted, instead of hanging the run. Patterns are
compiled with DOTALL: a thought spans lines, and `.` should follow it.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import regex

from engine.config import Problem, PromptConfig, RewardConfig, RunConfig

REGEX_TIMEOUT_S = 0.25
REGEX_FLAGS = regex.DOTALL

_NUMBER = regex.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


# ---------------------------------------------------------------------------------------------------------------
# Text helpers

def completion_text(completion) -> str:
    """TRL hands conversational completions as [{'role': 'assistant', 'content': ...}]; plain ones as text."""
    if isinstance(completion, list):
        return "".join(str(m.get("content", "")) for m in completion if isinstance(m, dict))
    return str(completion)


def parse_number(text: str | None) -> float | None:
    """The last number in the text, after dropping thousands separators and currency: '$1,000.00' -> 1000.0."""
    if text is None:
        return None
    cleaned = regex.sub(r"(?<=\d),(?=\d{3}\b)", "", str(text)).replace("$", "")
    numbers = _NUMBER.findall(cleaned)
    if not numbers:
        return None
    try:
        return float(numbers[-1])
    except ValueError:
        return None


def compile_pattern(pattern: str, prompt: PromptConfig) -> regex.Pattern:
    """Fill the tag placeholders (escaped, so '<answer>' or '[ANS]' match literally) and compile."""
    return regex.compile(prompt.fill(pattern, regex.escape), REGEX_FLAGS)


class RegexTimeout(Exception):
    pass


def _run(call: Callable, *args, **kwargs):
    try:
        return call(*args, timeout=REGEX_TIMEOUT_S, **kwargs)
    except TimeoutError:
        raise RegexTimeout() from None


# ---------------------------------------------------------------------------------------------------------------
# The kinds: each returns a score for one completion (None = cannot be scored).

def score_regex_match(spec: RewardConfig, pattern: regex.Pattern, text: str) -> float:
    found = _run(pattern.fullmatch if spec.match == "full" else pattern.search, text)
    return spec.reward if found else spec.penalty


def extract_answer(pattern: regex.Pattern, text: str) -> str | None:
    """The last match (a model that rewrites its answer means the final one); group 1 when the pattern has one."""
    last = None
    for last in _run(pattern.finditer, text):
        pass
    if last is None:
        return None
    return last.group(1) if pattern.groups >= 1 else last.group(0)


def answers_equal(spec: RewardConfig, predicted: str, gold: str) -> bool:
    if spec.compare == "exact":
        return predicted.strip() == gold.strip()
    if spec.compare == "casefold":
        return predicted.strip().casefold() == gold.strip().casefold()
    a, b = parse_number(predicted), parse_number(gold)
    return a is not None and b is not None and math.isclose(a, b, rel_tol=0.0, abs_tol=spec.tolerance)


def score_answer_match(spec: RewardConfig, pattern: regex.Pattern, text: str, gold: str | None) -> float | None:
    if gold is None or str(gold).strip() == "":
        return None  # no gold answer for this row: not applicable rather than wrong
    predicted = extract_answer(pattern, text)
    if predicted is None:
        return spec.penalty
    return spec.reward if answers_equal(spec, predicted, str(gold)) else spec.penalty


def score_tag_count(spec: RewardConfig, tags: list[str], text: str) -> float:
    """Each tag written exactly once earns its share of `reward`; each missing or repeated one its share of
    `penalty`."""
    share = 1.0 / len(tags)
    return sum((spec.reward if text.count(tag) == 1 else spec.penalty) * share for tag in tags)


def score_length(spec: RewardConfig, text: str) -> float:
    """`reward` at exactly `target` characters, falling linearly to `penalty` at 0 or twice the target."""
    closeness = max(0.0, 1.0 - abs(len(text) - spec.target) / spec.target)
    return spec.penalty + (spec.reward - spec.penalty) * closeness


# ---------------------------------------------------------------------------------------------------------------
# TRL reward functions

@dataclass
class SampleBuffer:
    """The latest generation batch as the reward functions saw it, so the trainer callback can write samples."""
    batch: list | None = None  # TRL's completions list, kept to tell a new batch from the same one
    texts: list[str] = field(default_factory=list)  # the answers as the rewards scored them
    prompts: list = field(default_factory=list)
    answers: list = field(default_factory=list)
    scores: dict[str, list] = field(default_factory=dict)
    regex_timeouts: dict[str, int] = field(default_factory=dict)

    def record(self, name: str, batch: list, prompts: list, texts: list[str], answers: list, scores: list) -> None:
        if batch is not self.batch:  # a new batch: TRL passes the same list to every reward function
            self.batch, self.texts, self.prompts, self.answers, self.scores = batch, texts, prompts, answers, {}
        self.scores[name] = scores


class RewardFunction:
    """One reward spec as a TRL reward function: f(prompts, completions, completion_ids, **columns) -> scores."""

    def __init__(self, spec: RewardConfig, prompt: PromptConfig, buffer: SampleBuffer | None = None):
        self.spec = spec
        self.__name__ = spec.name  # TRL names the metric after it: rewards/<name>/mean
        self.buffer = buffer
        self.answer_prefix = prompt.answer_prefix()
        self.pattern = compile_pattern(spec.pattern, prompt) if spec.pattern else None
        self.tags = [prompt.fill(t) for t in spec.tags or []]
        self.python_function = load_python_function(spec.function) if spec.kind == "python" else None

    def score(self, text: str, gold: str | None) -> float | None:
        kind = self.spec.kind
        if kind == "regex_match":
            return score_regex_match(self.spec, self.pattern, text)
        if kind == "answer_match":
            return score_answer_match(self.spec, self.pattern, text, gold)
        if kind == "tag_count":
            return score_tag_count(self.spec, self.tags, text)
        if kind == "length":
            return score_length(self.spec, text)
        raise ValueError(f"score() does not handle kind {kind}")  # python rewards are scored in batches

    def __call__(self, prompts, completions, completion_ids=None, **columns) -> list[float | None]:
        answers = list(columns.get("answer") or [None] * len(completions))
        # TRL's completions hold only the generated tokens; the answer also includes the prefix the prompt ended with.
        texts = [self.answer_prefix + completion_text(c) for c in completions]
        if self.python_function is not None:
            user_columns = {k: v for k, v in columns.items() if k not in ("trainer_state", "log_extra", "log_metric")}
            full = [[{"role": "assistant", "content": t}] if isinstance(c, list) else t
                    for c, t in zip(completions, texts)] if self.answer_prefix else completions
            scores = list(self.python_function(prompts=prompts, completions=full,
                                               completion_ids=completion_ids, **user_columns))
        else:
            scores = []
            for text, gold in zip(texts, answers):
                try:
                    scores.append(self.score(text, gold))
                except RegexTimeout:
                    scores.append(None)
                    if self.buffer is not None:
                        self.buffer.regex_timeouts[self.spec.name] = self.buffer.regex_timeouts.get(
                            self.spec.name, 0) + 1
        if self.buffer is not None:
            self.buffer.record(self.spec.name, completions, prompts, texts, answers, scores)
        return scores


def build_reward_functions(config: RunConfig, buffer: SampleBuffer | None = None) -> list[RewardFunction]:
    return [RewardFunction(spec, config.prompt, buffer) for spec in config.rewards]


def reward_weights(config: RunConfig) -> list[float]:
    return [spec.weight for spec in config.rewards]


def score_completion(config: RunConfig, completion: str, answer: str | None = None) -> dict:
    """Every reward's score for one completion, the weighted total, and a sentence per reward that failed.

    Returns {"scores": {name: score|None}, "total": float, "errors": {name: sentence}}.
    """
    scores: dict[str, float | None] = {}
    errors: dict[str, str] = {}
    for spec in config.rewards:
        try:
            function = RewardFunction(spec, config.prompt)
            if spec.kind == "python":
                conversation = [{"role": "assistant", "content": completion}]
                result = function(prompts=[[]], completions=[conversation], completion_ids=None, answer=[answer])
                scores[spec.name] = result[0]
            else:
                scores[spec.name] = function.score(completion, answer)
        except RegexTimeout:
            scores[spec.name] = None
            errors[spec.name] = (f"the pattern took longer than {REGEX_TIMEOUT_S}s on this text (catastrophic "
                                 "backtracking); simplify nested repeats like (a+)+")
        except regex.error as e:
            scores[spec.name] = None
            errors[spec.name] = f"the pattern does not compile: {e}"
        except Exception as e:  # a user's python reward may raise anything; report it, keep the others
            scores[spec.name] = None
            errors[spec.name] = f"{type(e).__name__}: {e}"
    total = sum(spec.weight * scores[spec.name] for spec in config.rewards if scores[spec.name] is not None)
    return {"scores": scores, "total": total, "errors": errors}


# ---------------------------------------------------------------------------------------------------------------
# Validation and python rewards

def reward_problems(config: RunConfig) -> list[Problem]:
    """A sentence per reward that cannot be built: a pattern that does not compile, a function not found."""
    problems = []
    for i, spec in enumerate(config.rewards):
        key = f"rewards[{i}] ({spec.name})"
        if spec.pattern:
            try:
                compile_pattern(spec.pattern, config.prompt)
            except regex.error as e:
                problems.append(Problem(f"{key}.pattern", f"the regex does not compile: {e}; fix the pattern"))
        if spec.kind == "python":
            try:
                load_python_function(spec.function)
            except (ImportError, AttributeError, OSError, ValueError, SyntaxError) as e:
                problems.append(Problem(f"{key}.function", f"cannot load '{spec.function}': {e}"))
    if config.data.answer_pattern:
        try:
            regex.compile(config.data.answer_pattern)
        except regex.error as e:
            problems.append(Problem("data.answer_pattern", f"the regex does not compile: {e}; fix the pattern"))
    return problems


def load_python_function(reference: str) -> Callable:
    """'package.module:attr' or 'path/to/file.py:attr' -> the callable."""
    if ":" not in reference:
        raise ValueError("write it as module:function or path/to/file.py:function")
    target, attr = reference.rsplit(":", 1)
    if target.endswith(".py"):
        path = Path(target).expanduser().resolve()
        if not path.is_file():
            raise OSError(f"file {target} does not exist")
        module_name = f"grpo_user_reward_{path.stem}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module  # dataloader workers and pickling look modules up by name
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(target)
    function = getattr(module, attr)
    if not callable(function):
        raise ValueError(f"{attr} is not a function")
    return function
