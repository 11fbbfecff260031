"""Can this machine get a hub model? `check` says "ready" only when it can: the model is in the Hugging Face cache
here, or the Hub answers for it. A hub id on a machine that cannot reach the Hub would otherwise pass every check and
fail a minute into the run, while loading.

Only hub ids are asked about (a built-in or a local folder needs no Hub). The answer is one sentence saying what to
change, or None; it is kept for a minute per model, so a page that checks on every edit does not ask the Hub each
time.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from engine import builtin_models
from engine.model_names import HUB_ID

HUB_TIMEOUT_S = 5.0
REMEMBER_S = 60.0
_TRUE = {"1", "ON", "YES", "TRUE"}
_answers: dict[tuple, tuple[float, str | None]] = {}


def offline() -> bool:
    """HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) set: transformers will not download anything. The environment is
    read at each call, as well as huggingface_hub's own flag (read once, at its import)."""
    from huggingface_hub import constants

    return constants.HF_HUB_OFFLINE or any(os.environ.get(name, "").strip().upper() in _TRUE
                                           for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def is_hub_id(name: str) -> bool:
    name = name.strip()
    if builtin_models.is_builtin(name) or not HUB_ID.fullmatch(name):
        return False
    try:
        return not Path(name).expanduser().exists()
    except (OSError, ValueError):
        return True


def in_cache(name: str) -> bool:
    """A model downloaded before: its config.json is in the Hugging Face cache."""
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(name, "config.json"), str)
    except Exception:  # an odd id or an unreadable cache: not usable from the cache
        return False


def hub_problem(name: str) -> str | None:
    """Why a run of this hub model cannot start here (one sentence), or None when it can (or it is no hub id)."""
    name = name.strip()
    if not is_hub_id(name) or in_cache(name):
        return None
    if offline():
        return (f"{name} is not downloaded on this machine and downloads from the Hugging Face Hub are switched off "
                "here (HF_HUB_OFFLINE); pick a built-in model or a model folder on this machine, or allow downloads")
    endpoint = os.environ.get("HF_ENDPOINT") or None
    key = (name, endpoint, bool(os.environ.get("HF_TOKEN")))
    remembered = _answers.get(key)
    if remembered is not None and time.monotonic() - remembered[0] < REMEMBER_S:
        return remembered[1]
    answer = _ask_hub(name, endpoint)
    _answers[key] = (time.monotonic(), answer)
    return answer


def _ask_hub(name: str, endpoint: str | None) -> str | None:
    """One HEAD request for the model's config.json (what from_pretrained fetches first)."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.errors import EntryNotFoundError, GatedRepoError, RepositoryNotFoundError

    try:
        get_hf_file_metadata(hf_hub_url(name, "config.json", endpoint=endpoint), timeout=HUB_TIMEOUT_S)
    except GatedRepoError:
        return (f"{name} is gated on the Hugging Face Hub; accept its licence on its page there and set HF_TOKEN "
                "for this app, or pick another model")
    except RepositoryNotFoundError:
        return (f"there is no model {name} on the Hugging Face Hub (or it is private: set HF_TOKEN); check the "
                "spelling, e.g. Qwen/Qwen2.5-1.5B-Instruct")
    except EntryNotFoundError:
        return f"{name} on the Hugging Face Hub has no config.json, so it is not a transformers model; pick another"
    except Exception as error:  # no network, a proxy that refuses, a timeout, a server error
        reason = type(error).__name__
        return (f"{name} is not downloaded on this machine and the Hugging Face Hub cannot be reached from here "
                f"({reason}); connect this machine to the internet, or pick a built-in model or a model folder "
                "on this machine")
    return None
