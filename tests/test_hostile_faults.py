"""Faults, with real processes: damaged run folders, a pid reused by a foreign process, three trainers launched at
once, a trainer killed while it writes a checkpoint, a full disk, a stop asked for while the run is still starting,
and a catastrophic data.answer_pattern. Each must leave the app's views working, other runs intact and the run
resumable from its newest complete checkpoint.

Trainer runs are real GRPO on builtin:tiny (CPU), a few steps each; one trainer serves the three-launch test and the
kill-during-save test.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.config import build_config
from engine.runs import checkpoints, trainer_process
from engine.runs import lock as run_lock
from engine.runs.folder import RunFolder, list_runs
from engine.runs.progress import watch
from engine.runs.status import ENDED_UNEXPECTEDLY

from app import file_cache, run_view, runner

from tests.conftest import REPO, run_engine, started_identity, wait_for
from tests.hostile_corpus import GOOD_STATUS, ODD_BUT_READABLE, UNREADABLE, make_run_folders, write_config

QUICKSTART = REPO / "examples" / "quickstart.yaml"


def trainer(*args, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "engine", "train", *map(str, args)], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})


def _has_entries(folder: Path) -> bool:
    try:
        return any(folder.iterdir())
    except OSError:  # not there (yet, or any more)
        return False


def no_temporary_files(run: RunFolder) -> list[str]:
    """Anything a failed write could leave behind."""
    leftovers = [p.name for p in run.path.iterdir() if p.name.startswith(".")]
    staging = run.checkpoints_dir / checkpoints.STAGING
    if staging.exists():
        leftovers.append(str(staging))
    return leftovers + [p.name for p in checkpoints.incomplete_checkpoints(run.checkpoints_dir)]


# ---------------------------------------------------------------------------------------------------------------
# Damaged run folders: one run says why, everything else goes on

def test_each_damaged_run_folder_reads_unreadable_and_the_others_still_work(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    monkeypatch.setenv("GRPO_STUDIO_RUNS_DIR", str(root))
    make_run_folders(root)
    runs = {run.id: run for run in list_runs(root)}
    assert set(UNREADABLE) | set(ODD_BUT_READABLE) | {"bad-config"} == set(runs)
    for run_id, (_, _, reason) in UNREADABLE.items():
        summary = runs[run_id].summary()
        assert summary["state"] == "unreadable" and summary["error"].startswith(reason), (run_id, summary)
        assert len(summary["error"]) < 200
        shown = run_view.run_status(runs[run_id])  # the Train view of that run
        assert shown.state == "unreadable" and "damaged" in shown.error_text
    for run_id in ODD_BUT_READABLE:
        assert runs[run_id].summary()["state"] == "completed", run_id
    assert runs["odd-events"].summary()["best_reward"] == 0.5  # the whole, well-formed lines still count
    assert runs["odd-events"].summary()["last_reward"] == 0.5
    # The views over all of them: runs table, plots, samples, hints, eval, the app's one-run check.
    frame = run_view.runs_frame([file_cache.summary(run) for run in runs.values()])
    assert len(frame) == len(runs)
    for run in runs.values():
        events = run.read_events()
        samples = run.read_samples()
        run_view.reward_frame(events), run_view.hints_markdown(events, samples, None), run_view.samples_frame(samples)
    assert run_view.eval_markdown([]) == run_view.strings.EVAL_UNREADABLE
    assert "| **base** | n/a |" in run_view.eval_markdown(json.loads(ODD_BUT_READABLE["odd-eval-fields"][1]))
    assert runner.active_run(root) is None  # "running" with pid "abc" blocks nothing
    from app.steps import results_step

    assert "cannot be read" in results_step.eval_text(runs["odd-eval"])
    # `engine watch` ends on an unreadable status with one sentence (exit 2) instead of waiting forever.
    for run_id in ("bad-status-empty", "bad-status-truncated"):
        stream = io.StringIO()
        assert watch(runs[run_id], interval=0.01, stream=stream) == "unreadable"
        assert stream.getvalue().startswith(UNREADABLE[run_id][2])
    result = run_engine("watch", runs["bad-status-not-utf8"].path, timeout=120)
    assert result.returncode == 2 and "unreadable: status.json: not UTF-8 text" in result.stdout, result
    assert "Traceback" not in result.stdout + result.stderr


# ---------------------------------------------------------------------------------------------------------------
# A trainer that dies in native code (a CUDA kernel's check, a segfault): no Python is left to write status.json

NATIVE_CRASHES = {
    # flash-attention's CHECK_CUDA prints this and calls exit(1): seen on the H200 in vLLM's start-up (2026-11-29)
    "cuda-check": ("import os, sys; sys.stderr.write('CUDA error (/src/hopper/flash_fwd_combine_launch_template.h:60):"
                   " an illegal memory access was encountered\\n'); sys.stderr.flush(); os._exit(1)",
                   "an illegal memory access was encountered"),
    # a real segfault, as `engine train` reports one (it enables faulthandler)
    "segfault": ("import ctypes, faulthandler; faulthandler.enable(); ctypes.string_at(0)",
                 "Fatal Python error: Segmentation fault"),
}


@pytest.mark.parametrize("name", NATIVE_CRASHES)
def test_a_trainer_that_dies_in_native_code_says_how_instead_of_guessing(tmp_path, name):
    crash, last_word = NATIVE_CRASHES[name]
    run = RunFolder(tmp_path / "run")
    write_config(run.path)
    with run.log_path.open("a") as log:  # as the app starts a trainer: its stdout and stderr are log.txt
        process = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.readline(); " + crash],
                                   stdin=subprocess.PIPE, stdout=log, stderr=log, text=True)
    write_status(run, state="running", **started_identity(process))
    assert run.is_active
    process.communicate("go\n", timeout=60)
    assert process.returncode != 0
    status = run.status()
    assert status.state == "failed" and status.error != ENDED_UNEXPECTEDLY
    assert status.error.startswith("the trainer process crashed") and last_word in status.error, status.error
    assert "resume the run" in status.error


# ---------------------------------------------------------------------------------------------------------------
# A pid reused by a foreign process

def write_status(run: RunFolder, **status) -> None:
    run.status_path.write_text(json.dumps({**GOOD_STATUS, **status}))


def test_a_reused_pid_is_never_our_trainer_and_never_signalled(tmp_path):
    root = tmp_path / "runs"
    foreign = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        identity = started_identity(foreign)
        runs = {}
        for name, status in {
            "legacy-pid-only": {"pid": foreign.pid},  # written by an older version: no identity to check
            "other-create-time": {**identity, "pid_create_time": identity["pid_create_time"] - 3600},
            "other-command": {**identity, "pid_command": trainer_process.command_hash(["python", "-m", "engine"])},
        }.items():
            run = runs[name] = RunFolder(root / name)
            write_config(run.path)
            write_status(run, state="running", **status)
            assert run.state() == "failed" and run.status().error == ENDED_UNEXPECTEDLY, name
            assert not run.is_active
            with pytest.raises(runner.RunnerError, match="nothing to stop"):
                runner.stop(run, grace_s=0.05)
        assert runner.active_run(root) is None
        runner._refuse_if_busy(root)  # the app's launch gate is open
        lock = run_lock.RunLock(root)
        lock.acquire("next")  # and so is the engine's lock
        lock.release()
        time.sleep(0.3)
        assert foreign.poll() is None  # never signalled

        # The control: the same process with its full identity is taken for the trainer, and Stop does signal it.
        ours = RunFolder(root / "ours")
        write_config(ours.path)
        write_status(ours, state="running", **identity)
        assert ours.is_active and runner.active_run(root).id == "ours"
        runner.stop(ours, grace_s=0.2)
        assert ours.stop_path.exists()
        assert foreign.wait(timeout=30) == -signal.SIGTERM
    finally:
        foreign.kill()
        foreign.wait()


def test_the_trainer_gets_only_the_environment_it_needs():
    env = runner.subprocess_env({"PATH": "/usr/bin", "HOME": "/home/x", "HF_TOKEN": "hf_x", "CUDA_VISIBLE_DEVICES": "0",
                                 "GRPO_STUDIO_RUNS_DIR": "/data/runs", "GRPO_STUDIO_PASSWORD": "secret",
                                 "GRPO_STUDIO_USER": "admin", "GRPO_STUDIO_PASSWORD_FILE": "/data/pw",
                                 "AWS_SECRET_ACCESS_KEY": "x", "DATABASE_URL": "x", "LC_ALL": "C.UTF-8",
                                 "VLLM_USE_V2_MODEL_RUNNER": "0", "TRITON_INTERPRET": "1", "UNSLOTH_VLLM_STANDBY": "1"})
    assert {"PATH", "HOME", "HF_TOKEN", "CUDA_VISIBLE_DEVICES", "GRPO_STUDIO_RUNS_DIR", "LC_ALL",
            "VLLM_USE_V2_MODEL_RUNNER", "TRITON_INTERPRET", "UNSLOTH_VLLM_STANDBY", "PYTHONPATH",
            "PYTHONUNBUFFERED"} == set(env)


# ---------------------------------------------------------------------------------------------------------------
# Three launches at once; then the winner is killed while it writes a checkpoint, and resumed

@pytest.fixture(scope="module")
def contest(tmp_path_factory):
    """Three `engine train` processes started together on one runs folder (save a checkpoint every step)."""
    root = tmp_path_factory.mktemp("contest") / "runs"
    env = {"GRPO_STUDIO_RUNS_DIR": str(root)}
    processes = [trainer(QUICKSTART, "--run-dir", root / f"r{i}", "--set", "train.max_steps=40",
                         "--set", "train.save_steps=1", "--set", "train.max_completion_length=8", env=env)
                 for i in range(3)]
    yield root, env, processes
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_three_launches_at_once_start_exactly_one_trainer(contest, monkeypatch):
    root, _, processes = contest
    wait_for(lambda: all(p.poll() is not None or (root / f"r{i}" / "status.json").exists()
                         for i, p in enumerate(processes)), what="each launch to win or lose")
    losers = [p for p in processes if p.poll() is not None]
    winners = [p for p in processes if p.poll() is None]
    assert len(winners) == 1 and len(losers) == 2, [p.poll() for p in processes]
    winner = RunFolder(root / f"r{processes.index(winners[0])}")
    for loser in losers:
        output = loser.stdout.read()
        assert loser.returncode == 2
        assert output.strip() == (f"Run {winner.id} is still training (pid {winners[0].pid}); one training run at a "
                                  "time fits on one GPU, so stop it or wait until it finishes."), output
        assert not (root / f"r{processes.index(loser)}").exists()  # a refused launch leaves nothing behind
    wait_for(lambda: winner.is_active, what="the winner's first status")
    # The app's launch beside it waits in the queue: a folder with its config only, no trainer, no status.
    monkeypatch.setenv("GRPO_STUDIO_RUNS_DIR", str(root))
    form_config = build_config({"preset": "rlvr-math", "data": {"path": str(QUICKSTART.parent.parent / "tests" /
                                                                            "data" / "gsm8k_slice.jsonl")}})
    queued = runner.launch(form_config, root)
    assert runner.queue_position(queued) == 1 and not queued.status_path.exists() and winner.is_active
    runner.cancel_queued(queued)  # the winner would start it when it ends; the tests after this one use the winner
    assert sorted(p.name for p in root.iterdir() if not p.name.startswith(".")) == [winner.id]


def test_a_kill_during_a_checkpoint_save_leaves_whole_checkpoints_and_resume_says_which(contest):
    root, env, processes = contest
    process = next(p for p in processes if p.returncode is None)
    run = next(RunFolder(p) for p in root.iterdir() if (p / "status.json").exists())
    staging = run.checkpoints_dir / checkpoints.STAGING
    # Wait for a complete checkpoint; then freeze the trainer (SIGSTOP) the moment the staging folder of the next one
    # appears. If the save finished before the freeze landed, let it go on to the next save; else kill -9 it there.
    wait_for(lambda: run.last_checkpoint() is not None, timeout=300, what="a first checkpoint")
    for _ in range(20):
        wait_for(lambda: _has_entries(staging), timeout=120, interval=0.002, what="a checkpoint being written")
        process.send_signal(signal.SIGSTOP)
        if _has_entries(staging):
            break
        process.send_signal(signal.SIGCONT)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert staging.is_dir()  # killed mid-save: the partial checkpoint is in staging, not under its final name
    complete = checkpoints.complete_checkpoints(run.checkpoints_dir)
    assert complete and not checkpoints.incomplete_checkpoints(run.checkpoints_dir)
    assert run.state() == "failed" and run.status().error == ENDED_UNEXPECTEDLY  # read from the dead pid
    # A partial checkpoint as an older version left it: it must be passed over, not crash the resume.
    newest = checkpoints.step_of(complete[-1])
    (run.checkpoints_dir / f"checkpoint-{newest + 1}").mkdir()
    (run.checkpoints_dir / f"checkpoint-{newest + 1}" / "adapter_model.safetensors").write_bytes(b"partial")
    resumed = run_engine("train", run.path, "--resume", "--set", f"train.max_steps={newest + 1}", env=env,
                         timeout=600)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert f"skipping checkpoint-{newest + 1}: its save never finished" in resumed.stdout
    assert f"resuming from checkpoint-{newest}" in resumed.stdout
    status = run.read_status()
    assert status.state == "completed" and status.step == newest + 1 and status.checkpoint == f"checkpoint-{newest}"
    assert [e["step"] for e in run.read_events()] == list(range(1, newest + 2))  # every step once
    assert not no_temporary_files(run) and run.has_adapter


# ---------------------------------------------------------------------------------------------------------------
# A stop asked for while the run is still starting (the app's launch and Stop, for real)

def test_a_stop_during_start_up_is_honoured(tmp_path, monkeypatch):
    monkeypatch.setenv("GRPO_STUDIO_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("GRPO_STUDIO_PASSWORD", "not-for-the-trainer")
    config = build_config({"preset": "rlvr-math", "model": {"name": "builtin:tiny"},
                           "data": {"path": str(REPO / "tests" / "data" / "gsm8k_slice.jsonl")},
                           "train": {"max_steps": 5, "num_generations": 4, "batch_size": 4}})
    run = runner.launch(config)  # returns once the trainer has written its first status
    assert run.read_status().state == "starting" and run.is_active
    environ = Path(f"/proc/{run.read_status().pid}/environ").read_bytes()
    assert b"GRPO_STUDIO_PASSWORD" not in environ and b"GRPO_STUDIO_RUNS_DIR" in environ
    runner.stop(run)
    wait_for(lambda: run.status().final, what="the stop")
    status = run.read_status()
    assert status.state == "stopped" and status.step == 0, run.log_tail()
    assert not run.read_events() and not run.stop_path.exists()
    assert "stopped before the first step" in run.log_path.read_text()


# ---------------------------------------------------------------------------------------------------------------
# A full disk: failed with one sentence, log flushed, nothing temporary left, resumable once there is room

@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "small-disk"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1100k", "tmpfs", str(mount)], capture_output=True,
                            check=False)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {result.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_fails_the_run_with_one_sentence_and_keeps_it_resumable(small_disk, tmp_path):
    env = {"GRPO_STUDIO_RUNS_DIR": str(tmp_path / "runs")}
    run = RunFolder(small_disk / "run")
    result = run_engine("train", QUICKSTART, "--run-dir", run.path, "--set", "train.max_steps=3",
                        "--set", "train.save_steps=1", "--set", "train.max_completion_length=8", env=env, timeout=600)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    status = run.read_status()
    assert status.state == "failed" and status.error.startswith("the disk is full (0 MiB free at "), status.error
    assert str(run.path) in status.error
    assert run.log_path.read_text().rstrip().endswith(f"(full traceback in {run.log_path})")  # flushed to the end
    assert "failed: the disk is full" in run.log_path.read_text()
    assert not no_temporary_files(run), no_temporary_files(run)
    # Resumable: the checkpoint that fitted is whole and is the one --resume takes (the resume itself is the
    # kill-during-save test's).
    assert [p.name for p in checkpoints.complete_checkpoints(run.checkpoints_dir)] == ["checkpoint-1"]
    assert run.last_checkpoint().name == "checkpoint-1" and run.state() == "failed"


# ---------------------------------------------------------------------------------------------------------------
# A catastrophic data.answer_pattern stops `train` before anything starts

def test_a_catastrophic_answer_pattern_is_exit_2_before_training(tmp_path, monkeypatch, capsys):
    """`engine train` (its main, in this process: the same path, without a second interpreter start)."""
    from engine.cli import main

    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps({"question": f"q{i}", "answer": "a" * 40 + "!"}) + "\n" for i in range(8)))
    runs = tmp_path / "runs"
    monkeypatch.setenv("GRPO_STUDIO_RUNS_DIR", str(runs))
    code = main(["train", str(QUICKSTART), "--set", f"data.path={data}", "--set", "data.answer_pattern=(a|aa)+$"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "data.answer_pattern: the regex took longer than 0.5 s on the answer 'aaaa" in err
    assert "Traceback" not in err
    assert not [p for p in runs.iterdir() if not p.name.startswith(".")]  # no run folder; the lock is released
    assert run_lock.active_holder(runs) is None


def test_vllms_start_up_race_with_another_program_on_the_gpu_is_one_sentence(tmp_path):
    """vLLM asserts at start-up when another program frees GPU memory while vLLM measures it (seen when GPU tests
    shared one GPU; a user's probe or second run can do the same). Its text, as vLLM 0.25 raised it."""
    from engine import training

    run = RunFolder(tmp_path / "raced")
    run.path.mkdir()
    error = AssertionError(
        "Error in memory profiling. Initial free memory 130.14 GiB, current free memory 131.01 GiB. This happens when "
        "other processes sharing the same container release GPU memory while vLLM is profiling during "
        "initialization. To fix this, ensure consistent GPU memory allocation or isolate vLLM in its own container.")
    assert training.fail(run, error) == "failed"
    status = run.read_status()
    assert status.state == "failed" and status.error == training.VLLM_PROFILING_RACE
