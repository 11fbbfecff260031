"""The reward kinds. Adding one means writing its module (see engine.rewards.base) and naming it in KIND_MODULES;
the config schema, `engine reference`, the README table, the web form, `check` and eval all follow from here."""

from __future__ import annotations

import functools
import importlib
import operator
from typing import Annotated

from pydantic import Field

from engine.rewards.base import Category, RewardKind, RewardSpec

KIND_MODULES = ("format", "tag_count", "regex_match", "answer_match", "code_tests", "length", "python_function")

KINDS: dict[str, RewardKind] = {}
for _module in KIND_MODULES:
    _kind = importlib.import_module(f"engine.rewards.{_module}").KIND
    KINDS[_kind.name] = _kind

# The config's `rewards:` entries: one schema per kind, chosen by `kind`.
RewardConfig = Annotated[functools.reduce(operator.or_, [kind.spec for kind in KINDS.values()]),
                         Field(discriminator="kind")]


def kind_of(spec: RewardSpec | str) -> RewardKind:
    return KINDS[spec if isinstance(spec, str) else spec.kind]


def web_kinds() -> list[RewardKind]:
    """The kinds the web app may offer: everything that runs no user code."""
    return [kind for kind in KINDS.values() if kind.web]


def in_category(spec: RewardSpec, category: Category) -> bool:
    return kind_of(spec).category == category


def runs_model_code(specs: list[RewardSpec]) -> bool:
    """Whether any of these rewards runs model-written code (in the sandbox)."""
    return any(kind_of(spec).runs_model_code for spec in specs)


def sandbox_report(specs: list[RewardSpec]) -> tuple[str, list[str]] | None:
    """For rewards that run model-written code: which isolation holds here (one sentence) and a warning per layer
    that does not; None when no reward runs code. `check` and the training log print it."""
    if not runs_model_code(specs):
        return None
    from engine.sandbox import isolation  # probes the kernel once per process: only when a reward needs it

    layers = isolation()
    return layers.describe(), layers.warnings()
