"""Reward specs as TRL reward functions, and the same scoring for one completion (`engine score`, the app's try-it).

`RewardFunction` wraps one spec's scorer as TRL calls it, f(prompts, completions, completion_ids, **columns), named
after the reward so that TRL logs rewards/<name>/mean. Each call is recorded in a `SampleBuffer`, which the trainer
callback turns into samples.jsonl and the per-step count of regex timeouts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import regex

from engine.rewards.base import RewardSpec
from engine.rewards.registry import kind_of
from engine.rewards.row import Row, rows_from_trl_call
from engine.rewards.safe_regex import TIMEOUT_SENTENCE, RegexTimeout
from engine.rewards.text import completion_text

if TYPE_CHECKING:
    from engine.config import RunConfig
    from engine.prompt_config import PromptConfig


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

    def count_timeouts(self, name: str, count: int) -> None:
        if count:
            self.regex_timeouts[name] = self.regex_timeouts.get(name, 0) + count


class RewardFunction:
    """One reward spec as a TRL reward function."""

    def __init__(self, spec: RewardSpec, prompt: PromptConfig, buffer: SampleBuffer | None = None):
        self.spec = spec
        self.__name__ = spec.name  # TRL names the metric after it: rewards/<name>/mean
        self.buffer = buffer
        self.answer_prefix = prompt.answer_prefix()
        self.scorer = kind_of(spec).scorer(spec, prompt)

    def score(self, text: str, row: Row | None = None) -> float | None:
        """One completion (the full answer text); raises RegexTimeout when a pattern runs out of time."""
        return self.scorer.score(text, row or Row())

    def score_rows(self, texts: list[str], rows: list[Row]) -> list[float | None]:
        """A batch of full answer texts; a timed-out pattern scores None and is counted in the buffer."""
        scores = self.scorer.score_batch(texts, rows)
        if self.buffer is not None:
            self.buffer.count_timeouts(self.spec.name, self.scorer.timeouts)
        self.scorer.timeouts = 0
        return scores

    def __call__(self, prompts, completions, completion_ids=None, **columns) -> list[float | None]:
        # TRL's completions hold only the generated tokens; the answer also includes the prefix the prompt ended with.
        texts = [self.answer_prefix + completion_text(c) for c in completions]
        rows = rows_from_trl_call(len(completions), prompts, completion_ids, columns)
        scores = self.score_rows(texts, rows)
        if self.buffer is not None:
            self.buffer.record(self.spec.name, completions, prompts, texts, [row.gold for row in rows], scores)
        return scores


def build_reward_functions(config: RunConfig, buffer: SampleBuffer | None = None) -> list[RewardFunction]:
    return [RewardFunction(spec, config.prompt, buffer) for spec in config.rewards]


def reward_weights(config: RunConfig) -> list[float]:
    return [spec.weight for spec in config.rewards]


def score_completion(config: RunConfig, completion: str, answer: str | None = None, row: Row | None = None) -> dict:
    """Every reward's score for one completion, the weighted total, what each pattern matched, and a sentence per
    reward that failed.

    `row` carries the data columns a reward may read; `answer` is the gold answer (it overrides the row's).
    Returns {"scores": {name: score|None}, "total": float, "matched": {name: text|None}, "errors": {name: sentence}};
    `matched` holds the rewards that read a part of the text (a regex's match, an extracted answer).
    """
    row = row or Row()
    row = Row(gold=answer if answer is not None else row.gold, columns=row.columns, prompt=row.prompt)
    scores: dict[str, float | None] = {}
    matched: dict[str, str | None] = {}
    errors: dict[str, str] = {}
    for spec in config.rewards:
        scores[spec.name] = None
        try:
            function = RewardFunction(spec, config.prompt)
            scores[spec.name] = function.score(completion, row)
            if function.scorer.shows_match:
                matched[spec.name] = function.scorer.matched(completion, row)
        except RegexTimeout:
            errors[spec.name] = TIMEOUT_SENTENCE
        except regex.error as e:
            errors[spec.name] = f"the pattern does not compile: {e}"
        except Exception as e:  # a user's python reward may raise anything; report it, keep the others
            errors[spec.name] = f"{type(e).__name__}: {e}"
    total = sum(spec.weight * scores[spec.name] for spec in config.rewards if scores[spec.name] is not None)
    return {"scores": scores, "total": total, "matched": matched, "errors": errors}
