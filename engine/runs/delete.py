"""Deleting a run folder: only a run folder of the runs folder (what engine.runs.folder lists there), never the run
that is training, and a queued run leaves the queue with its folder. `engine delete --yes` once removed a project
folder elsewhere because it held a config.yaml.

The folder is first renamed to a hidden name in the runs folder (one atomic step: from then on no list, resume or
export finds it), then removed; a removal cut short (a crash, a full disk's I/O error) leaves a hidden
`.deleting-*` folder that the next delete clears, never a half-deleted run in the list.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from engine import settings
from engine.runs import lock as run_lock
from engine.runs import queue as run_queue
from engine.runs.folder import RunFolder, run_by_id

TRASH_PREFIX = ".deleting-"


class RunDeleteRefused(Exception):
    """The run cannot be deleted now; the message is one sentence."""


def run_to_delete(path: Path) -> RunFolder:
    """The run folder at `path`, if it is one of the runs folder's (directly in it, not a link, with a config.yaml);
    else RunDeleteRefused. The folder's own name is not resolved: a link in the runs folder is not a run."""
    path = Path(path)
    root = settings.runs_dir()
    try:
        inside = path.parent.resolve() == root.resolve()
    except (OSError, RuntimeError):  # a loop of links
        inside = False
    run = run_by_id(root, path.name) if inside else None
    if run is None:
        raise RunDeleteRefused(f"{path} is not a run folder in the runs folder ({root}); only runs listed there are "
                               "deleted")
    return run


def delete_run(run: RunFolder) -> None:
    """Delete `run`, a run folder of the runs folder. RunDeleteRefused for anything else and for the active run."""
    run = run_to_delete(run.path)
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
