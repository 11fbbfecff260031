"""What every reward kind is made of: its fields (a pydantic model), its scorer, and its declaration.

A kind module defines three things and the registry does the rest:

    class Spec(RewardSpec):            # kind: Literal["my_kind"] plus the kind's own fields, each with a description
    class Scorer(BaseScorer):          # score(text, row) -> float | None; optionally score_batch(texts, rows)
    KIND = RewardKind(Spec, Scorer, help="...", category="format" | "correctness" | "shaping", ...)

Nothing here imports engine.config: the config's schema is built from these classes, so this package must be
importable before the config is.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from engine.rewards.row import Row
from engine.rewards.safe_regex import RegexTimeout

if TYPE_CHECKING:
    from engine.prompt_config import PromptConfig

Category = Literal["format", "correctness", "shaping"]

NAME_PATTERN = r"[A-Za-z][A-Za-z0-9_\-]{0,40}"

# Before kinds had their own schemas, a saved config.yaml held every field of every kind (unused ones at these
# values). Such files are run folders a user may still resume or load into the form, so these leftovers are dropped
# where the kind has no such field.
_LEGACY_LEFTOVERS = {"pattern": None, "match": "search", "compare": "numeric", "tolerance": 1e-6, "tags": None,
                     "target": None, "function": None}
_ABSENT = object()


class RewardSpec(BaseModel):
    """The fields every reward has. A kind's Spec adds its own and narrows `kind` to its name."""
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    name: str = Field(description="Name shown in the metrics as rewards/<name>/mean.")
    kind: str = Field(description="What the reward scores; each kind has its own keys "
                                  "(`python -m engine reference --kinds`).")
    weight: float = Field(1.0, ge=-100, le=100, description="Multiplier of this reward in the total.")
    reward: float = Field(1.0, ge=-100, le=100, description="Score when the rule is met (the full score).")
    penalty: float = Field(0.0, ge=-100, le=100, description="Score when it is not.")

    @field_validator("name")
    @classmethod
    def _name_is_a_metric_name(cls, name: str) -> str:
        if not re.fullmatch(NAME_PATTERN, name):
            raise ValueError("use letters, digits, '_' or '-' (start with a letter, at most 41 characters)")
        return name

    @model_validator(mode="before")
    @classmethod
    def _drop_legacy_leftovers(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = {key: value for key, value in data.items()
                    if key in cls.model_fields or _LEGACY_LEFTOVERS.get(key, _ABSENT) != value}
        return data

    @classmethod
    def own_fields(cls) -> list[str]:
        """The kind's own fields, in declaration order (not the ones every reward has)."""
        return [name for name in cls.model_fields if name not in RewardSpec.model_fields]


class BaseScorer:
    """Scores completions for one reward spec. `score` is the per-completion form; `score_batch` defaults to it and
    may be overridden where a batch is cheaper (e.g. running many programs in parallel).

    A regex that runs past its time limit raises RegexTimeout from `score`; `score_batch` turns that into None (TRL
    leaves None out of the means) and counts it in `timeouts`, which the caller reads and resets.

    A kind that reads a part of the text (a regex's match, an extracted answer) sets `shows_match` and says what it
    read in `matched`: the try-it box and `engine score` show it."""

    shows_match = False

    def __init__(self, spec: RewardSpec, prompt: PromptConfig):
        self.spec = spec
        self.prompt = prompt
        self.timeouts = 0

    def score(self, text: str, row: Row) -> float | None:
        raise NotImplementedError

    def matched(self, text: str, row: Row) -> str | None:
        """What the reward read in the text (None: nothing matched); only where `shows_match`."""
        raise NotImplementedError

    def score_batch(self, texts: list[str], rows: list[Row]) -> list[float | None]:
        scores: list[float | None] = []
        for text, row in zip(texts, rows):
            try:
                scores.append(self.score(text, row))
            except RegexTimeout:
                scores.append(None)
                self.timeouts += 1
        return scores


def _no_problems(spec: RewardSpec, prompt: PromptConfig) -> list[tuple[str, str]]:
    return []


def _no_columns(spec: RewardSpec) -> list[str]:
    return []


@dataclass(frozen=True)
class RewardKind:
    """One kind of reward, as the config, the form, the reference, `check` and eval see it."""
    spec: type[RewardSpec]
    scorer: type[BaseScorer]
    help: str  # one line: what it scores
    category: Category
    web: bool = True  # may the web app offer it (False for anything that runs user code)
    starters: dict[str, Any] = field(default_factory=dict)  # what a new row in the form starts with
    needs_gold: bool = False  # needs the data's gold answers (an answer column)
    bounded: bool = True  # its scores lie between penalty and reward (a python function's need not)
    # its scorer runs model-written code (in engine.sandbox): `check` and the log say which isolation holds, and eval
    # calls its accuracy pass@1
    runs_model_code: bool = False
    # (field, sentence) for each problem a spec has beyond its types (a regex that does not compile, a missing file)
    problems: Callable[[RewardSpec, PromptConfig], list[tuple[str, str]]] = _no_problems
    # the data columns a spec reads besides the prompt and the gold answer (checked against the data file)
    columns: Callable[[RewardSpec], list[str]] = _no_columns

    @property
    def name(self) -> str:
        return get_args(self.spec.model_fields["kind"].annotation)[0]

    @property
    def label(self) -> str:
        return self.name.replace("_", " ")

    def fields(self) -> list[str]:
        return self.spec.own_fields()
