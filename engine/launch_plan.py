"""What `engine train` starts when a run needs more than its own process, as data: the vLLM server's command (TRL's
`trl vllm-serve`), the trainer's command (`accelerate launch` over the training GPUs, or one plain process beside a
server) and the accelerate config, each with the environment it adds.

    vLLM server   python -m trl.scripts.vllm_serve --model M --host 127.0.0.1 --port P ...   (TRL's own CLI, which
                  runs vLLM's server with the weight-sync endpoints TRL's client needs); CUDA_VISIBLE_DEVICES = the
                  rollout GPUs (nvidia-smi's numbers). Loopback only: the server takes weights from whoever connects,
                  and the appliance may sit on a LAN.
    trainer       python -m accelerate.commands.launch --config_file RUN/accelerate.yaml --num_processes N
                  --main_process_port Q -m engine train RUN --worker ...   (one rank per training GPU), or
                  python -m engine train RUN --worker ...   (one training GPU beside the server)

The accelerate config is TRL's own recipe for the strategy (trl/accelerate_configs: multi_gpu.yaml for DDP,
fsdp2.yaml, zero3.yaml) with the run's process count and port. On a GPU shared by the server and the trainer, NCCL
(through which TRL pushes the weights to the server) refuses two ranks on one GPU ("Duplicate GPU detected"); each
side then gets its own NCCL_HOSTID, so NCCL takes them for two hosts and carries the weights over its socket
transport on the loopback interface.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

from engine.backends import RunPlan
from engine.backends.base import RolloutServerAddress
from engine.config import RunConfig
from engine.gpu_split import GpuSplit

SERVER_HOST = "127.0.0.1"
ACCELERATE_TEMPLATES = {"ddp": "multi_gpu.yaml", "fsdp": "fsdp2.yaml", "zero3": "zero3.yaml"}
ACCELERATE_CONFIG_NAME = "accelerate.yaml"
SERVER_LOG_NAME = "vllm-server.log"


@dataclass(frozen=True)
class ChildCommand:
    argv: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)  # added to (and overriding) the parent's environment

    def environment(self) -> dict[str, str]:
        return {**os.environ, **self.env}


@dataclass(frozen=True)
class LaunchPlan:
    trainer: ChildCommand
    server: ChildCommand | None = None
    address: RolloutServerAddress | None = None
    accelerate_config: dict | None = None  # written to RUN/accelerate.yaml before the trainer starts

    @property
    def server_health_url(self) -> str | None:
        # vLLM's own route, which TRL's client polls too (trl.generation.vllm_client.VLLMClient.check_server).
        return f"{self.address.base_url}/health" if self.address else None


def free_port() -> int:
    """A TCP port free on the loopback interface now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((SERVER_HOST, 0))
        return probe.getsockname()[1]


def gpu_env(gpus) -> dict[str, str]:
    """The environment that shows a child exactly these GPUs, by nvidia-smi's numbers: CUDA numbers them the same
    way in PCI bus order (its default puts the fastest first). Numbers, not UUIDs: vLLM reads them as integers."""
    return {"CUDA_DEVICE_ORDER": "PCI_BUS_ID", "CUDA_VISIBLE_DEVICES": ",".join(str(g.index) for g in gpus)}


def accelerate_config(strategy: str, processes: int, port: int) -> dict:
    """TRL's accelerate recipe for the strategy, for `processes` ranks on this machine."""
    template = resources.files("trl") / "accelerate_configs" / ACCELERATE_TEMPLATES[strategy]
    config = yaml.safe_load(template.read_text(encoding="utf-8"))
    config.update(num_processes=processes, main_process_port=port, num_machines=1, machine_rank=0,
                  mixed_precision="bf16", use_cpu=False)
    return config


def server_command(config: RunConfig, model_path: str, plan: RunPlan, port: int) -> ChildCommand:
    """TRL's `trl vllm-serve` for this run, on the split's rollout GPUs with vLLM's share sized to the run."""
    split = plan.split
    argv = (sys.executable, "-m", "trl.scripts.vllm_serve", "--model", model_path, "--host", SERVER_HOST,
            "--port", str(port), "--tensor_parallel_size", str(len(split.rollout)),
            "--gpu_memory_utilization", f"{plan.vllm_share:g}", "--max_model_len", str(config.model.max_seq_length),
            "--log_level", "warning")
    return ChildCommand(argv, {**gpu_env(split.rollout), **_shared_gpu_env(split, "rollout")})


def trainer_command(run_dir: Path, plan: RunPlan, resume: bool, address: RolloutServerAddress | None,
                    accelerate_port: int, grpo_overrides: dict | None = None) -> ChildCommand:
    """The training process(es): `engine train RUN --worker` under accelerate for several ranks, alone for one.
    `grpo_overrides`: extra GRPOConfig arguments (bench/grpo_bench.py's forced completion lengths)."""
    split = plan.split
    worker = ["-m", "engine", "train", str(run_dir), "--worker", "--backend", plan.backend.name]
    if address is not None:
        worker += ["--rollout-server", address.base_url, "--group-port", str(address.group_port)]
    if resume:
        worker.append("--resume")
    if grpo_overrides:
        worker += ["--grpo-json", json.dumps(grpo_overrides)]
    if split.processes > 1:
        launcher = [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
                    str(run_dir / ACCELERATE_CONFIG_NAME), "--num_processes", str(split.processes),
                    "--main_process_port", str(accelerate_port)]
        argv = (*launcher, *worker)
    else:
        argv = (sys.executable, *worker)
    env = {**gpu_env(split.training), **_shared_gpu_env(split, "trainer")}
    return ChildCommand(argv, env)


def _shared_gpu_env(split: GpuSplit, side: str) -> dict[str, str]:
    """On one GPU shared by server and trainer: two NCCL "hosts" (see the module's docstring)."""
    if not split.shared:
        return {}
    return {"NCCL_HOSTID": f"grpo-studio-{side}", "NCCL_SOCKET_IFNAME": "lo", "NCCL_IB_DISABLE": "1"}


def launch_plan(config: RunConfig, run_dir: Path, model_path: str, plan: RunPlan, resume: bool,
                grpo_overrides: dict | None = None) -> LaunchPlan:
    """Everything `engine train` starts for this run; ports are picked free on this machine now."""
    split = plan.split
    address, server = None, None
    if split.rollout:
        port = free_port()
        address = RolloutServerAddress(f"http://{SERVER_HOST}:{port}", free_port())
        server = server_command(config, model_path, plan, port)
    accelerate_port = free_port()
    trainer = trainer_command(Path(run_dir), plan, resume, address, accelerate_port, grpo_overrides)
    settings = accelerate_config(split.strategy, split.processes, accelerate_port) if split.processes > 1 else None
    return LaunchPlan(trainer, server, address, settings)
