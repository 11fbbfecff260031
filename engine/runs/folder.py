"""A run folder is the unit of truth: the trainer writes it, the app and `engine watch` read it.

    runs/<id>/config.yaml     the fully resolved config (re-running it reproduces the run)
              status.json     a RunStatus (engine/runs/status.py); written only by the training process
              events.jsonl    one JSON object per logged step (TRL's metric names + time + VRAM)
              samples.jsonl   a few completions per logged step with their scores and the gold answer
              log.txt         the full log, tracebacks included
              checkpoints/    trainer checkpoints every save_steps, each whole or absent (engine/runs/checkpoints.py)
              adapter/        the LoRA adapter + tokenizer, at the end and when stopped
              eval.json       base vs tuned accuracy and format compliance (engine eval)
              best.json       the checkpoint with the best held-out eval during training (engine/best_checkpoint.py)
              probe.json      the learnability probe's report (engine probe RUN_DIR)
              tensorboard/    TensorBoard event files: the metrics and each logged step's samples (train.report_to)
              <id>-adapter.zip, merged/   what `engine export` makes
              STOP            created to ask the trainer to stop after the current step

RunFolder is the one reader of these facts; its reads never raise for a corrupt or half-written file, so one bad
run folder cannot break a runs list, a launch or the app's start-up.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from engine.runs import checkpoints, trainer_process
from engine.runs.status import (
    ACTIVE_STATES,
    CRASHED,
    ENDED_UNEXPECTEDLY,
    FINAL_STATES,
    WRITTEN_STATES,
    RunStatus,
    parse_status,
    unreadable,
)

__all__ = ["ACTIVE_STATES", "FINAL_STATES", "RunFolder", "RunStatus", "UnreadableFile", "list_runs",
           "new_run_folder", "read_jsonl", "run_by_id"]

RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
# The last word of a process that dies in native code: a CUDA check's "CUDA error (file:line): ...", faulthandler's
# "Fatal Python error: Segmentation fault", C++'s "terminate called ..." and its "  what():  ..." line.
_NATIVE_CRASH = re.compile(r"^\s*(CUDA error \(.+|Fatal Python error: .+|terminate called .+|what\(\): .+)$")


class UnreadableFile(Exception):
    """A run-folder file that exists but cannot be read; the message is the reason."""


@dataclass(frozen=True)
class RunFolder:
    path: Path

    @property
    def id(self) -> str:
        return self.path.name

    # paths -----------------------------------------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.path / "config.yaml"

    @property
    def status_path(self) -> Path:
        return self.path / "status.json"

    @property
    def events_path(self) -> Path:
        return self.path / "events.jsonl"

    @property
    def samples_path(self) -> Path:
        return self.path / "samples.jsonl"

    @property
    def log_path(self) -> Path:
        return self.path / "log.txt"

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / "checkpoints"

    @property
    def adapter_dir(self) -> Path:
        return self.path / "adapter"

    @property
    def adapter_zip(self) -> Path:
        """Where `engine export` puts the zipped adapter."""
        return self.path / f"{self.id}-adapter.zip"

    @property
    def eval_path(self) -> Path:
        return self.path / "eval.json"

    @property
    def best_path(self) -> Path:
        return self.path / "best.json"

    @property
    def probe_path(self) -> Path:
        return self.path / "probe.json"

    @property
    def tensorboard_dir(self) -> Path:
        """TensorBoard's event files (train.report_to: tensorboard; engine/tracking.py)."""
        return self.path / "tensorboard"

    @property
    def stop_path(self) -> Path:
        return self.path / "STOP"

    # what is there ---------------------------------------------------------------------------------------------
    @property
    def has_adapter(self) -> bool:
        return (self.adapter_dir / "adapter_config.json").is_file()

    # status ----------------------------------------------------------------------------------------------------
    def read_status(self) -> RunStatus:
        """status.json as the trainer wrote it; never raises (see engine/runs/status.py)."""
        return parse_status(self.status_path)

    def write_status(self, **changes) -> RunStatus:
        """Merge `changes` into status.json, atomically (readers never see half a file). The training process is
        the only caller; a failed write (a full disk) leaves no temporary file behind."""
        current = self.read_status()
        base = current.model_dump() if current.state in WRITTEN_STATES else {}
        status = RunStatus.model_validate({**base, **changes, "updated": time.time()})
        tmp = self.status_path.with_name(f".status.json.{os.getpid()}.tmp")
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(status.model_dump_json(indent=2))
            os.replace(tmp, self.status_path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return status

    def trainer(self, status: RunStatus | None = None):
        """The live trainer process of this run (a psutil.Process), or None: not running, dead, or a foreign process
        that reuses the recorded pid."""
        status = status or self.read_status()
        if not status.active:
            return None
        return trainer_process.find(status.pid, status.pid_create_time, status.pid_command)

    def status(self) -> RunStatus:
        """What the run is now: the recorded status, except that a starting or running run whose trainer is gone
        reads failed ("ended unexpectedly"), and a finished run with an unreadable events file reads unreadable."""
        status = self.read_status()
        if status.active:
            if self.trainer(status) is None:
                last_word = self.native_crash_line()
                error = CRASHED.format(last_word=last_word) if last_word else ENDED_UNEXPECTEDLY
                return status.model_copy(update={"state": "failed", "error": error})
            return status
        if status.state != "unreadable":
            try:
                read_jsonl(self.events_path)
            except UnreadableFile as error:
                return unreadable(self.events_path.name, str(error))
        return status

    def state(self) -> str:
        return self.status().state

    @property
    def is_active(self) -> bool:
        """Starting or running, with its own trainer process alive (verified by identity, not just the pid)."""
        return self.trainer() is not None

    # streams ---------------------------------------------------------------------------------------------------
    def append_event(self, event: dict) -> None:
        _append_jsonl(self.events_path, event)

    def append_samples(self, samples: list[dict]) -> None:
        for sample in samples:
            _append_jsonl(self.samples_path, sample)

    def forget_after(self, step: int) -> None:
        """Drop the events and samples logged after `step`: a run killed after its last checkpoint logged steps that
        the resumed run will log again, and the curves should show each step once."""
        for path in (self.events_path, self.samples_path):
            try:
                records = read_jsonl(path)
            except UnreadableFile:
                continue  # left as it is: the views say it is unreadable
            kept = [r for r in records if _step_of(r) <= step]
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_text("".join(json.dumps(r, default=_json_default) + "\n" for r in kept), encoding="utf-8")
            os.replace(tmp, path)

    def read_events(self) -> list[dict]:
        """The logged steps; [] for a file that cannot be read (status() says why)."""
        try:
            return read_jsonl(self.events_path)
        except UnreadableFile:
            return []

    def read_samples(self, last: int | None = None) -> list[dict]:
        try:
            samples = read_jsonl(self.samples_path)
        except UnreadableFile:
            return []
        return samples[-last:] if last else samples

    def log_tail(self, lines: int = 40) -> str:
        try:
            with self.log_path.open("rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - 64_000))
                return b"\n".join(f.read().splitlines()[-lines:]).decode("utf-8", "replace")
        except OSError:
            return ""

    def native_crash_line(self) -> str | None:
        """The line a trainer that died in native code left last in its log, or None. No Python is left to write
        status.json then; a CUDA extension's check prints and exits (flash-attention in vLLM did, on the H200),
        faulthandler prints on a segfault, C++ prints what() before it aborts."""
        said = [line.strip() for line in self.log_tail(200).splitlines() if _NATIVE_CRASH.match(line)]
        return said[-1][:300] if said else None

    # checkpoints -----------------------------------------------------------------------------------------------
    def last_checkpoint(self) -> Path | None:
        """The newest complete checkpoint (partial ones, from a kill or a full disk, are passed over)."""
        complete = checkpoints.complete_checkpoints(self.checkpoints_dir)
        return complete[-1] if complete else None

    def request_stop(self) -> None:
        self.stop_path.touch()

    def summary(self) -> dict:
        """What a runs list shows: id, state, step, best and last reward, backend, model, preset, error."""
        status = self.status()
        events = self.read_events()
        rewards = [e["reward"] for e in events if _is_number(e.get("reward"))]
        return {"id": self.id, "state": status.state, "step": status.step, "max_steps": status.max_steps,
                "best_reward": max(rewards) if rewards else None, "last_reward": rewards[-1] if rewards else None,
                "backend": status.backend, "model": status.model, "preset": status.preset,
                "started": status.started, "error": status.error}


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)


def _step_of(record: dict) -> float:
    step = record.get("step", 0)
    return step if _is_number(step) else 0


def _append_jsonl(path: Path, record: dict) -> None:
    # One write of one line, flushed at once: a reader polling the file sees whole lines as they happen.
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(record, default=_json_default) + "\n")
        f.flush()


