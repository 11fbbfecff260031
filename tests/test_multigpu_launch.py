"""`engine train` with children, for real on the CPU: the vLLM server's lifecycle with a stand-in for `trl vllm-serve`
(tests/vllm_standin.py, through tests/launch_with_standin.py: the launcher as `engine train` runs it, the trainer a
real `engine train RUN --worker` training the tiny model), and two real training ranks (torchrun, gloo) writing one
run folder, stopping together and resuming."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil

from engine import training
from engine.config import load_config
from engine.launch_plan import free_port
from engine.runs import checkpoints
from engine.runs.folder import RunFolder
from engine.runs.lock import RunLock

from tests.conftest import REPO, run_engine, wait_for

QUICKSTART = REPO / "examples" / "quickstart.yaml"


def launch(runs_dir, behaviour: str) -> tuple[subprocess.Popen, RunFolder, Path]:
    run = RunFolder(runs_dir / "served")
    process = subprocess.Popen([sys.executable, "-m", "tests.launch_with_standin", str(run.path), behaviour],
                               cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return process, run, runs_dir / "standin.pid"


def standin_pid(pid_file: Path) -> int:
    wait_for(pid_file.is_file, what="the stand-in server to start")
    return int(pid_file.read_text())


def run_processes(run: RunFolder) -> list[psutil.Process]:
    """Processes still working for this run: its training worker or the stand-in server."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        line = " ".join(process.info["cmdline"] or [])
        if (str(run.path) in line and "--worker" in line) or (str(run.path.parent) in line and "vllm_standin" in line):
            found.append(process)
    return found


def finish(process: subprocess.Popen) -> str:
    output, _ = process.communicate(timeout=120)
    return output


def test_a_stop_while_the_server_starts_ends_the_run_before_training(runs_dir):
    process, run, pid_file = launch(runs_dir, "starting")  # /health answers 503: still loading
    server = psutil.Process(standin_pid(pid_file))
    run.request_stop()
    output = finish(process)
    assert process.returncode == 0, output
    status = run.read_status()
    assert status.state == "stopped" and status.step == 0 and not run.stop_path.exists()
    assert "stopped before the first step" in output and "rollouts:" not in output  # no trainer was started
    wait_for(lambda: not server.is_running() or server.status() == psutil.STATUS_ZOMBIE, 30, "the server to stop")
    assert run_processes(run) == []
    assert "stand-in vLLM server" in (run.path / "vllm-server.log").read_text()  # its own log in the run folder


def test_a_server_that_dies_before_it_is_ready_fails_the_run_with_one_sentence(runs_dir):
    process, run, _ = launch(runs_dir, "crash")
    output = finish(process)
    assert process.returncode == 1, output
    status = run.read_status()
    assert status.state == "failed" and status.step == 0
    assert status.error == (f"the vLLM server exited (code 3) before it was ready (ValueError: stand-in model cannot "
                            f"be loaded); see {run.path / 'vllm-server.log'}")
    assert "Traceback" not in run.log_path.read_text() and run_processes(run) == []


def test_the_server_dying_mid_run_stops_the_trainer_and_fails_the_run(runs_dir):
    process, run, pid_file = launch(runs_dir, "ready")
    server = psutil.Process(standin_pid(pid_file))
    wait_for(lambda: run.read_status().step >= 1, what="the first training step")
    assert run.read_status().pid == process.pid  # status.json names engine train, not its trainer
    os.kill(server.pid, signal.SIGKILL)
    output = finish(process)
    assert process.returncode == 1, output
    status = run.read_status()
    assert status.state == "failed"
    assert status.error == (f"the vLLM server exited (code -9) while the run was training; see "
                            f"{run.path / 'vllm-server.log'}")
    assert run_processes(run) == []  # the trainer was stopped with it
    assert status.error in run.log_path.read_text()


