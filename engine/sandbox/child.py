"""The first code a sandbox child runs: read the job, lock the process down, then hand over to its role.

A child is started by the runner (spawn.py) as `python -I -S -B -X utf8 -c BOOT <engine root> <role>` (-I: no
environment variables, no user site-packages, not the current folder on sys.path; -S: see spawn.site_packages),
in a new session, with a clean environment, its throw-away folder as working directory, stdout/stderr to the
runner and only the pipes of its role. The job arrives on stdin as one JSON object; stdin is then /dev/null, so
input() gets EOF.

Roles: "program" (program_side.py), "judge" (judge_side.py), "probe" (layers.py's run-time detection).

Before anything it was given runs, the child applies, in this order: death with its parent (PR_SET_PDEATHSIG:
nothing outlives a killed trainer), the rlimits (rlimits.py), no capabilities if it runs as root, not dumpable (other
processes of the same user cannot open its /proc files or attach to it), Landlock (landlock.py) and seccomp
(seccomp.py) when the runner's probe found them working. If a layer the runner asked for fails, the child exits
with SETUP_FAILED_EXIT instead of running anything unprotected.
"""

from __future__ import annotations

import json
import os
import signal
import sys

from engine.sandbox import landlock, rlimits, seccomp
from engine.sandbox.kernel import PR_SET_DUMPABLE, PR_SET_PDEATHSIG, drop_capabilities, prctl

SETUP_FAILED_EXIT = 86
SETUP_FAILED_PREFIX = "sandbox setup failed: "


def enter_sandbox(job: dict) -> None:
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != job["parent_pid"]:  # the parent died before the line above took effect
        raise OSError("the runner is gone")
    rlimits.apply(job["limits"])
    if os.geteuid() == 0:
        drop_capabilities()
    prctl(PR_SET_DUMPABLE, 0)
    layers = set(job["layers"])
    if "landlock" in layers:
        landlock.restrict(job["landlock_abi"], job["readable"], [os.getcwd(), os.devnull])
    if "seccomp" in layers:
        seccomp.install()  # last: it refuses calls the steps above make


def probe(job: dict) -> dict:
    """Try each layer in this throw-away process and say what holds here."""
    import socket

    found = {"root": os.geteuid() == 0, "landlock_abi": 0}
    abi, why = landlock.abi_version()
    if abi:
        try:
            landlock.restrict(abi, job["readable"], [os.getcwd()])
            os.listdir("/")
            why = "a Landlock ruleset was accepted but did not hold"
        except PermissionError:
            found["landlock_abi"] = abi
        except OSError as error:
            why = f"Landlock failed ({error.strerror or error})"
    found["landlock"] = why
    why = seccomp.availability()
    if not why:
        try:
            seccomp.install()
            socket.socket().close()
            why = "a seccomp filter was installed but did not hold"
        except PermissionError:
            pass
        except OSError as error:
            why = f"seccomp failed ({error.strerror or error})"
    found["seccomp"] = why
    return found


def main(role: str) -> None:
    job = json.loads(sys.stdin.buffer.read())
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.close(devnull)
    sys.path.remove(sys.argv[1])  # the engine's source tree: imported already, and unreadable from here on
    sys.path.extend(job["site_packages"])
    # Only the role's own modules, and before the sandbox closes the engine's source tree.
    if role == "program":
        from engine.sandbox.program_side import serve as run_role
    elif role == "judge":
        from engine.sandbox.judge_side import judge as run_role
    if role == "probe":
        print(json.dumps(probe(job)), flush=True)
        return
    try:
        enter_sandbox(job)
    except Exception as error:  # never run the program or the tests unprotected
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        os.write(2, f"{SETUP_FAILED_PREFIX}{reason}\n".encode(errors="replace"))
        os._exit(SETUP_FAILED_EXIT)
    run_role(job)
