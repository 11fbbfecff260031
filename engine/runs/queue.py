"""The run queue: a run launched while another one trains waits here, and queued runs start one after another.

    <runs>/.queue.json   {"runs": ["<id>", ...]}: the order; each id a run folder that holds only its config.yaml
    <runs>/.queue.lock   held for the moment of one change (add, move, cancel, take the next)
    <runs>/.queue.log    what `queue next` said before it had a run to log into (e.g. "the queue is empty")
    <runs>/.queue-hold   automatic starts are held (the app's container is stopping); `queue next` by hand ignores it

Who starts the next run: whoever finds that no run is training. The trainer that just ended (`engine train`, once it
has released the one-run lock), the app when it starts and every few seconds while it runs, and a person with
`python -m engine queue next`. Each of them only starts `python -m engine queue next`, and that process takes the
one-run lock (engine/runs/lock.py) before it takes the head of the queue: two starters never start two runs, as the
second finds the lock held and leaves the queue alone. A run is taken off the queue only by the process that will
train it, so a starter that dies, or loses that race, never loses a queued run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

from filelock import FileLock

from engine.config import RunConfig
from engine.runs import lock as run_lock
from engine.runs.folder import RunFolder, new_run_folder, run_by_id

QUEUE_NAME = ".queue.json"
LOCK_NAME = ".queue.lock"
LOG_NAME = ".queue.log"
HOLD_NAME = ".queue-hold"
LOCK_TIMEOUT_S = 10.0  # a change holds the lock for milliseconds; this long means a stuck process
MAX_QUEUED = 100  # a queue longer than this is a mistake (or a script gone wrong), not a plan

_starter: subprocess.Popen | None = None  # the `queue next` this process started last, while it lives
_starter_lock = threading.Lock()


class QueueError(Exception):
    """A queue change that cannot be made; the message is one sentence."""


def _lock(root: Path) -> FileLock:
    root.mkdir(parents=True, exist_ok=True)
    return FileLock(str(root / LOCK_NAME), timeout=LOCK_TIMEOUT_S)


def _is_waiting(run: RunFolder | None) -> bool:
    """A queued run's folder: there, and never started (the trainer writes status.json first thing)."""
    return run is not None and not run.status_path.exists()


def queued_ids(root: Path) -> list[str]:
    """The queue, first to start first. A damaged file reads as an empty queue (its runs stay listed as runs that
    never started, to be deleted or launched again); ids whose folder is gone or has started are passed over."""
    try:
        data = json.loads((Path(root) / QUEUE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return []
    ids = data.get("runs") if isinstance(data, dict) else None
    if not isinstance(ids, list):
        return []
    seen: list[str] = []
    for run_id in ids:
        if run_id not in seen and _is_waiting(run_by_id(root, run_id)):
            seen.append(run_id)
    return seen


def position(root: Path, run_id: str) -> int | None:
    """1 for the run that starts next; None when the run is not queued."""
    ids = queued_ids(root)
    return ids.index(run_id) + 1 if run_id in ids else None


def _write(root: Path, ids: list[str]) -> None:
    path = Path(root) / QUEUE_NAME
    tmp = path.with_name(f"{QUEUE_NAME}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps({"runs": ids}), encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def add(root: Path, config: RunConfig) -> RunFolder:
    """A new run folder holding the config, last in the queue."""
    root = Path(root)
    with _lock(root):
        ids = queued_ids(root)
        if len(ids) >= MAX_QUEUED:
            raise QueueError(f"{MAX_QUEUED} runs are queued already; cancel some before adding more")
        run = new_run_folder(config.preset, root)
        try:
            config.save(run.config_path)
            _write(root, ids + [run.id])
        except BaseException:
            shutil.rmtree(run.path, ignore_errors=True)
            raise
    return run


def append(root: Path, run: RunFolder) -> None:
    """Queue a run folder that exists already and never started (a launch that lost the race to another start)."""
    with _lock(Path(root)):
        ids = queued_ids(root)
        if run.id not in ids:
            _write(root, ids + [run.id])


def move(root: Path, run_id: str, offset: int) -> int:
    """Move a queued run earlier (offset < 0) or later; returns its new position."""
    with _lock(Path(root)):
        ids = queued_ids(root)
        if run_id not in ids:
            raise QueueError(f"run {run_id} is not in the queue (it has started, or was cancelled)")
        old = ids.index(run_id)
        new = max(0, min(len(ids) - 1, old + offset))
        ids.insert(new, ids.pop(old))
        _write(root, ids)
    return new + 1


def cancel(root: Path, run_id: str) -> None:
    """Take a queued run off the queue and delete its folder (it holds only its config)."""
    root = Path(root)
    with _lock(root):
        ids = queued_ids(root)
        if run_id not in ids:
            raise QueueError(f"run {run_id} is not in the queue (it has started, or was cancelled)")
        ids.remove(run_id)
        _write(root, ids)
        shutil.rmtree(root / run_id, ignore_errors=True)


def take_next(root: Path) -> RunFolder | None:
    """Take the first queued run off the queue, for training it now. Only a process holding the one-run lock calls
    this (`engine queue next`)."""
    with _lock(Path(root)):
        ids = queued_ids(root)
        if not ids:
            return None
        _write(root, ids[1:])
    return RunFolder(Path(root) / ids[0])


# ---------------------------------------------------------------------------------------------------------------
# Starting the next run

def hold(root: Path) -> None:
    """Hold automatic starts: the app's container is stopping, and a run started now would be killed with it."""
    Path(root).mkdir(parents=True, exist_ok=True)
    (Path(root) / HOLD_NAME).touch()


def release_hold(root: Path) -> None:
    (Path(root) / HOLD_NAME).unlink(missing_ok=True)


def is_held(root: Path) -> bool:
    return (Path(root) / HOLD_NAME).exists()


def start_next(root: Path, env: dict[str, str] | None = None) -> subprocess.Popen | None:
    """Start `python -m engine queue next` in its own session when runs are queued, none is training, starts are not
    held, and the one this process started last is not still starting (or training). Returns the process, if one was
    started. Whether it trains anything is the one-run lock's decision, not this function's."""
    global _starter
    root = Path(root)
    with _starter_lock:
        if not queued_ids(root) or is_held(root) or run_lock.active_holder(root) is not None:
            return None
        if _starter is not None and _starter.poll() is None:
            return None
        with open(root / LOG_NAME, "a", encoding="utf-8") as log:
            _starter = subprocess.Popen([sys.executable, "-m", "engine", "queue", "next"], stdout=log,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                                        env=env, cwd=os.getcwd())
        # Reaped when it ends, so that a parent that lives on (the app) keeps no zombie.
        threading.Thread(target=_starter.wait, daemon=True).start()
        return _starter
