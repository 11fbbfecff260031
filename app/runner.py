"""Launching, queueing, stopping, resuming and deleting training runs, and running eval/export, as `python -m
engine` subprocesses.

A run's process is started in its own session, so it outlives the app (an app restart re-attaches to it through
the run folder) and Gradio's Ctrl-C does not reach it. Its stdout and stderr go to the run's log.txt in append
mode (the engine sees that and does not write the log twice). The app never writes status.json: it starts the
trainer and waits until the trainer has written its first status, or has refused. One training run at a time is
the engine's own rule (an OS lock taken by `engine train`), so a launch from here, from the CLI or from another app
process obey the same lock. A launch while a run trains goes into the engine's run queue (engine/runs/queue.py): the
run that ends starts the next one, and this app checks every few seconds too, in case a trainer died without doing
so.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from engine import disk_space, progress_bar, settings
from engine.config import RunConfig
from engine.disk_space import human_size
from engine.runs import delete as run_delete
from engine.runs import lock as run_lock
from engine.runs import queue as run_queue
from engine.runs.folder import RunFolder, list_runs, new_run_folder, run_by_id
from engine.runs.status import FINAL_STATES

from app import strings

STOP_GRACE_S = 60  # after a STOP file, how long a step may take before the process gets SIGTERM
QUEUE_CHECK_S = 5.0  # how often the app looks for queued runs that nothing is starting
LAUNCH_WAIT_S = 120  # how long a launch waits for the trainer's first status (seconds normally; more under load)
ENDING_TRAINER_WAIT_S = 30.0  # how long a resume waits for a trainer that wrote its final state to exit
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b:")
_launch_lock = threading.Lock()  # two clicks (or two browser tabs) of this app: one folder, one trainer
log = logging.getLogger("grpo_studio.app")

# The trainer's environment: what Python, CUDA, the Hugging Face libraries, Triton, vLLM and Unsloth read, and our
# own folders. Not the app's login (GRPO_STUDIO_PASSWORD/USER) nor anything else the app's environment holds.
ENV_NAMES = {"PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TERM", "TMPDIR", "TEMP", "TMP",
             "LD_LIBRARY_PATH", "LIBRARY_PATH", "VIRTUAL_ENV", "CONDA_PREFIX", "CC", "CXX", "XDG_CACHE_HOME",
             "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "HTTP_PROXY", "HTTPS_PROXY",
             "NO_PROXY", "http_proxy", "https_proxy", "no_proxy", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
             "OPENBLAS_NUM_THREADS", "TOKENIZERS_PARALLELISM", "MAX_JOBS"}
ENV_PREFIXES = ("LC_", "PYTHON", "CUDA_", "NVIDIA_", "HF_", "HUGGING_FACE_", "TRANSFORMERS_", "TORCH", "PYTORCH_",
                "TRITON_", "VLLM_", "UNSLOTH_", "BNB_", "NCCL_", "ACCELERATE_", "GRPO_STUDIO_",
                "WANDB_", "MLFLOW_", "TRACKIO_")  # the trackers of train.report_to (engine/tracking.py)
ENV_SECRETS = {"GRPO_STUDIO_PASSWORD", "GRPO_STUDIO_USER", "GRPO_STUDIO_PASSWORD_FILE"}


class RunnerError(Exception):
    """A refusal or failure the user can act on; the message is one sentence."""


# ---------------------------------------------------------------------------------------------------------------
# Processes

def engine_command(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "engine", *arguments]


def subprocess_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The environment an engine subprocess gets: the allow-list above, from the app's own environment."""
    environ = os.environ if environ is None else environ
    env = {name: value for name, value in environ.items()
           if name not in ENV_SECRETS and (name in ENV_NAMES or name.startswith(ENV_PREFIXES))}
    env["PYTHONUNBUFFERED"] = "1"  # log.txt shows progress as it happens
    repo = str(settings.REPO_ROOT)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (repo, env.get("PYTHONPATH", "")) if p)
    return env


