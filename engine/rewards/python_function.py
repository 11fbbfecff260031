"""python: a TRL-style reward function of your own, `f(prompts, completions, completion_ids, **columns)`.

For engineers, in YAML and the CLI only: loading it runs the module's code, so the web app never offers it and
refuses it from any request (app.form_state), and a process that serves the web turns it off here as well
(forbid_user_code), so that no path can import a file a web user named.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import Field

from engine.rewards.base import BaseScorer, RewardKind, RewardSpec
from engine.rewards.row import Row, column_key

_user_code_allowed = True


class UserCodeForbidden(Exception):
    pass


def forbid_user_code() -> None:
    """From now on this process refuses to load python rewards (the web app calls it at start-up)."""
    global _user_code_allowed
    _user_code_allowed = False


class Spec(RewardSpec):
    kind: Literal["python"]
    function: str = Field(min_length=1, description="module:function or path/to/file.py:function of a TRL-style "
                                                    "reward function.")


def load_python_function(reference: str) -> Callable:
    """'package.module:attr' or 'path/to/file.py:attr' -> the callable."""
    if not _user_code_allowed:
        raise UserCodeForbidden("python rewards run your own code and are turned off in the web app; use them in a "
                                "YAML config with `python -m engine train`")
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


class Scorer(BaseScorer):
    def __init__(self, spec: Spec, prompt):
        super().__init__(spec, prompt)
        self.function = load_python_function(spec.function)

    def score(self, text: str, row: Row) -> float | None:
        return self.score_batch([text], [row])[0]

    def score_batch(self, texts: list[str], rows: list[Row]) -> list[float | None]:
        """One call with the whole batch, as TRL makes it: the full answers as conversations, every data column as
        a keyword list under the name TRL would give it, and the gold answers as `answer`."""
        columns: dict[str, list] = {}
        for index, row in enumerate(rows):
            for name, value in row.columns.items():
                columns.setdefault(column_key(name), [None] * len(rows))[index] = value
        scores = self.function(prompts=[row.prompt for row in rows],
                               completions=[[{"role": "assistant", "content": text}] for text in texts],
                               completion_ids=[row.completion_ids for row in rows],
                               answer=[row.gold for row in rows], **columns)
        scores = list(scores)
        if len(scores) != len(texts):
            raise ValueError(f"{self.spec.function} returned {len(scores)} scores for {len(texts)} completions")
        return [None if s is None else float(s) for s in scores]


def _problems(spec: Spec, prompt) -> list[tuple[str, str]]:
    try:
        load_python_function(spec.function)
    except UserCodeForbidden as e:
        return [("function", str(e))]
    except (ImportError, AttributeError, OSError, ValueError, SyntaxError) as e:
        return [("function", f"cannot load '{spec.function}': {e}")]
    return []


KIND = RewardKind(Spec, Scorer, category="shaping", web=False, bounded=False, problems=_problems,
                  help="Your own TRL-style reward function f(prompts, completions, completion_ids, **columns) "
                       "(YAML and the CLI only: the web app does not run user code).")
