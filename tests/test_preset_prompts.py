"""What a preset's system prompt shows the model: the shape of a reply, and a value only as the answer to a question
the prompt states.

Issue 22 found both ways to get this wrong on an H100 (2026-12-07, SmolLM2-135M, bench/LEARNING.md):
- a bare worked example (`<answer>12</answer>` under "Example:") leaked: the tuned model answered 12 to other
  questions;
- no value at all (the shape with placeholders in brackets) was copied literally: the base model wrote the format
  0.3% of the time, against 32% with a worked example, and GRPO had nothing to compare.
So a preset either shows placeholders, or a worked example whose question is written out before its reply; and the
reply it shows is one its own format rewards pay in full, so that copying the shape is never penalised.
"""

import re

import pytest

from engine.config import build_config
from engine.presets import preset_names
from engine.rewards import build_reward_functions


def rendered(config) -> str:
    prompt = config.prompt
    return prompt.system_prompt.format(thought_open=prompt.thought_tags[0], thought_close=prompt.thought_tags[1],
                                       answer_open=prompt.answer_tags[0], answer_close=prompt.answer_tags[1])


def reply_shown(config) -> str:
    """The example reply: from the thought tag that opens it (after the instructions name the tags) to the end."""
    text, (thought_open, thought_close) = rendered(config), config.prompt.thought_tags
    return text[text.find(thought_open, text.find(thought_close) + 1):]


@pytest.mark.parametrize("name", preset_names())
def test_a_value_in_a_preset_prompt_answers_a_question_the_prompt_states(name):
    config = build_config({"preset": name})
    text, reply = rendered(config), reply_shown(config)
    open_tag, close_tag = config.prompt.answer_tags
    answers = re.findall(re.escape(open_tag) + r"(.*?)" + re.escape(close_tag), reply, re.DOTALL)
    assert len(answers) == 1, f"{name}: the prompt shows {len(answers)} answer blocks"
    words = re.sub(r"```(python)?", "", answers[0]).strip()
    if not re.fullmatch(r"\[[^\[\]]+\]", words):  # a value, not a placeholder
        assert "Example question:" in text and text.index("Example question:") < text.index(reply), \
            f"{name}: the example answer {words!r} follows no question of its own"
        assert "Example:" not in text, f"{name}: a bare 'Example:' reply, the kind that leaked"


@pytest.mark.parametrize("name", preset_names())
def test_the_reply_a_preset_shows_earns_its_own_format_rewards(name):
    config = build_config({"preset": name})
    reply = reply_shown(config)
    for function in build_reward_functions(config):
        if function.spec.kind in ("format", "tag_count"):
            assert function.score(reply) == function.spec.reward, f"{name}: {function.spec.name} on {reply!r}"
