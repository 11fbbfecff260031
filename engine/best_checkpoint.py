"""The best checkpoint of a run and which adapter a command uses.

During training the held-out eval (engine/training_eval.py) marks the checkpoint with the best held-out accuracy
(or mean reward, for data without gold answers) in runs/<id>/best.json:

    {"step": 40, "metric": "eval/accuracy", "value": 0.62, "checkpoint": "checkpoints/checkpoint-40", "time": ...}

The path is relative to the run folder, so a run folder still works after it is moved. `adapter_source` is the one
place that turns "best" or "last" into an adapter folder: `engine eval`, the app's chat and export ask it.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from engine.runs.folder import RunFolder

WHICH = ("best", "last")
ADAPTER_CONFIG = "adapter_config.json"


class NoAdapter(ValueError):
    """The run has no adapter to use yet (one sentence, for the user)."""


def read_best(run: RunFolder) -> dict | None:
    """best.json, or None when there is none or it cannot be read (a run without held-out eval)."""
    try:
        best = json.loads(run.best_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(best, dict) or not isinstance(best.get("checkpoint"), str):
        return None
    return best


def write_best(run: RunFolder, step: int, metric: str, value: float, checkpoint: Path) -> dict:
    """Mark `checkpoint` as the best so far, atomically (a reader never sees half a file)."""
    best = {"step": step, "metric": metric, "value": value,
            "checkpoint": os.path.relpath(checkpoint, run.path), "time": time.time()}
    tmp = run.best_path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(best, indent=2), encoding="utf-8")
    os.replace(tmp, run.best_path)
    return best


def _has_adapter(folder: Path | None) -> bool:
    return folder is not None and (folder / ADAPTER_CONFIG).is_file()


def best_checkpoint(run: RunFolder) -> Path | None:
    """The best checkpoint's folder, if best.json names one that is still there and holds an adapter."""
    best = read_best(run)
    if best is None:
        return None
    folder = (run.path / best["checkpoint"]).resolve()
    if not folder.is_relative_to(run.path.resolve()):  # a hand-edited best.json must not point outside the run
        return None
    return folder if _has_adapter(folder) else None


def adapter_source(run: RunFolder, which: str = "best") -> Path:
    """The adapter folder to use: "best" is the best checkpoint by held-out eval, falling back to the last adapter
    when the run has none (no held-out rows, eval off, or not evaluated yet); "last" is the adapter saved when the run
    completed or stopped, else its newest checkpoint (a run that was killed). Raises NoAdapter with one sentence."""
    if which not in WHICH:
        raise NoAdapter(f"'{which}' is not a checkpoint choice; use best or last")
    if which == "best" and (folder := best_checkpoint(run)) is not None:
        return folder
    if _has_adapter(run.adapter_dir):
        return run.adapter_dir
    newest = run.last_checkpoint()
    if _has_adapter(newest):
        return newest
    raise NoAdapter(f"run {run.id} has no adapter yet; it is saved at each checkpoint and when the run completes or "
                    "is stopped")


def describe_source(run: RunFolder, folder: Path) -> str:
    """'checkpoint-40 (best: eval/accuracy 0.62)', 'adapter (last)' or 'checkpoint-30 (newest checkpoint)'."""
    best = read_best(run)
    if best is not None and folder == best_checkpoint(run):
        return f"{folder.name} (best: {best['metric']} {best['value']:.3g} at step {best['step']})"
    if folder == run.adapter_dir:
        return "adapter (last)"
    return f"{folder.name} (newest checkpoint)"
