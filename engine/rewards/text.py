"""Completion text and its structure: where the thinking is, what comes after it, and the strict layout.

One rule throughout: the thinking runs from the opening thought tag to the first closing thought tag (to the end
of the text when it never closes). Tags written inside the thinking are part of the thinking -- a model may talk
about its own format -- so they are neither counted as structure nor taken for the answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.prompt_config import PromptConfig


def completion_text(completion) -> str:
    """TRL hands conversational completions as [{'role': 'assistant', 'content': ...}]; plain ones as text."""
    if isinstance(completion, list):
        return "".join(str(m.get("content", "")) for m in completion if isinstance(m, dict))
    return str(completion)


@dataclass(frozen=True)
class Tags:
    thought_open: str
    thought_close: str
    answer_open: str
    answer_close: str

    @classmethod
    def of(cls, prompt: PromptConfig) -> Tags:
        return cls(*prompt.thought_tags, *prompt.answer_tags)

    def all(self) -> tuple[str, str, str, str]:
        return (self.thought_open, self.thought_close, self.answer_open, self.answer_close)


@dataclass(frozen=True)
class ThoughtSpan:
    content_start: int
    content_end: int  # the closing tag's position, or len(text) when the thinking never closes
    end: int | None  # just after the closing tag; None when it never closes


def thought_span(text: str, tags: Tags) -> ThoughtSpan | None:
    """The thinking: from the opening tag to the first closing tag after it. A closing tag with no opening tag
    before it (a template that wrote the opening tag itself) ends a thinking that began with the text."""
    opened = text.find(tags.thought_open)
    closed = text.find(tags.thought_close)
    if opened >= 0 and (closed < 0 or opened < closed):
        start = opened + len(tags.thought_open)
        closed = text.find(tags.thought_close, start)
        if closed < 0:
            return ThoughtSpan(start, len(text), None)
        return ThoughtSpan(start, closed, closed + len(tags.thought_close))
    if closed >= 0:
        return ThoughtSpan(0, closed, closed + len(tags.thought_close))
    return None


def after_thought(text: str, tags: Tags) -> str:
    """What follows the thinking: the whole text when there is none, nothing when it never closes."""
    span = thought_span(text, tags)
    if span is None:
        return text
    return "" if span.end is None else text[span.end:]


def last_answer_block(text: str, tags: Tags) -> str | None:
    """The inside of the last complete answer block."""
    end = text.rfind(tags.answer_close)
    start = text.rfind(tags.answer_open, 0, end) if end >= 0 else -1
    return text[start + len(tags.answer_open):end] if start >= 0 else None


def without_thought_content(text: str, tags: Tags) -> str:
    """The text with the inside of the thinking cut out (its tags stay): what counts as structure."""
    span = thought_span(text, tags)
    if span is None:
        return text
    return text[:span.content_start] + text[span.content_end:]


@dataclass(frozen=True)
class StrictLayout:
    """A completion that is exactly: whitespace, one thought block, whitespace, one answer block, then `trailing`."""
    thought: str
    answer: str
    trailing: str


def _block_after_whitespace(text: str, at: int, open_tag: str, close_tag: str) -> tuple[int, int] | None:
    """(start, end) of the inside of the block that opens with `open_tag` after the whitespace at `at`, or None."""
    opened = at + len(text[at:]) - len(text[at:].lstrip())
    if not text.startswith(open_tag, opened):
        return None
    inside = opened + len(open_tag)
    closed = text.find(close_tag, inside)
    return None if closed < 0 else (inside, closed)


def strict_layout(text: str, tags: Tags) -> StrictLayout | None:
    """The strict layout, or None. Both blocks must hold some text; the answer holds no tag (a second opening answer
    tag inside it is a second answer); the trailing text holds no tag (another block after the answer)."""
    thought_block = _block_after_whitespace(text, 0, tags.thought_open, tags.thought_close)
    if thought_block is None:
        return None
    answer_block = _block_after_whitespace(text, thought_block[1] + len(tags.thought_close), tags.answer_open,
                                           tags.answer_close)
    if answer_block is None:
        return None
    thought, answer = text[slice(*thought_block)], text[slice(*answer_block)]
    trailing = text[answer_block[1] + len(tags.answer_close):]
    if not thought.strip() or not answer.strip():
        return None
    if any(tag in answer or tag in trailing for tag in tags.all()):
        return None
    return StrictLayout(thought, answer, trailing)
