"""A child process that is never left behind: `engine train`'s vLLM server and its training ranks.

Each child starts in a session (and process group) of its own, so one signal reaches everything it started (vLLM's
engine core, torchrun's ranks) and a Ctrl-C in the terminal reaches only `engine train`, which stops them in order.
They are stopped as a group: SIGTERM, a grace period, then SIGKILL. They are stopped at exit (atexit) however
`engine train` ends, and on Linux they get SIGTERM from the kernel should `engine train` itself be killed (kill -9)
before it could stop them (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import time

PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True) if sys.platform == "linux" else None


def _die_with_parent(parent: int):
    def set_death_signal():  # runs in the child between fork and exec: nothing here may allocate much or lock
        if _LIBC is not None:
            _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os._exit(1)
    return set_death_signal


class ChildGroup:
    """One child command in its own process group."""

    def __init__(self, name: str):
        self.name = name
        self.process: subprocess.Popen | None = None

    def start(self, argv, env: dict[str, str], stdout, cwd=None) -> None:
        self.process = subprocess.Popen(list(argv), env=env, stdout=stdout, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, cwd=cwd, start_new_session=True,
                                        preexec_fn=_die_with_parent(os.getpid()))
        atexit.register(self.stop, 5.0)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def exit_code(self) -> int | None:
        return self.process.poll() if self.process else None

    def signal_group(self, signum: int) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signum)

    def wait(self, timeout: float | None = None) -> int | None:
        if self.process is None:
            return None
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, grace_s: float = 30.0) -> None:
        """SIGTERM to the whole group, SIGKILL to whatever is left after `grace_s`. Idempotent."""
        if self.process is None:
            return
        if self.alive:
            self.signal_group(signal.SIGTERM)
            self.wait(grace_s)
        # The leader may be gone while its children (vLLM's engine core, torchrun's ranks) are not.
        self.signal_group(signal.SIGKILL)
        self.wait(5.0)
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)


def wait_until(condition, timeout_s: float, interval_s: float = 0.5) -> bool:
    """Poll `condition` until it holds (True) or `timeout_s` passes (False)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval_s)
    return condition()
