"""How the runner starts a sandbox child: a fresh interpreter (spawned, never a fork of the trainer's memory), in a
session of its own, with an environment that holds nothing of the parent's (no tokens, passwords, HF_* or
GRPO_STUDIO_* settings) and only the file descriptors its role needs."""

from __future__ import annotations

import functools
import json
import os
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

ENGINE_ROOT = str(Path(__file__).resolve().parents[2])  # the folder holding the `engine` package
BOOT = "import sys; sys.path.insert(0, sys.argv[1]); from engine.sandbox.child import main; main(sys.argv[2])"


SYSTEM_LIBRARIES = ("/usr/lib", "/usr/lib64", "/lib", "/lib64", "/usr/local/lib", "/usr/share/zoneinfo",
                    "/etc/ld.so.cache", "/etc/localtime", "/dev/urandom", "/dev/zero")


@functools.cache
def site_packages() -> tuple[str, ...]:
    """This interpreter's site-packages folders. Children start with -S (no `site`: its .pth files, an editable
    install's finder among them, cost a tenth of a second per start) and put these on sys.path themselves, so a
    program can still import numpy."""
    return tuple(path for path in site.getsitepackages() if os.path.isdir(path))


@functools.cache
def readable_paths() -> tuple[str, ...]:
    """What a child may read under Landlock: this interpreter's standard library and site-packages (never the
    folders that .pth files add, such as an editable install's source tree) and the system libraries."""
    paths = {sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    paths.update(site_packages(), SYSTEM_LIBRARIES)
    return tuple(sorted(path for path in paths if os.path.exists(path)))


def clean_environment(folder: str) -> dict[str, str]:
    # One thread for numeric libraries: a child may start none (seccomp), and OpenBLAS would try at import.
    return {"PATH": "/usr/bin:/bin", "HOME": folder, "TMPDIR": folder, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
            "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def spawn(role: str, folder: str, pass_fds: tuple[int, ...] = ()) -> subprocess.Popen:
    """Start a child of `role` in `folder`; its stdout and stderr come back on one pipe; send it its job next."""
    return subprocess.Popen([sys.executable, "-I", "-S", "-B", "-X", "utf8", "-c", BOOT, ENGINE_ROOT, role],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=folder,
                            env=clean_environment(folder), pass_fds=pass_fds, close_fds=True,
                            start_new_session=True)


def job_basics() -> dict:
    """What every child's job holds besides its role's part."""
    return {"parent_pid": os.getpid(), "site_packages": list(site_packages()), "readable": list(readable_paths())}


def send_job(process: subprocess.Popen, job: dict) -> None:
    """The job on the child's stdin, which the child reads to the end before anything else."""
    try:
        process.stdin.write(json.dumps({**job_basics(), **job}).encode())
        process.stdin.close()
    except (BrokenPipeError, ValueError):  # the child is already gone: its outcome will say so
        pass
