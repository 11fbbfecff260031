"""Checkpoints that are whole or absent.

transformers' Trainer writes checkpoint-N file by file (weights, optimizer, scheduler, RNG state, trainer_state.json
last). A kill -9 or a full disk in the middle used to leave a partial folder that every later --resume failed on.
Here the trainer writes each checkpoint into `checkpoints/.incomplete/checkpoint-N` and it is renamed into place
only once every file is on disk. A `checkpoint-N` folder without a readable trainer_state.json of its own step (left
by an older version) is not complete, so resuming takes the newest complete one and says which.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

STAGING = ".incomplete"
PREFIX = "checkpoint-"
WEIGHT_FILES = ("adapter_model.safetensors", "adapter_model.bin", "model.safetensors", "model.safetensors.index.json",
                "pytorch_model.bin")


def step_of(path: Path) -> int | None:
    digits = path.name[len(PREFIX):]
    return int(digits) if path.name.startswith(PREFIX) and digits.isdigit() else None


def is_complete(path: Path) -> bool:
    """Every file the Trainer writes is there: its trainer_state.json (written last) names this step, and the
    weights are not empty."""
    step = step_of(path)
    if step is None or path.is_symlink() or not path.is_dir():
        return False
    try:
        state = json.loads((path / "trainer_state.json").read_text(encoding="utf-8"))
        weights = [path / name for name in WEIGHT_FILES if (path / name).is_file()]
        return isinstance(state, dict) and state.get("global_step") == step and any(w.stat().st_size for w in weights)
    except (OSError, ValueError):
        return False


def _numbered(folder: Path) -> list[Path]:
    try:
        found = [p for p in Path(folder).iterdir() if step_of(p) is not None]
    except OSError:
        return []
    return sorted(found, key=step_of)


def complete_checkpoints(folder: Path) -> list[Path]:
    """Oldest first."""
    return [p for p in _numbered(folder) if is_complete(p)]


def incomplete_checkpoints(folder: Path) -> list[Path]:
    return [p for p in _numbered(folder) if not is_complete(p)]


def discard_incomplete(folder: Path) -> list[str]:
    """Remove the staging folder and any partial checkpoint-N (they can only make a resume fail, and a resumed run
    would later save into the same name); returns the names removed."""
    removed = []
    for path in [Path(folder) / STAGING] + incomplete_checkpoints(folder):
        if path.exists() or path.is_symlink():
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            if path.name != STAGING:
                removed.append(path.name)
    return removed


def _sync(folder: Path) -> None:
    """Flush the files to the disk before the rename publishes them (after a power cut a renamed folder of empty
    files would be worse than none)."""
    for path in folder.rglob("*"):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def publish(staged: Path, target: Path) -> None:
    """Move a finished checkpoint into place; an existing one of the same step is replaced whole."""
    _sync(staged)
    if target.exists():
        old = staged.parent / f"replaced-{target.name}"
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
        os.replace(staged, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staged, target)


def _rotate(trainer, folder: Path) -> None:
    """The Trainer's own rotation (save_total_limit), which ran in the staging folder, again where the checkpoints
    are: oldest first by step, never the newest nor the best (state.best_global_step, set by the held-out checks)."""
    from transformers.trainer_utils import rotate_checkpoints

    best = trainer.state.best_global_step
    best_dir = folder / f"{PREFIX}{best}" if best else None
    if best_dir is not None and best_dir.is_dir():
        trainer.state.best_model_checkpoint = str(best_dir)
    if trainer.args.should_save:
        rotate_checkpoints(output_dir=str(folder), save_total_limit=trainer.args.save_total_limit,
                           best_model_checkpoint=trainer.state.best_model_checkpoint, use_mtime=False)


def save_whole_checkpoints(trainer, folder: Path) -> None:
    """Make `trainer` (TRL's GRPOTrainer, Unsloth's patched one too) write each checkpoint into the staging folder
    and publish it when complete. The hook is the Trainer's `_save_checkpoint`, which asks `_get_output_dir` where
    to write (transformers 5.17); both are overridden on this one instance, not on the class."""
    folder = Path(folder)
    save = trainer._save_checkpoint
    # On several GPUs every rank writes into the checkpoint (its RNG state; its shard under FSDP or ZeRO-3): the main
    # rank clears the staging folder before any writes and publishes once all have written.
    accelerator = trainer.accelerator
    main = accelerator.is_main_process

    def save_whole(model, trial):
        staging = folder / STAGING
        if main:
            shutil.rmtree(staging, ignore_errors=True)
        accelerator.wait_for_everyone()
        trainer._get_output_dir = lambda trial=None: str(staging)
        try:
            save(model, trial)
        finally:
            del trainer._get_output_dir
        accelerator.wait_for_everyone()
        if not main:
            return
        name = f"{PREFIX}{trainer.state.global_step}"
        if (staging / name).is_dir():
            publish(staging / name, folder / name)
        # else a trainer class that ignores _get_output_dir wrote it in place: is_complete() still guards resuming
        shutil.rmtree(staging, ignore_errors=True)
        _rotate(trainer, folder)

    trainer._save_checkpoint = save_whole