def test_sigterm_stops_trainer_then_server_and_the_run_is_resumable(runs_dir):
    process, run, pid_file = launch(runs_dir, "ready")
    server = psutil.Process(standin_pid(pid_file))
    wait_for(lambda: run.read_status().step >= 2, what="two training steps")
    process.send_signal(signal.SIGTERM)  # the app's stop, as it reaches engine train
    output = finish(process)
    assert process.returncode == 0, output
    status = run.read_status()
    assert status.state == "stopped" and status.step >= 2 and not run.stop_path.exists()
    assert run.has_adapter and checkpoints.step_of(run.last_checkpoint()) == status.step
    assert not server.is_running() or server.status() == psutil.STATUS_ZOMBIE
    assert run_processes(run) == []
    events = run.read_events()
    assert [e["step"] for e in events] == list(range(1, status.step + 1))  # the trainer's events, each step once


# ---------------------------------------------------------------------------------------------------------------
# Two ranks (DDP over gloo on the CPU, as `accelerate launch` starts them on GPUs): one writer, one decision.

def start_ranks(run: RunFolder) -> subprocess.Popen:
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "ACCELERATE_USE_CPU": "true"}  # accelerate's multi-CPU mode
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port",
               str(free_port()), "-m", "engine", "train", str(run.path), "--worker", "--backend", "hf"]
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_a_worker_started_by_hand_is_refused(runs_dir):
    """--worker trains without taking the one-run lock: only the engine train that holds it may start one."""
    run = RunFolder(runs_dir / "by-hand")
    run.path.mkdir(parents=True)
    training.begin(load_config(QUICKSTART), run)
    result = run_engine("train", run.path, "--worker", "--backend", "hf")
    assert result.returncode == 2 and result.stderr.strip() == ("--worker is for the processes engine train starts; "
                                                                "run engine train CONFIG instead")
    assert run.read_events() == []


def test_two_ranks_write_one_run_folder_stop_together_and_resume(runs_dir):
    run = RunFolder(runs_dir / "ddp")
    run.path.mkdir(parents=True)
    config = load_config(QUICKSTART, ["train.max_steps=200", "train.save_steps=1000", "train.eval_limit=2",
                                      "train.eval_steps=2"])
    lock = RunLock(runs_dir)  # what engine train holds and writes before it launches the ranks
    lock.acquire(run.id)
    training.begin(config, run)
    ranks = start_ranks(run)
    wait_for(lambda: run.read_status().step >= 2, what="two steps on two ranks")
    run.request_stop()
    output, _ = ranks.communicate(timeout=180)
    assert ranks.returncode == 0, output
    status = run.read_status()
    stopped_at = status.step
    assert status.state == "stopped" and not run.stop_path.exists()
    checkpoint = run.last_checkpoint()
    assert checkpoints.step_of(checkpoint) == stopped_at  # both ranks stopped at the same step and saved it whole
    assert {p.name for p in checkpoint.glob("rng_state_*.pth")} == {"rng_state_0.pth", "rng_state_1.pth"}
    assert not (run.checkpoints_dir / checkpoints.STAGING).exists()
    events = run.read_events()
    assert [e["step"] for e in events] == list(range(1, stopped_at + 1))  # rank 0 alone writes them
    assert output.count(f"stopped at step {stopped_at}") == 1 and output.count("step 1/200") == 1
    assert json.loads(run.best_path.read_text())["step"] in range(2, stopped_at + 1, 2)

    lock.release()
    # The checkpoint of two ranks resumes (here in one process: on the CPU torch cannot map the ranks' "cpu:0"
    # optimizer state back; the GPU tests resume on two ranks).
    resumed = run_engine("train", run.path, "--resume", "--set", f"train.max_steps={stopped_at + 2}")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"resuming from checkpoint-{stopped_at}" in resumed.stdout
    assert run.read_status().state == "completed" and run.read_status().step == stopped_at + 2
    assert [e["step"] for e in run.read_events()] == list(range(1, stopped_at + 3))
