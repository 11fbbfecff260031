"""A sandbox child's share of the limits (limits.py), set on itself with setrlimit. Kept apart from the Limits
class so that a child, which starts for every job, does not import dataclasses (a third of its start-up)."""

from __future__ import annotations

import os
import resource

MIB = 1024 * 1024


def _lower(limit: int, value: int) -> None:
    """Set soft and hard limit to `value`, never above a hard limit the parent already had (raising is refused)."""
    _, hard = resource.getrlimit(limit)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(limit, (value, value))


def apply(limits: dict) -> None:
    """In the child, before the program or the tests run; `limits` is Limits.as_dict()."""
    soft_cpu = int(limits["cpu_seconds"] + 0.999)
    _, hard_cpu = resource.getrlimit(resource.RLIMIT_CPU)
    # SIGXCPU at the soft limit; a program that ignores it is killed by the hard limit one second later.
    hard = soft_cpu + 1 if hard_cpu == resource.RLIM_INFINITY else min(soft_cpu + 1, hard_cpu)
    resource.setrlimit(resource.RLIMIT_CPU, (min(soft_cpu, hard), hard))
    _lower(resource.RLIMIT_AS, int(limits["memory_mb"] * MIB))
    _lower(resource.RLIMIT_FSIZE, int(limits["file_size_mb"] * MIB))
    _lower(resource.RLIMIT_NOFILE, int(limits["open_files"]))
    _lower(resource.RLIMIT_CORE, 0)
    # Process count. RLIMIT_NPROC counts every process and thread of the *user* (the trainer's dozens of threads
    # included) and does not apply to root at all, so it cannot mean "N processes for this program". The sandbox
    # allows none: seccomp refuses fork/clone for root and non-root alike (seccomp.py); for a non-root user a limit
    # of 1 refuses them a second time (the user always has more than one process), which also covers a kernel
    # without seccomp.
    if os.geteuid() != 0:
        _lower(resource.RLIMIT_NPROC, 1)