def _json_default(value):
    if hasattr(value, "item"):  # numpy / torch scalars
        return value.item()
    return str(value)


def read_jsonl(path: Path) -> list[dict]:
    """Every line that is a JSON object. A half-written last line (the writer is mid-flush) or a line that is not an
    object is skipped; a missing file is empty. UnreadableFile for a file that is not UTF-8 or cannot be opened."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as error:
        raise UnreadableFile(error.strerror or type(error).__name__) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UnreadableFile(f"not UTF-8 text (byte {error.start})") from None
    records = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def new_run_folder(preset: str | None, root: Path) -> RunFolder:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = f"{stamp}-{preset or 'custom'}"
    path = root / base
    n = 2
    while True:
        try:
            path.mkdir(parents=True)
            return RunFolder(path)
        except FileExistsError:  # two launches in the same second
            path = root / f"{base}-{n}"
            n += 1


def _is_run_dir(path: Path) -> bool:
    try:
        return not path.is_symlink() and path.is_dir() and (path / "config.yaml").is_file()
    except OSError:
        return False


def run_by_id(root: Path, run_id) -> RunFolder | None:
    """The run folder `run_id` directly under `root`, or None: an id from a browser is a name, never a path."""
    if not isinstance(run_id, str) or not RUN_ID.fullmatch(run_id):
        return None
    path = Path(root) / run_id
    return RunFolder(path) if _is_run_dir(path) else None


def list_runs(root: Path) -> list[RunFolder]:
    """Run folders under root, newest first."""
    try:
        runs = [RunFolder(p) for p in Path(root).iterdir() if RUN_ID.fullmatch(p.name) and _is_run_dir(p)]
    except OSError:
        return []

    def started(run: RunFolder) -> float:
        recorded = run.read_status().started
        if recorded is not None:
            return recorded
        try:
            return run.path.stat().st_mtime
        except OSError:
            return 0.0

    return sorted(runs, key=started, reverse=True)
