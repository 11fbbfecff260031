"""Presets: partial configs in presets/*.yaml, each with a one-line `description`. A preset may `extends:` another,
so fp8-fast only states what it changes from rlvr-math."""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine import settings
from engine.config_files import deep_merge, read_yaml
from engine.problems import ConfigError, Problem, short_repr


@dataclass(frozen=True)
class Preset:
    name: str
    description: str


def preset_names() -> list[str]:
    return sorted(p.stem for p in settings.presets_dir().glob("*.yaml"))


PRESET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")  # a file name in presets/, never a path


def load_preset_raw(name: str, _seen: tuple[str, ...] = ()) -> dict:
    """The preset as a plain dict with its parents merged in (the `extends` key removed)."""
    if not isinstance(name, str) or not PRESET_NAME.fullmatch(name) \
            or not (path := settings.presets_dir() / f"{name}.yaml").is_file():
        choices = ", ".join(preset_names()) or "none found"
        raise ConfigError([Problem("preset", f"there is no preset {short_repr(name, 80)}; choose one of: "
                                             f"{choices}")])
    if name in _seen:
        raise ConfigError([Problem("preset", f"preset '{name}' extends itself through {' -> '.join(_seen)}")])
    raw = read_yaml(path)
    parent = raw.pop("extends", None)
    if parent:
        raw = deep_merge(load_preset_raw(parent, _seen + (name,)), raw)
    raw["preset"] = name
    return raw


def list_presets() -> list[Preset]:
    return [Preset(name, str(load_preset_raw(name).get("description", "")).strip()) for name in preset_names()]
