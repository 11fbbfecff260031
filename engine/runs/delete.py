"""Deleting a run folder: never the run that is training, and a queued run leaves the queue with its folder.

The folder is first renamed to a hidden name in the runs folder (one atomic step: from then on no list, resume or
export finds it), then removed; a removal cut short (a crash, a full disk's I/O error) leaves a hidden
`.deleting-*` folder that the next delete clears, never a half-deleted run in the list.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from engine.runs import lock as run_lock
from engine.runs import queue as run_queue
from engine.runs.folder import RunFolder

TRASH_PREFIX = ".deleting-"


class RunDeleteRefused(Exception):
    """The run cannot be deleted now; the message is one sentence."""


def delete_run(run: RunFolder) -> None:
    """Delete `run` (a folder directly in the runs folder). RunDeleteRefused for the active run."""
    root = run.path.parent
    holder = run_lock.active_holder(root)
    if run.is_active or (holder is not None and holder.get("run") == run.id):
        raise RunDeleteRefused(f"run {run.id} is training; stop it first, then delete it")
    if run_queue.position(root, run.id) is not None:
        try:
            run_queue.cancel(root, run.id)
            return
        except run_queue.QueueError:  # it started a moment ago
            raise RunDeleteRefused(f"run {run.id} has just started training; stop it first, then delete it") \
                from None
    trash = root / f"{TRASH_PREFIX}{run.id}-{os.getpid()}"
    try:
        os.rename(run.path, trash)
    except FileNotFoundError:
        return  # deleted already (another tab, another process)
    except OSError as error:
        raise RunDeleteRefused(f"run {run.id} cannot be deleted ({error.strerror or error})") from None
    shutil.rmtree(trash, ignore_errors=True)
    clear_leftovers(root)


def clear_leftovers(root: Path) -> None:
    """Folders an earlier delete renamed but did not finish removing."""
    try:
        leftovers = [p for p in Path(root).iterdir() if p.name.startswith(TRASH_PREFIX) and not p.is_symlink()]
    except OSError:
        return
    for folder in leftovers:
        shutil.rmtree(folder, ignore_errors=True)
