"""Problems: what a user can get wrong, one sentence each, with the key it is about (a config key, `--set`, a
file). Everything that checks a user's input says it with these; nothing here imports the rest of the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Problem:
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}" if self.key else self.message


def error_sentence(error: BaseException) -> str:
    """'TypeName: first line of the message': what a status.json or the app shows of an unexpected error."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}".strip().rstrip(":")


class ConfigError(Exception):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def short_repr(value, limit: int = 60) -> str:
    """A value as a problem sentence quotes it: a 100k-character name or a 5000-digit number is cut."""
    try:
        text = repr(value)
    except ValueError:  # an int too long to print (Python's 4300-digit limit)
        return "a number with thousands of digits"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def file_problem(path: Path, what: str, limit: int | None = None) -> str | None:
    """Why `path` cannot be read as a `what` file (one sentence), or None. Never opens it: a FIFO would block and
    /dev/zero never ends."""
    import stat

    try:
        info = path.stat()
    except FileNotFoundError:
        return f"{what} {short_repr(str(path), 120)[1:-1]} does not exist"
    except (OSError, ValueError) as e:  # a name too long, a NUL byte, no permission
        return f"{what} {short_repr(str(path), 120)[1:-1]} cannot be read ({getattr(e, 'strerror', None) or e})"
    if stat.S_ISDIR(info.st_mode):
        return f"{path} is a folder, not a {what}; choose a file"
    if not stat.S_ISREG(info.st_mode):
        return f"{path} is not a regular file but a device, pipe or socket; choose a {what}"
    if limit is not None and info.st_size > limit:
        return f"{path.name} is {info.st_size / 2**20:.1f} MiB; a {what} may be at most {limit / 2**20:.0f} MiB"
    return None
