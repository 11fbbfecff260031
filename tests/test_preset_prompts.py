"""No preset's system prompt carries a concrete answer.

A worked example with a value in it leaks: on an H100 (2026-12-07) SmolLM2-135M tuned with the old rlvr-math prompt,
whose example ended in `<answer>12</answer>`, answered "12" to questions whose answer was not 12. The prompts show the
shape of a reply (the tags, with words in brackets where the model's own text goes), never a value.
"""

import re

import pytest

from engine.config import build_config
from engine.presets import preset_names


@pytest.mark.parametrize("name", preset_names())
def test_a_preset_prompt_shows_the_shape_of_a_reply_and_no_value(name):
    config = build_config({"preset": name})
    prompt = config.prompt
    text = prompt.system_prompt.format(thought_open=prompt.thought_tags[0], thought_close=prompt.thought_tags[1],
                                       answer_open=prompt.answer_tags[0], answer_close=prompt.answer_tags[1])
    shape = text[text.find(prompt.thought_tags[0], text.find(prompt.thought_tags[1]) + 1):]  # after the instructions
    assert not re.search(r"\d", shape), f"{name}: a number in the reply's shape: {shape!r}"
    answers = re.findall(re.escape(prompt.answer_tags[0]) + r"(.*?)" + re.escape(prompt.answer_tags[1]), shape,
                         re.DOTALL)
    assert answers, f"{name}: the prompt does not show where the answer goes"
    for answer in answers:
        # Only placeholders in brackets (and a code fence around one) between the answer tags.
        words = re.sub(r"```(python)?", "", answer).strip()
        assert re.fullmatch(r"\[[^\[\]]+\]", words), f"{name}: the answer block holds {answer!r}, not a placeholder"
