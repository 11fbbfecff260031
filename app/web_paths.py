"""Which files a path from the web page may name: the uploads folder and the bundled samples for data; hub ids,
built-ins and the models folder for models; nothing else.

A data path typed into the page, sent by a script to an event of the app, or loaded back from a run's settings goes
through `web_data_path` before anything opens it: the preview, the check and the launch alike. Engineers name any
file they like in YAML and the CLI; a web user is not trusted with the machine's files.
"""

from __future__ import annotations

import re
from pathlib import Path

from engine import builtin_models, settings
from engine.model_names import HUB_ID
from engine.problems import ConfigError, Problem, short_repr

from app import strings

# hf:<owner>/<name>[:config][:split] — a hub dataset id, never a local path (datasets would read a folder by path).
HUB_DATASET = re.compile(r"hf:[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}(:[\w.-]{0,64}(:[\w.\[\]%:-]{0,64})?)?")


class PathRefused(ConfigError):
    def __init__(self, message: str):
        super().__init__([Problem("data.path", message)])


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def web_data_path(text: str | None) -> str:
    """The data path the engine may read for `text` from the page: a name or path of a file in the uploads folder
    (resolved, symlinks followed), a bundled sample, or a hub dataset id. PathRefused otherwise."""
    text = (text or "").strip()
    if not text:
        return ""  # the engine says that a file is needed
    if text.startswith("hf:"):
        if HUB_DATASET.fullmatch(text) and ".." not in text:
            return text
        raise PathRefused(strings.DATA_HUB_ID_REFUSED.format(path=short_repr(text, 80)))
    uploads = settings.uploads_dir().resolve()
    try:
        candidate = Path(text)
        resolved = (candidate if candidate.is_absolute() else uploads / candidate).resolve()
    except (OSError, ValueError, RuntimeError):
        resolved = None
    samples = {sample.resolve() for sample in settings.bundled_samples()}
    if resolved is not None and (resolved in samples or (_inside(resolved, uploads) and resolved != uploads)):
        return str(resolved)
    raise PathRefused(strings.DATA_PATH_REFUSED.format(path=short_repr(text, 80)))


class ModelRefused(ConfigError):
    def __init__(self, message: str):
        super().__init__([Problem("model.name", message)])


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):  # a name too long for a path, a NUL byte
        return False


def web_model_name(text: str | None) -> str:
    """The model name the engine may load for `text` from the page: a built-in (the engine checks which), a hub id,
    a folder in the models folder by its name or path, or a run's folder (its merged model), symlinks followed.
    ModelRefused otherwise: a model folder is files the server reads and weights it loads, so a web user may not
    point at any folder of the machine."""
    name = (text or "").strip()
    if not name or builtin_models.is_builtin(name):
        return name
    models = settings.models_dir().resolve()
    allowed = (models, settings.runs_dir().resolve())
    candidate = Path(name)
    in_models = models / candidate if not candidate.is_absolute() else candidate
    if not _exists(in_models) and HUB_ID.fullmatch(name) and not _exists(candidate):
        return name  # a hub id; a name that is also a folder here would be loaded from the folder, so not this way
    try:
        resolved = in_models.resolve() if _exists(in_models) else None
    except (OSError, RuntimeError):  # a symlink loop
        resolved = None
    if resolved is not None and any(_inside(resolved, folder) and resolved != folder for folder in allowed):
        return str(resolved)
    raise ModelRefused(strings.MODEL_FOLDER_REFUSED.format(name=short_repr(name, 80), folder=models))
