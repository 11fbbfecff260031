"""The one model the app process keeps loaded (transformers, never trl): the results step's chat and the rewards
step's "Generate one" share it, so the app never holds two models beside a training job. Loading is lazy and behind
one lock, so two clicks at once do not load it twice, and a different key frees the previous model first."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_slot: dict = {}  # {"key": ..., "value": whatever load() returned}


@contextmanager
def holding(key, load: Callable) -> Iterator:
    """The value loaded for `key` (loading it with `load()` if another key's, or nothing, is loaded), held under the
    lock for the duration of the block."""
    with _lock:
        if _slot.get("key") != key:
            _slot.clear()
            _slot.update(key=key, value=load())
        yield _slot["value"]
