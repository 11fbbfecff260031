"""The config's prompt section: the system prompt and the thought and answer tags. It sits below the config because
the rewards read it (a reward's tags, its patterns' placeholders) and the config's schema is built from the rewards.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from engine.config_section import Section

THOUGHT_TAGS = ("<thought>", "</thought>")
ANSWER_TAGS = ("<answer>", "</answer>")


class PromptConfig(Section):
    system_prompt: str = Field(
        "", max_length=50_000,
        description="System message. {thought_open} {thought_close} {answer_open} {answer_close} are "
                        "replaced by the tags.")
    instructions_in: Literal["system", "user"] = Field(
        "system", description="Where system_prompt goes: a system message, or before the question in the user "
                              "message (DeepSeek-R1's advice; small models follow it more often).")
    start_with_thought: bool = Field(
        False, description="Begin every answer with the opening thought tag already written, as DeepSeek-R1's "
                           "template does: the model starts inside its thinking, and rewards, samples and eval see "
                           "the tag as part of the answer.")
    thought_tags: tuple[str, str] = Field(THOUGHT_TAGS, description="Opening and closing tag around the thinking.")
    answer_tags: tuple[str, str] = Field(ANSWER_TAGS, description="Opening and closing tag around the final answer.")

    @field_validator("thought_tags", "answer_tags")
    @classmethod
    def _tags_not_blank(cls, tags: tuple[str, str]) -> tuple[str, str]:
        if not all(t.strip() for t in tags):
            raise ValueError("tags must not be empty, e.g. ['<answer>', '</answer>']")
        return tags

    def placeholders(self) -> dict[str, str]:
        return {"{thought_open}": self.thought_tags[0], "{thought_close}": self.thought_tags[1],
                "{answer_open}": self.answer_tags[0], "{answer_close}": self.answer_tags[1]}

    def answer_prefix(self) -> str:
        """What every answer starts with before the model writes a token."""
        return self.thought_tags[0] + "\n" if self.start_with_thought else ""

    def fill(self, text: str, transform=lambda s: s) -> str:
        """Replace the tag placeholders; plain replace, not str.format, so regex braces like {2,3} survive."""
        for key, value in self.placeholders().items():
            text = text.replace(key, transform(value))
        return text
