"""Is this pid our trainer for this run?

A pid alone says little: after a restart (container, machine) the pid in an old status.json may belong to any
process. The trainer records three things at start (pid, the process's create time and a hash of its command
line), and a process is taken for that trainer only when all three still match. A dead or foreign pid means the
run ended unexpectedly: it never blocks a launch and is never signalled.
"""

from __future__ import annotations

import hashlib

import psutil

CREATE_TIME_TOLERANCE_S = 0.05  # psutil derives create time from clock ticks since boot; it is stable per process


def command_hash(command: list[str]) -> str:
    return hashlib.sha256("\0".join(command).encode("utf-8", "surrogateescape")).hexdigest()[:16]


def own_identity() -> dict:
    """What the trainer writes into status.json about itself."""
    me = psutil.Process()
    return {"pid": me.pid, "pid_create_time": me.create_time(), "pid_command": command_hash(me.cmdline())}


def identity_of(pid: int | None) -> dict | None:
    """The same three facts for another live process (tests, the lock's holder file)."""
    try:
        process = psutil.Process(pid)
        return {"pid": pid, "pid_create_time": process.create_time(), "pid_command": command_hash(process.cmdline())}
    except (psutil.Error, ValueError, TypeError):
        return None


def find(pid: int | None, create_time: float | None, command: str | None) -> psutil.Process | None:
    """The live process with this identity, or None: gone, a zombie, or another process that got the same pid."""
    if not pid or create_time is None or not command:
        return None  # a status without identity cannot be verified, so it is never trusted
    try:
        process = psutil.Process(pid)
        if abs(process.create_time() - create_time) > CREATE_TIME_TOLERANCE_S:
            return None
        if process.status() == psutil.STATUS_ZOMBIE:  # exited, not yet reaped by its parent (e.g. the app)
            return None
        if command_hash(process.cmdline()) != command:
            return None
        return process
    except (psutil.Error, ValueError, TypeError, OverflowError):  # a corrupt status may hold any JSON value
        return None
