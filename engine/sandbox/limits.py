"""The limits one sandboxed job runs under.

The wall clock, the output caps and the work folder's size are enforced by the runner (the parent), which watches
the children; CPU time, address space, file size, open files and core dumps are rlimits each child sets on itself
before it runs anything it was given (rlimits.py). Process count: none at all (rlimits.py says why).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields


@dataclass(frozen=True)
class Limits:
    wall_seconds: float = 10.0  # the whole job (load the program, run every test), then both processes are killed
    cpu_seconds: int = 10  # CPU time per process (SIGXCPU, then SIGKILL a second later)
    memory_mb: int = 1024  # address space per process: a memory bomb gets MemoryError, not the machine's RAM
    output_kb: int = 256  # stdout + stderr per process; past it the process is killed (read with a cap, never kept)
    file_size_mb: int = 16  # the largest file a process may write
    disk_mb: int = 64  # all files in the job's throw-away folder together (the runner checks it 4 times a second)
    open_files: int = 64  # file descriptors per process

    def __post_init__(self):
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise ValueError(f"Limits.{field.name} must be a positive number, not {value!r}.")

    def as_dict(self) -> dict:
        return asdict(self)
