"""`engine train` for a run that needs more than its own process (engine/gpu_split.py says when): a vLLM server of
its own (model.rollout vllm_server, TRL's server mode), or training on several GPUs (`accelerate launch`).

  1. The vLLM server is started on its GPUs (TRL's `trl vllm-serve`), with its own log (RUN/vllm-server.log);
     training starts only once vLLM's /health answers.
  2. The training starts: one rank per training GPU through `accelerate launch`, or one process beside the server
     (`engine train RUN --worker`); their output is relayed into this process's log.
  3. While it trains: a STOP file, SIGTERM or Ctrl-C becomes the STOP file the ranks read, and they stop together at
     the end of the step, with a checkpoint and the adapter. Should the server die, the training (which may wait for
     it inside NCCL forever) is stopped and the run fails with one sentence naming the server's log.
  4. Whatever happened, the training is stopped first, then the server (engine/child_group.py: process groups,
     atexit, the kernel's parent-death signal).

status.json keeps this process's identity (the app's stop and the one-run lock name it); the main rank writes
the rest of the run folder while it trains.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import threading
import time

import yaml

from engine import training
from engine.backends import RunPlan
from engine.child_group import ChildGroup
from engine.config import RunConfig
from engine.launch_plan import ACCELERATE_CONFIG_NAME, SERVER_LOG_NAME, LaunchPlan, launch_plan
from engine.rollout_server import RolloutServer
from engine.runs.folder import RunFolder

POLL_S = 0.5
STOP_GRACE_S = 10.0  # a trainer stuck waiting for a dead server gets this long before SIGKILL


class OutputRelay(threading.Thread):
    """Copies the training processes' output into ours (the run's log), line by line, and keeps the first line a
    rank closed with ('failed: ...'), in case the main rank could not write its own."""

    def __init__(self, stream):
        super().__init__(daemon=True)
        self.stream, self.failure = stream, None

    def run(self):
        for raw in iter(self.stream.readline, b""):
            line = raw.decode("utf-8", "replace")
            if self.failure is None and line.startswith("failed: "):
                self.failure = line.removeprefix("failed: ").strip()
            with contextlib.suppress(OSError, ValueError):
                sys.stdout.write(line)
                sys.stdout.flush()


def train_launched(config: RunConfig, run: RunFolder, plan: RunPlan, model_path: str, resume: bool,
                   stop: training.StopRequest, launch: LaunchPlan | None = None,
                   grpo_overrides: dict | None = None) -> str:
    """Run the training as `plan` splits it; returns the final state (completed, stopped or failed). Never raises
    for a run error. `launch` defaults to the commands the plan makes (tests give a stand-in server's);
    `grpo_overrides` are extra GRPOConfig arguments for the trainer (bench/grpo_bench.py)."""
    training.log_to_run_folder(run)
    launch = launch or launch_plan(config, run.path, model_path, plan, resume, grpo_overrides)
    signal.signal(signal.SIGINT, stop._on_signal)  # Ctrl-C: the same graceful stop as SIGTERM
    server = trainer = None
    try:
        split = plan.split
        run.write_status(backend=plan.backend.name, gpus=[g.index for g in split.gpus] or None)
        memory = plan.describe_vllm() if plan.rollout == "vllm_server" else ""
        print(f"run folder: {run.path}\nbackend: {plan.backend.name}; model: {config.model.name}\n"
              f"GPUs: {split.describe()}" + (f"\n{memory}" if memory else ""), flush=True)
        if stop.requested:
            return training.finish_before_training(run)
        if launch.server is not None:
            server = RolloutServer(launch.server, launch.server_health_url, run.path / SERVER_LOG_NAME)
            server.start()
            started = time.monotonic()
            print(f"vLLM server: starting (pid {server.group.pid}); its log: {server.log_path}", flush=True)
            outcome = server.wait_ready(lambda: stop.requested)
            if outcome == "stopped":
                return training.finish_before_training(run)
            if outcome != "ready":
                raise training.RunFailure(server.failure("before it was ready"))
            print(f"vLLM server: ready at {launch.address.base_url} after {time.monotonic() - started:.0f} s",
                  flush=True)
        if launch.accelerate_config is not None:
            (run.path / ACCELERATE_CONFIG_NAME).write_text(yaml.safe_dump(launch.accelerate_config), encoding="utf-8")
        trainer = ChildGroup("training")
        trainer.start(launch.trainer.argv, launch.trainer.environment(), subprocess.PIPE)
        relay = OutputRelay(trainer.process.stdout)
        relay.start()
        relayed = False
        while trainer.alive:
            if stop.signalled and not relayed:
                run.request_stop()  # the ranks read the file; a signal reaches only this process
                relayed = True
            if server is not None and not server.alive:
                trainer.stop(STOP_GRACE_S)
                raise training.RunFailure(server.failure("while the run was training"))
            time.sleep(POLL_S)
        relay.join(timeout=10)
        status = run.read_status()
        if server is not None and not server.alive and status.state == "failed":
            # The trainer noticed first (a refused connection); what the user needs is why the server went.
            raise training.RunFailure(server.failure("while the run was training"))
        if status.state in ("completed", "stopped", "failed"):
            run.stop_path.unlink(missing_ok=True)  # one relayed after the main rank's last look must not linger
            return status.state
        raise training.RunFailure(relay.failure or f"the training process ended (exit code {trainer.exit_code}) "
                                                   f"before it could say why; see {run.log_path}")
    except BaseException as error:  # the run folder must say what happened, whatever happened
        if trainer is not None:
            trainer.stop(STOP_GRACE_S)  # before the status is written: a rank must not write after it
        return training.fail(run, error)
    finally:
        if trainer is not None:
            trainer.stop(STOP_GRACE_S)
        if server is not None:
            server.stop()
