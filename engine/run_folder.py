"""A run folder is the unit of truth: the trainer writes it, the app and `engine watch` read it.

    runs/<id>/config.yaml     the fully resolved config (re-running it reproduces the run)
              status.json     state running|completed|stopped|failed, step, max_steps, backend, pid, times, error
              events.jsonl    one JSON object per logged step (TRL's metric names + time + VRAM)
              samples.jsonl   a few completions per logged step with their scores and the gold answer
              log.txt         the full log, tracebacks included
              checkpoints/    trainer checkpoints every save_steps (resume starts from the last one)
              adapter/        the LoRA adapter + tokenizer, at the end and when stopped
              eval.json       base vs tuned accuracy and format compliance (engine eval)
              best.json       the checkpoint with the best held-out eval during training (engine/best_checkpoint.py)
              probe.json      the learnability probe's report (engine probe RUN_DIR)
              STOP            created to ask the trainer to stop after the current step
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

ACTIVE_STATES = ("starting", "running")
FINAL_STATES = ("completed", "stopped", "failed")


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
    def eval_path(self) -> Path:
        return self.path / "eval.json"

    @property
    def best_path(self) -> Path:
        return self.path / "best.json"

    @property
    def probe_path(self) -> Path:
        return self.path / "probe.json"

    @property
    def stop_path(self) -> Path:
        return self.path / "STOP"

    # status ----------------------------------------------------------------------------------------------------
    def read_status(self) -> dict:
        try:
            return json.loads(self.status_path.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def write_status(self, **changes) -> dict:
        """Merge `changes` into status.json, atomically (readers never see half a file)."""
        status = {**self.read_status(), **changes, "updated": time.time()}
        tmp = self.status_path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(status, indent=2), encoding="utf-8")
        os.replace(tmp, self.status_path)
        return status

    def state(self) -> str:
        """The recorded state, except that a 'running' run whose process is gone is reported as failed."""
        status = self.read_status()
        state = status.get("state", "unknown")
        if state in ACTIVE_STATES and status.get("pid") and not pid_alive(int(status["pid"])):
            return "failed"
        return state

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
            if path.is_file():
                kept = [r for r in read_jsonl(path) if r.get("step", 0) <= step]
                path.write_text("".join(json.dumps(r, default=_json_default) + "\n" for r in kept), encoding="utf-8")

    def read_events(self) -> list[dict]:
        return read_jsonl(self.events_path)

    def read_samples(self, last: int | None = None) -> list[dict]:
        samples = read_jsonl(self.samples_path)
        return samples[-last:] if last else samples

    def log_tail(self, lines: int = 40) -> str:
        try:
            with self.log_path.open("rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - 64_000))
                return b"\n".join(f.read().splitlines()[-lines:]).decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def last_checkpoint(self) -> Path | None:
        checkpoints = [p for p in self.checkpoints_dir.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()]
        return max(checkpoints, key=lambda p: int(p.name.split("-")[-1]), default=None)

    def request_stop(self) -> None:
        self.stop_path.touch()

    def summary(self) -> dict:
        """What a runs list shows: id, state, step, best and last reward, backend, model, preset."""
        status = self.read_status()
        events = self.read_events()
        rewards = [e["reward"] for e in events if isinstance(e.get("reward"), (int, float))]
        return {"id": self.id, "state": self.state(), "step": status.get("step", 0),
                "max_steps": status.get("max_steps"), "best_reward": max(rewards) if rewards else None,
                "last_reward": rewards[-1] if rewards else None, "backend": status.get("backend"),
                "model": status.get("model"), "preset": status.get("preset"), "started": status.get("started"),
                "error": status.get("error")}


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
    """All whole lines; a half-written last line (the writer is mid-flush) is skipped, not an error."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    records = []
    for line in text.splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent, e.g. the app) counts as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except (FileNotFoundError, IndexError):
        return True


def new_run_folder(preset: str | None, root: Path) -> RunFolder:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = f"{stamp}-{preset or 'custom'}"
    path = root / base
    n = 2
    while path.exists():
        path = root / f"{base}-{n}"
        n += 1
    path.mkdir(parents=True)
    return RunFolder(path)


def list_runs(root: Path) -> list[RunFolder]:
    """Run folders under root, newest first."""
    if not root.is_dir():
        return []
    runs = [RunFolder(p) for p in root.iterdir() if (p / "config.yaml").is_file()]
    return sorted(runs, key=lambda r: r.read_status().get("started") or r.path.stat().st_mtime, reverse=True)
