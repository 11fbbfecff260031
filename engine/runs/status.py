"""status.json as a typed model: the training process is its only writer; everything else reads it through
`RunFolder.read_status()`, which never raises.

A file that cannot be read as a status (not UTF-8, not JSON, not an object, a field of the wrong type, NaN) reads
as state "unreadable" with the reason, `unreadable: status.json: <reason>`, so one corrupt run folder never breaks
a runs list, a launch or the app's start-up.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

WRITTEN_STATES = ("starting", "running", "completed", "stopped", "failed")
ACTIVE_STATES = ("starting", "running")
FINAL_STATES = ("completed", "stopped", "failed")
# Read-side states: "unknown" before the trainer wrote anything, "unreadable" for a corrupt file.
State = Literal["starting", "running", "completed", "stopped", "failed", "unknown", "unreadable"]

MAX_STATUS_BYTES = 1 << 20  # a real status is about 1 KB; anything this big is not ours
ENDED_UNEXPECTEDLY = ("the trainer process ended unexpectedly (killed, out of memory or the machine restarted); "
                      "resume the run to continue from its last checkpoint")
CRASHED = "the trainer process crashed ({last_word}); resume the run to continue from its last checkpoint"


class RunStatus(BaseModel):
    # Strict: a pid of "abc", a step of true or a NaN time is a corrupt file, not something to coerce.
    model_config = ConfigDict(extra="ignore", strict=True, allow_inf_nan=False, frozen=True)

    state: State = "unknown"
    step: int = Field(0, ge=0)
    max_steps: int | None = Field(None, ge=0)
    backend: str | None = None
    model: str | None = None
    preset: str | None = None
    # Who writes this run: pid, the process's create time (psutil) and a hash of its command line, so a pid reused
    # by another process after a restart is never mistaken for our trainer (engine/runs/trainer_process.py).
    pid: int | None = Field(None, gt=0)
    pid_create_time: float | None = None
    pid_command: str | None = None
    started: float | None = None
    finished: float | None = None
    updated: float | None = None
    error: str | None = None
    checkpoint: str | None = Field(None, description="The checkpoint this session resumed from.")
    gpus: list[int] | None = Field(None, description="The run's GPUs (nvidia-smi's numbers), training ones first.")
    # The ETA's pace clock (engine/runs/progress.py).
    session_started: float | None = None
    session_start_step: int = Field(0, ge=0)
    pace_from_time: float | None = None
    pace_from_step: int | None = Field(None, ge=0)

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES


def unreadable(file: str, reason: str) -> RunStatus:
    return RunStatus(state="unreadable", error=f"unreadable: {file}: {reason}")


def parse_status(path: Path) -> RunStatus:
    """The status in `path`; a missing file is state "unknown", anything unusable state "unreadable"."""
    try:
        size = path.stat().st_size
        if not path.is_file():
            return unreadable(path.name, "not a regular file")
        if size > MAX_STATUS_BYTES:
            return unreadable(path.name, f"{size} bytes, far larger than a status file")
        raw = path.read_bytes()
    except FileNotFoundError:
        return RunStatus()
    except OSError as error:
        return unreadable(path.name, error.strerror or type(error).__name__)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return unreadable(path.name, f"not UTF-8 text (byte {error.start})")
    if not text.strip():
        return unreadable(path.name, "empty")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        return unreadable(path.name, f"not valid JSON ({error.msg} at line {error.lineno})")
    except RecursionError:
        return unreadable(path.name, "nested too deeply")
    if not isinstance(data, dict):
        return unreadable(path.name, f"a JSON {type(data).__name__}, not an object")
    try:
        status = RunStatus.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "status"
        got = repr(first.get("input"))
        got = got if len(got) <= 40 else got[:37] + "..."
        return unreadable(path.name, f"{field}: {first['msg'].lower()} (got {got})")
    if status.state not in WRITTEN_STATES:  # "unknown"/"unreadable" are what a reader says, never what is written
        return unreadable(path.name, f"state {status.state!r} is not one a trainer writes")
    return status
