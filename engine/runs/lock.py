"""One training run at a time on this machine, whoever starts it (the app, the CLI, two browser tabs).

`engine train` takes an OS-level lock (filelock: flock on `<runs>/.train.lock`) before it writes anything and holds
it until the process ends; the OS releases it when the process dies, however it dies, so a crash never leaves a
stale lock. Next to it, `<runs>/.train-holder.json` names the holder's run and process, so a refusal can say which
run is active. A future run queue sits on this same lock.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from filelock import FileLock, Timeout

from engine.runs import trainer_process

LOCK_NAME = ".train.lock"
HOLDER_NAME = ".train-holder.json"
# A trainer waits this long for the lock: two launches in the same second should not both lose to each other.
ACQUIRE_TIMEOUT_S = 1.0


class RunLockBusy(Exception):
    """Another training run holds the lock; the message is one sentence naming it."""


def busy_sentence(run_id: str | None, pid: int | None) -> str:
    what = f"Run {run_id} is still training" if run_id else "Another training run is starting"
    return (f"{what}{f' (pid {pid})' if pid else ''}; one training run at a time fits on one GPU, so stop it or "
            "wait until it finishes.")


class RunLock:
    """The lock of the runs folder `root`, taken by a training process for its whole life."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._lock = FileLock(str(self.root / LOCK_NAME), timeout=ACQUIRE_TIMEOUT_S)

    def acquire(self, run_id: str | None = None) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire()
        except Timeout:
            holder = read_holder(self.root)
            raise RunLockBusy(busy_sentence(holder.get("run"), holder.get("pid"))) from None
        self.name_run(run_id)

    def name_run(self, run_id: str | None) -> None:
        """Record which run holds the lock (a CLI run learns its folder name only after the checks)."""
        holder = {"run": run_id, **trainer_process.own_identity()}
        path = self.root / HOLDER_NAME
        tmp = path.with_name(f"{HOLDER_NAME}.{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps(holder), encoding="utf-8")
            os.replace(tmp, path)
        except OSError:  # a full disk: the lock still holds; only the refusal's wording loses the run's name
            tmp.unlink(missing_ok=True)

    def release(self) -> None:
        if self._lock.is_locked:
            (self.root / HOLDER_NAME).unlink(missing_ok=True)
            self._lock.release(force=True)


def read_holder(root: Path) -> dict:
    try:
        holder = json.loads((Path(root) / HOLDER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}


def active_holder(root: Path) -> dict | None:
    """The holder of the lock if a live trainer holds it (checked by process identity, without touching the lock,
    so asking never gets in a launching trainer's way); None when no training is running."""
    holder = read_holder(root)
    alive = trainer_process.find(holder.get("pid"), holder.get("pid_create_time"), holder.get("pid_command"))
    return holder if alive is not None else None
