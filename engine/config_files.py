"""A config's YAML before it is validated: the file read (never one that is not a small regular file), the
`--set key=value` overrides, and the layers merged (preset <- user file <- overrides; engine.config validates).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from engine.problems import ConfigError, Problem, file_problem

MAX_CONFIG_BYTES = 1 << 20  # a config is a few KB; a bigger file is a mistake (or a data file given as a config)


def deep_merge(base: dict, override: dict) -> dict:
    """Dicts merge key by key; anything else (lists included) is replaced whole."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def parse_override(text: str) -> dict:
    """`train.max_steps=3` -> {'train': {'max_steps': 3}}; the value is YAML, so lists and dicts work too."""
    if "=" not in text:
        raise ConfigError([Problem("--set", f"'{text}' is not key=value, e.g. train.max_steps=3")])
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as e:
        raise ConfigError([Problem(key.strip(), f"the value is not valid YAML ({getattr(e, 'problem', e)})")]) from None
    except (ValueError, RecursionError) as e:  # a number with more than 4300 digits, nesting thousands deep
        raise ConfigError([Problem(key.strip(), f"the value cannot be read ({_first_words(e)})")]) from None
    tree: Any = value
    for part in reversed(key.strip().split(".")):
        tree = {part: tree}
    return tree


def _first_words(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return (lines[0][:200] if lines else "") or type(error).__name__


def read_yaml(path: Path) -> dict:
    path = Path(path)
    problem = file_problem(path, "config file", MAX_CONFIG_BYTES)
    if problem:
        raise ConfigError([Problem("", problem)])
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise ConfigError([Problem("", f"{path} is not valid YAML: {e}")]) from None
    except UnicodeDecodeError as e:
        raise ConfigError([Problem("", f"{path} is not UTF-8 text (byte {e.start}); save it as UTF-8")]) from None
    except (ValueError, RecursionError, OSError) as e:  # 5000-digit numbers, nesting thousands deep, I/O errors
        raise ConfigError([Problem("", f"{path} cannot be read as a config ({_first_words(e)})")]) from None
    if not isinstance(data, dict):
        raise ConfigError([Problem("", f"{path} must be a YAML mapping with model/data/rewards/train sections")])
    return data
