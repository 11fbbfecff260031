"""A dataset row as a reward sees it: the gold answer and every column of the user's data, by its own name.

Training examples carry every column of the user's file (engine.data.build_examples) because TRL hands a reward
function each extra dataset column as a keyword list. A few keys are TRL's or ours, so a user column with such a
name is stored under `data_<name>` on the example; `Row` undoes that, so scorers see the user's own names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Keys with a meaning of their own on an example or in TRL's reward call: ours (prompt = the chat messages,
# answer = the extracted gold answer), TRL's reward-function arguments, and dataset columns TRL itself reads.
RESERVED_KEYS = frozenset({"prompt", "answer", "completion", "completion_ids", "prompts", "completions",
                           "trainer_state", "log_extra", "log_metric", "environments", "environment", "image",
                           "images"})
# What TRL adds to every reward call besides the dataset columns.
TRL_CALL_KEYS = frozenset({"trainer_state", "log_extra", "log_metric", "environments"})
ESCAPE_PREFIX = "data_"


def _needs_escape(name: str) -> bool:
    # A column that already looks escaped is escaped again, so that the mapping stays one-to-one.
    return name in RESERVED_KEYS or (name.startswith(ESCAPE_PREFIX) and _needs_escape(name[len(ESCAPE_PREFIX):]))


def column_key(name: str) -> str:
    """The key a user column is stored under on a training example: its own name unless that is reserved."""
    return ESCAPE_PREFIX + name if _needs_escape(name) else name


def column_name(key: str) -> str:
    """The inverse of column_key."""
    if key.startswith(ESCAPE_PREFIX) and _needs_escape(key[len(ESCAPE_PREFIX):]):
        return key[len(ESCAPE_PREFIX):]
    return key


@dataclass
class Row:
    gold: str | None = None
    columns: dict[str, Any] = field(default_factory=dict)  # every column of the user's data, by its own name
    prompt: Any = None  # the chat messages the model was given
    completion_ids: list[int] | None = None

    @classmethod
    def from_example(cls, example: dict) -> Row:
        """A training/eval example (engine.data) as a Row."""
        return cls(gold=example.get("answer"), prompt=example.get("prompt"),
                   columns={column_name(k): v for k, v in example.items() if k not in ("prompt", "answer")})


def rows_from_trl_call(count: int, prompts: list | None, completion_ids: list | None, columns: dict) -> list[Row]:
    """The rows of one TRL reward call, whose dataset columns arrive as keyword lists."""
    data = {k: v for k, v in columns.items() if k not in TRL_CALL_KEYS and k != "answer" and isinstance(v, list)}
    golds = columns.get("answer") or [None] * count
    return [Row(gold=golds[i], prompt=prompts[i] if prompts else None,
                completion_ids=completion_ids[i] if completion_ids else None,
                columns={column_name(k): v[i] for k, v in data.items()})
            for i in range(count)]