def _spawn(arguments: list[str], log_path: Path, count_path: Path | None = None) -> subprocess.Popen:
    """The engine command in its own session, its output appended to log_path; `count_path`: where a long job counts
    what it has done (engine/progress_bar.py), for the page to show."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = subprocess_env()
    if count_path is not None:
        count_path.unlink(missing_ok=True)  # the count of this attempt only
        env[progress_bar.PROGRESS_FILE] = str(count_path)
    with open(log_path, "a", encoding="utf-8") as log:
        return subprocess.Popen(engine_command(*arguments), stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True, env=env, cwd=os.getcwd())


def _reap_in_background(process: subprocess.Popen) -> None:
    """Reap it when it ends, so a finished run is not left as a zombie."""
    threading.Thread(target=process.wait, daemon=True).start()


def _last_line(path: Path) -> str:
    try:
        lines = [line.strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines()
                 if line.strip()]
    except OSError:
        return ""
    return lines[-1][:400] if lines else ""


# ---------------------------------------------------------------------------------------------------------------
# Training runs

def is_active(run: RunFolder) -> bool:
    """Starting or running, with its own trainer process alive (see RunFolder.is_active)."""
    return run.is_active


def active_run(root: Path | None = None) -> RunFolder | None:
    """The run being trained now, if any: the holder of the engine's lock, else a run whose verified trainer is
    alive (a stale 'running' of a crashed trainer, or a pid now used by another process, does not count)."""
    root = root or settings.runs_dir()
    holder = run_lock.active_holder(root)
    if holder is not None and (run := run_by_id(root, holder.get("run"))) is not None:
        return run
    return next((run for run in list_runs(root) if run.is_active), None)


def _refuse_if_busy(root: Path) -> None:
    """Refuse while another trainer holds the GPU; one that has written its final state is waited for first."""
    busy = _after_an_ending_trainer_exits(root)
    if busy is not None:
        status = busy.read_status()
        if status.state in FINAL_STATES:
            raise RunnerError(strings.TRAINER_STILL_EXITING.format(id=busy.id, state=status.state, pid=status.pid))
        raise RunnerError(strings.ONE_RUN_AT_A_TIME.format(id=busy.id, state=status.state))
    holder = run_lock.active_holder(root)
    if holder is not None:  # a run whose folder is elsewhere (engine train --run-dir)
        raise RunnerError(run_lock.busy_sentence(holder.get("run"), holder.get("pid")))


def _after_an_ending_trainer_exits(root: Path) -> RunFolder | None:
    """The active run, once a trainer that has already written its final state (stopped, completed, failed) has
    exited: it still holds the lock and the GPU while it tidies up (seconds; longer with vLLM's shutdown), and a
    resume clicked right after a stop lands in that gap. Waits at most ENDING_TRAINER_WAIT_S."""
    deadline = time.monotonic() + ENDING_TRAINER_WAIT_S
    while (busy := active_run(root)) is not None and busy.read_status().state in FINAL_STATES:
        if time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    return busy


def _write_failed(error: OSError, where: Path) -> RunnerError:
    """A run folder (or its log) that could not be written: the trainer's own sentence for a full disk."""
    if disk_space.is_disk_full(error, where):
        return RunnerError(disk_space.full_disk_sentence(where, then="launch again"))
    return RunnerError(strings.LAUNCH_FAILED.format(error=error.strerror or error))


def _start_training(run: RunFolder, arguments: list[str]) -> None:
    """Start the trainer and wait for its first status; RunnerError with the engine's own sentence if it refused
    (another run holds the lock, or the config cannot be loaded)."""
    try:
        process = _spawn(arguments, run.log_path)
    except OSError as error:
        raise _write_failed(error, run.path) from None
    deadline = time.time() + LAUNCH_WAIT_S
    try:
        while time.time() < deadline:
            if run.read_status().pid == process.pid:
                return
            if process.poll() is not None:
                if run.read_status().pid == process.pid:
                    return  # it wrote its status and already finished
                raise RunnerError(_last_line(run.log_path) or strings.LAUNCH_FAILED.format(
                    error=f"exit status {process.returncode}"))
            time.sleep(0.05)
    finally:
        _reap_in_background(process)


def launch(config: RunConfig, root: Path | None = None) -> RunFolder:
    """A new run folder with config.yaml, and the trainer started on it; while another run trains (or runs are
    queued already), the new run joins the queue instead (queue_position says where)."""
    root = root or settings.runs_dir()
    with _launch_lock:
        if run_queue.queued_ids(root) or _busy(root):
            return _enqueue(config, root)
        run = new_run_folder(config.preset, root)
        try:
            config.save(run.config_path)
        except OSError as error:
            shutil.rmtree(run.path, ignore_errors=True)
            raise _write_failed(error, root) from None
        try:
            _start_training(run, ["train", str(run.config_path), "--run-dir", str(run.path)])
        except RunnerError:
            if run.read_status().state == "unknown":  # the trainer wrote nothing: the folder is only ours
                if run_lock.active_holder(root) is not None:  # another start won the lock a moment ago: wait in line
                    run_queue.append(root, run)
                    return run
                shutil.rmtree(run.path, ignore_errors=True)
            raise
    return run


def _busy(root: Path) -> bool:
    return active_run(root) is not None or run_lock.active_holder(root) is not None


def _enqueue(config: RunConfig, root: Path) -> RunFolder:
    try:
        run = run_queue.add(root, config)  # it leaves no folder behind when it fails
    except run_queue.QueueError as error:
        raise RunnerError(str(error)) from None
    except OSError as error:
        raise _write_failed(error, root) from None
    start_next_queued(root)  # the active run may have ended since we looked
    return run


def queue_position(run: RunFolder) -> int | None:
    """Where a run waits in the queue (1: next), or None when it is not queued."""
    return run_queue.position(run.path.parent, run.id)


def start_next_queued(root: Path | None = None) -> None:
    """Start the next queued run if none is training (the engine's one-run lock decides who trains)."""
    process = run_queue.start_next(root or settings.runs_dir(), env=subprocess_env())
    if process is not None:
        log.info("started the next queued run (pid %s)", process.pid)


def watch_queue(root: Path | None = None, interval_s: float = QUEUE_CHECK_S) -> threading.Thread:
    """From the app's start: release a hold a stopping container left, then check for queued runs that nothing is
    starting (a trainer killed with -9 or out of memory never starts the next one) every `interval_s` seconds."""
    root = root or settings.runs_dir()
    run_queue.release_hold(root)

    def check_forever():
        while True:
            try:
                start_next_queued(root)
            except Exception:  # a runs folder that went away for a moment must not end the watch
                log.exception("the queue check failed")
            time.sleep(interval_s)

    thread = threading.Thread(target=check_forever, name="queue-watch", daemon=True)
    thread.start()
    return thread


def move_queued(run: RunFolder, offset: int) -> int:
    try:
        return run_queue.move(run.path.parent, run.id, offset)
    except run_queue.QueueError as error:
        raise RunnerError(str(error)) from None


def cancel_queued(run: RunFolder) -> None:
    try:
        run_queue.cancel(run.path.parent, run.id)
    except run_queue.QueueError as error:
        raise RunnerError(str(error)) from None


def delete(run: RunFolder) -> None:
    """Delete a run's folder: never the active run, nor one whose eval or export is running here."""
    with _launch_lock:  # no launch or resume of this app between the check and the removal
        for kind in ("eval", "export"):
            current = job(run, kind)
            if current is not None and current.running:
                raise RunnerError(strings.DELETE_JOB_RUNNING.format(id=run.id, kind=kind))
        try:
            run_delete.delete_run(run)
        except run_delete.RunDeleteRefused as error:
            raise RunnerError(str(error)[:1].upper() + str(error)[1:] + ".") from None


def resume(run: RunFolder) -> str | None:
    """Continue a stopped or failed run from its last complete checkpoint; returns a note worth showing, if any."""
    with _launch_lock:
        state = run.state()
        if state not in ("stopped", "failed", "unreadable"):
            raise RunnerError(strings.RESUME_NOT_POSSIBLE.format(id=run.id, state=state))
        _refuse_if_busy(run.path.parent)
        checkpoint = run.last_checkpoint()
        note = (strings.RESUME_FROM.format(id=run.id, checkpoint=checkpoint.name) if checkpoint
                else strings.RESUME_NO_CHECKPOINT.format(id=run.id))
        _start_training(run, ["train", str(run.path), "--resume"])
    return note


def stop(run: RunFolder, grace_s: float = STOP_GRACE_S) -> None:
    """Ask the trainer to stop after the current step (it saves a checkpoint and the adapter); SIGTERM it if it is
    still alive after `grace_s` (the engine treats SIGTERM as the same graceful stop, at the next step end). Only the
    run's own trainer is ever signalled: a pid that now belongs to another process is left alone."""
    process = run.trainer()
    if process is None:
        raise RunnerError(strings.TRAIN_NOT_RUNNING.format(id=run.id, state=run.state()))
    run.request_stop()
    timer = threading.Timer(grace_s, _terminate_if_still_running, args=(run, process))
    timer.daemon = True
    timer.start()


def stop_and_wait(run: RunFolder, poll_s: float = 0.5) -> None:
    """For an app going away with everything around it (`docker stop` ends every process of the container): stop the
    run now, with SIGTERM (the engine's graceful stop: at the end of the current step it saves a checkpoint and the
    adapter and ends `stopped`, so it can be resumed), and wait until its process has exited. Whoever stops the
    container bounds the wait (`docker stop -t`, compose's stop_grace_period). Only the run's own trainer is
    signalled."""
    process = run.trainer()
    if process is None:
        return
    run.request_stop()
    try:
        process.terminate()  # psutil checks the create time first: never a process that reused the pid
        while process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
            time.sleep(poll_s)
    except psutil.Error:  # it ended meanwhile
        return


def _terminate_if_still_running(run: RunFolder, process: psutil.Process) -> None:
    current = run.trainer()
    if current is not None and current.pid == process.pid:
        try:
            current.terminate()  # psutil checks the create time first: never a process that reused the pid
        except psutil.Error:
            pass


# ---------------------------------------------------------------------------------------------------------------
# Eval and export jobs (one of each kind per run at a time; results live in the run folder)

def count_path(log_path: Path) -> Path:
    """Where a job that logs to log_path counts its work: eval.log -> eval.progress.json."""
    return log_path.with_name(f"{log_path.stem}.progress.json")


@dataclass
class Job:
    kind: str  # "eval", "export" or "probe"
    run_id: str
    process: subprocess.Popen
    log_path: Path
    started: float = field(default_factory=time.time)
    output: Path | None = None  # the file it writes, where that is not in a run folder (curate: the curated data)

    def count(self) -> str:
        """What it has done so far, in words ("So far: the model answering, 3 of 8 questions."); "" before it
        counts anything."""
        count = progress_bar.read_count(count_path(self.log_path))
        if count is None:
            return ""
        if count.unit == "bytes":
            done, total = human_size(count.done), human_size(count.total)
        else:
            done, total = f"{count.done:,}", f"{count.total:,} {count.unit}"
        return strings.JOB_COUNT.format(what=count.what, done=done, total=total)

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
        problems = [line.removeprefix("- ") for line in lines if line.startswith("- ")]  # `N problems:` then each
        if problems and not said:
            return " ".join(problems)[:800]
        return (said or raised or lines)[-1][:400]


_jobs: dict[tuple[str, str], Job] = {}


def job(run: RunFolder, kind: str) -> Job | None:
    return _jobs.get((run.id, kind))


def jobs_running() -> bool:
    """Whether an eval or export job of any run is still running (the results view then keeps refreshing)."""
    return any(started.running for started in list(_jobs.values()))


def _start_job(run: RunFolder, kind: str, arguments: list[str]) -> Job:
    current = job(run, kind)
    if current is not None and current.running:
        raise RunnerError(strings.JOB_BUSY.format(kind=kind, id=run.id))
    log_path = run.path / f"{kind}.log"
    log_path.write_text("", encoding="utf-8")  # the log of this attempt only
    started = Job(kind, run.id, _spawn(arguments, log_path, count_path(log_path)), log_path)
    _reap_in_background(started.process)
    _jobs[(run.id, kind)] = started
    return started


# ---------------------------------------------------------------------------------------------------------------
# The learnability probe and the curation of the form's config (no run folder yet): one of them at a time, as each
# loads the model

PROBE_KEY = ("", "probe")
CURATE_KEY = ("", "curate")
PROBES_KEPT = 3


def probe_job() -> Job | None:
    return _jobs.get(PROBE_KEY)


def curate_job() -> Job | None:
    return _jobs.get(CURATE_KEY)


def _refuse_while_sampling() -> None:
    for key, busy in ((PROBE_KEY, strings.PROBE_BUSY), (CURATE_KEY, strings.CURATE_BUSY)):
        current = _jobs.get(key)
        if current is not None and current.running:
            raise RunnerError(busy)


def _form_job_folder(kind: str, config: RunConfig) -> Path:
    """A new folder in the app's cache (the newest PROBES_KEPT of the kind are kept) holding the job's config.yaml."""
    root = settings.cache_dir() / f"{kind}s"
    for old in sorted(root.glob("*"))[:-PROBES_KEPT] if root.is_dir() else []:
        shutil.rmtree(old, ignore_errors=True)
    folder = root / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{threading.get_ident() % 10_000}"
    folder.mkdir(parents=True, exist_ok=True)
    config.save(folder / "config.yaml")
    return folder


def _start_form_job(kind: str, key: tuple[str, str], arguments: list[str], folder: Path,
                    output: Path | None = None) -> Job:
    log_path = folder / f"{kind}.log"
    started = Job(kind, "", _spawn(arguments, log_path, count_path(log_path)), log_path, output=output)
    _reap_in_background(started.process)
    _jobs[key] = started
    return started


def start_probe(config: RunConfig, prompts: int) -> Job:
    """`engine probe` on the form's config, in a folder of the app's cache: config.yaml, probe.json, probe.log."""
    _refuse_while_sampling()
    folder = _form_job_folder("probe", config)
    arguments = ["probe", str(folder / "config.yaml"), "--prompts", str(int(prompts)), "--out",
                 str(folder / "probe.json")]
    return _start_form_job("probe", PROBE_KEY, arguments, folder)


def start_curate(config: RunConfig, samples: int, limit: int | None = None) -> Job:
    """`engine curate` on the form's config: its config.yaml, curate.log and the count of questions sampled
    (count_path) in a folder of the app's cache; the curated rows and curation.json in a new folder under the uploads
    folder (engine.curation's default), where the data step may use them. `job.output` is the curated file (written
    only if a question is learnable)."""
    from engine.curation import default_output

    _refuse_while_sampling()
    folder = _form_job_folder("curation", config)
    output = default_output(config)
    arguments = ["curate", str(folder / "config.yaml"), "--samples", str(int(samples)), "--out", str(output)]
    arguments += ["--limit", str(int(limit))] if limit else []
    return _start_form_job("curate", CURATE_KEY, arguments, folder, output)


def start_eval(run: RunFolder, limit: int | None = None, which: str = "best") -> Job:
    """`engine eval` of the run: base against the tuned model, its best checkpoint or its last adapter."""
    arguments = ["eval", str(run.path), "--checkpoint", _which(which)]
    return _start_job(run, "eval", arguments + (["--limit", str(int(limit))] if limit else []))


def start_export(run: RunFolder, merge: bool = False, which: str = "best", merged_zip: bool = False,
                 gguf: str | None = None) -> Job:
    """`engine export`: the adapter zip always; the merged model (a folder, and a zip to download) and a GGUF when
    asked."""
    from engine.export.gguf import OUTTYPES

    if not run.has_adapter and run.last_checkpoint() is None:
        raise RunnerError(strings.NO_ADAPTER.format(id=run.id))
    if gguf is not None and gguf not in OUTTYPES:
        raise RunnerError(strings.EXPORT_GGUF_UNKNOWN.format(types=", ".join(OUTTYPES)))
    arguments = ["export", str(run.path), "--checkpoint", _which(which)] + (["--merge"] if merge else [])
    arguments += (["--merged-zip"] if merged_zip else []) + (["--gguf", gguf] if gguf else [])
    return _start_job(run, "export", arguments)


def _which(which: str) -> str:
    """best or last, whatever a request sends."""
    from engine.best_checkpoint import WHICH

    if which not in WHICH:
        raise RunnerError(strings.ADAPTER_CHOICE_UNKNOWN.format(which=str(which)[:40]))
    return which
