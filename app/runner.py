"""Launching, stopping and resuming training runs, and running eval/export, as `python -m engine` subprocesses.

A run's process is started in its own session, so it outlives the app (an app restart re-attaches to it through
the run folder) and Gradio's Ctrl-C does not reach it. Its stdout and stderr go to the run's log.txt in append
mode (the engine sees that and does not write the log twice). One training run at a time: a launch or resume
while another run is starting or running with a live process is refused.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from engine import settings
from engine.config import RunConfig
from engine.run_folder import ACTIVE_STATES, RunFolder, list_runs, new_run_folder, pid_alive

from app import strings

STOP_GRACE_S = 60  # after a STOP file, how long a step may take before the process gets SIGTERM
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b:")
_launch_lock = threading.Lock()  # two clicks (or two browser tabs) must not both pass the one-run check


class RunnerError(Exception):
    """A refusal or failure the user can act on; the message is one sentence."""


# ---------------------------------------------------------------------------------------------------------------
# Processes

def engine_command(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "engine", *arguments]


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"  # log.txt shows progress as it happens
    repo = str(settings.REPO_ROOT)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (repo, env.get("PYTHONPATH", "")) if p)
    return env


def _spawn(arguments: list[str], log_path: Path) -> subprocess.Popen:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a", encoding="utf-8") as log:
        process = subprocess.Popen(engine_command(*arguments), stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True, env=subprocess_env(),
                                   cwd=os.getcwd())
    # Reap it when it ends, so a finished run is not left as a zombie that still looks alive.
    threading.Thread(target=process.wait, daemon=True).start()
    return process


# ---------------------------------------------------------------------------------------------------------------
# Training runs

def is_active(run: RunFolder) -> bool:
    """Starting or running, with a live process (a crashed trainer's stale 'running' does not count)."""
    status = run.read_status()
    pid = status.get("pid")
    return status.get("state") in ACTIVE_STATES and bool(pid) and pid_alive(int(pid))


def active_run(root: Path | None = None) -> RunFolder | None:
    return next((run for run in list_runs(root or settings.runs_dir()) if is_active(run)), None)


def _refuse_if_busy(root: Path) -> None:
    busy = active_run(root)
    if busy is not None:
        raise RunnerError(strings.ONE_RUN_AT_A_TIME.format(id=busy.id, state=busy.read_status().get("state")))


def _start_training(run: RunFolder, arguments: list[str], config: RunConfig) -> None:
    run.write_status(state="starting", pid=None, model=config.model.name, preset=config.preset,
                     max_steps=config.train.max_steps, error=None, finished=None,
                     **({} if run.read_status().get("started") else {"started": time.time(), "step": 0}))
    try:
        process = _spawn(arguments, run.log_path)
    except OSError as error:
        run.write_status(state="failed", error=strings.LAUNCH_FAILED.format(error=error), finished=time.time())
        raise RunnerError(strings.LAUNCH_FAILED.format(error=error)) from None
    run.write_status(pid=process.pid)


def launch(config: RunConfig, root: Path | None = None) -> RunFolder:
    """A new run folder with config.yaml, and the trainer started on it. RunnerError when another run is active."""
    root = root or settings.runs_dir()
    with _launch_lock:
        _refuse_if_busy(root)
        run = new_run_folder(config.preset, root)
        config.save(run.config_path)
        _start_training(run, ["train", str(run.config_path), "--run-dir", str(run.path)], config)
    return run


def resume(run: RunFolder) -> str | None:
    """Continue a stopped or failed run from its last checkpoint; returns a note worth showing, if any."""
    from engine.config import load_config

    with _launch_lock:
        state = run.state()
        if state not in ("stopped", "failed"):
            raise RunnerError(strings.RESUME_NOT_POSSIBLE.format(id=run.id, state=state))
        _refuse_if_busy(run.path.parent)
        config = load_config(run.config_path)
        note = None if run.last_checkpoint() else strings.RESUME_NO_CHECKPOINT.format(id=run.id)
        _start_training(run, ["train", str(run.path), "--resume"], config)
    return note


def stop(run: RunFolder, grace_s: float = STOP_GRACE_S) -> None:
    """Ask the trainer to stop after the current step (it saves a checkpoint and the adapter); SIGTERM it if it is
    still alive after `grace_s` (the engine treats SIGTERM as the same graceful stop, at the next step end)."""
    if not is_active(run):
        raise RunnerError(strings.TRAIN_NOT_RUNNING.format(id=run.id, state=run.state()))
    run.request_stop()
    pid = int(run.read_status()["pid"])
    timer = threading.Timer(grace_s, _terminate_if_alive, args=(run, pid))
    timer.daemon = True
    timer.start()


def stop_and_wait(run: RunFolder, poll_s: float = 0.5) -> None:
    """For an app going away with everything around it (`docker stop` ends every process of the container): stop the
    run now, with SIGTERM (the engine's graceful stop: at the end of the current step it saves a checkpoint and the
    adapter and ends `stopped`, so it can be resumed), and wait until its process has exited. Whoever stops the
    container bounds the wait (`docker stop -t`, compose's stop_grace_period)."""
    pid = int(run.read_status().get("pid") or 0)
    if not pid:
        return
    run.request_stop()
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    while pid_alive(pid):
        time.sleep(poll_s)


def _terminate_if_alive(run: RunFolder, pid: int) -> None:
    if is_active(run) and int(run.read_status().get("pid") or 0) == pid:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


# ---------------------------------------------------------------------------------------------------------------
# Eval and export jobs (one of each kind per run at a time; results live in the run folder)

@dataclass
class Job:
    kind: str  # "eval" or "export"
    run_id: str
    process: subprocess.Popen
    log_path: Path

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    @property
    def failed(self) -> bool:
        return self.process.poll() not in (None, 0)

    def last_error(self) -> str:
        """One line for the UI: the engine's closing 'failed: ...' sentence, else the last 'SomeError: message'
        line of the job's log, else its last line."""
        try:
            lines = [line.strip() for line in self.log_path.read_text(encoding="utf-8", errors="replace")
                     .splitlines() if line.strip()]
        except FileNotFoundError:
            return "no log was written"
        if not lines:
            return f"exit status {self.process.returncode}"
        said = [line.removeprefix("failed: ") for line in lines if line.startswith("failed: ")]  # the engine's own
        raised = [line for line in lines if _EXCEPTION_LINE.match(line)]
        return (said or raised or lines)[-1][:400]


_jobs: dict[tuple[str, str], Job] = {}


def job(run: RunFolder, kind: str) -> Job | None:
    return _jobs.get((run.id, kind))


def _start_job(run: RunFolder, kind: str, arguments: list[str]) -> Job:
    current = job(run, kind)
    if current is not None and current.running:
        raise RunnerError(strings.JOB_BUSY.format(kind=kind, id=run.id))
    log_path = run.path / f"{kind}.log"
    log_path.write_text("", encoding="utf-8")  # the log of this attempt only
    started = Job(kind, run.id, _spawn(arguments, log_path), log_path)
    _jobs[(run.id, kind)] = started
    return started


def start_eval(run: RunFolder, limit: int | None = None) -> Job:
    arguments = ["eval", str(run.path)] + (["--limit", str(int(limit))] if limit else [])
    return _start_job(run, "eval", arguments)


def start_export(run: RunFolder, merge: bool = False) -> Job:
    if not (run.adapter_dir / "adapter_config.json").is_file():
        raise RunnerError(strings.NO_ADAPTER.format(id=run.id))
    return _start_job(run, "export", ["export", str(run.path)] + (["--merge"] if merge else []))
