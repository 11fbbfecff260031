"""Which GPUs train and which run the vLLM server: `hardware` laid over this machine's GPUs.

  one GPU                            one training process, as always (vLLM, if any, inside it or beside it)
  N GPUs, rollout vllm or hf         N training processes through `accelerate launch` (hardware.strategy: DDP, FSDP
                                     or ZeRO-3); with vLLM rollouts each process has its own (TRL's colocate mode)
  rollout vllm_server, N > r GPUs    the last r GPUs (hardware.rollout_gpus) run TRL's vLLM server, tensor-parallel;
                                     the first N - r train
  rollout vllm_server, one GPU       the server and the trainer share it: the server takes its sized share first
                                     (engine/backends/vllm_memory.py), the trainer the rest

Unsloth trains on one GPU (its multi-GPU GRPO is not dependable): with every GPU left to auto it takes the first;
asked for more, `check` refuses. GPUs are named by nvidia-smi's numbers. On a machine of several GPUs (or with
hardware.gpus set) the training always runs in child processes that see only their GPUs (CUDA_VISIBLE_DEVICES), even
on one GPU: `engine train` itself must not have touched CUDA, or imported Unsloth, before it knows which GPU trains.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.config import RunConfig
from engine.gpu import GpuInfo
from engine.model_names import installed
from engine.model_shape import ModelShape
from engine.problems import Problem

STRATEGY_LABELS = {"ddp": "DDP", "fsdp": "FSDP", "zero3": "DeepSpeed ZeRO-3"}


def launches_children(config: RunConfig, visible: list[GpuInfo]) -> bool:
    """Whether `engine train` runs the training in child processes: for the vLLM server, for several GPUs, and for
    one GPU chosen among several. Decidable before anything imports CUDA or Unsloth."""
    return config.model.rollout == "vllm_server" or config.hardware.gpus is not None or len(visible) > 1


@dataclass(frozen=True)
class GpuSplit:
    training: tuple[GpuInfo, ...]  # rank order; empty without a GPU
    rollout: tuple[GpuInfo, ...] = ()  # the vLLM server's GPUs: empty unless model.rollout is vllm_server
    strategy: str = "ddp"
    pinned: bool = False  # launched on the training GPU(s) even as one process (launches_children)

    @property
    def processes(self) -> int:
        """Training processes: one per training GPU, one on a CPU."""
        return max(1, len(self.training))

    @property
    def shared(self) -> bool:
        """The vLLM server and the trainer on the same (single) GPU."""
        return bool(self.rollout) and self.rollout == self.training

    @property
    def launched(self) -> bool:
        """Whether `engine train` runs the training in child processes (a vLLM server, several ranks, or one GPU
        among several)."""
        return bool(self.rollout) or self.processes > 1 or (self.pinned and bool(self.training))

    @property
    def gpus(self) -> tuple[GpuInfo, ...]:
        """Every GPU of the run, the training ones first (the first is the one events' single-GPU keys describe)."""
        return self.training + tuple(g for g in self.rollout if g not in self.training)

    def describe(self) -> str:
        """The split in words, for `check` and log.txt."""
        if not self.training:
            return "no NVIDIA GPU: one training process on the CPU"
        names = ", ".join(str(g.index) for g in self.training)
        training = (f"training on GPU {names}" if self.processes == 1 else
                    f"training on GPUs {names} ({self.processes} processes, {STRATEGY_LABELS[self.strategy]})")
        if not self.rollout:
            return training
        if self.shared:
            return f"{training}, sharing it with the vLLM server"
        servers = ", ".join(str(g.index) for g in self.rollout)
        tensor_parallel = f", tensor parallel {len(self.rollout)}" if len(self.rollout) > 1 else ""
        return f"{training}; vLLM server on GPU{'s' if len(self.rollout) > 1 else ''} {servers}{tensor_parallel}"


def split_gpus(config: RunConfig, visible: list[GpuInfo], backend: str, rollout: str) -> GpuSplit:
    """The split for this config on these GPUs with the resolved backend and rollout engine. Where the config asks
    for what cannot be (split_problems says why), the split is the nearest that can, so estimates still show."""
    h = config.hardware
    pool = _pool(config, visible)
    pinned = launches_children(config, visible)
    if rollout == "vllm_server" and pool:
        if len(pool) == 1:
            return GpuSplit(tuple(pool), tuple(pool), h.strategy, pinned)
        servers = min(h.rollout_gpus, len(pool) - 1)
        return GpuSplit(tuple(pool[:-servers]), tuple(pool[-servers:]), h.strategy, pinned)
    if backend == "unsloth" or not pool:
        return GpuSplit(tuple(pool[:1]), (), h.strategy, pinned)
    return GpuSplit(tuple(pool), (), h.strategy, pinned)


def _pool(config: RunConfig, visible: list[GpuInfo]) -> list[GpuInfo]:
    """The run's GPUs: those hardware.gpus names that are here, in its order, or every visible one."""
    if config.hardware.gpus is None:
        return list(visible)
    by_index = {g.index: g for g in visible}
    return [by_index[i] for i in config.hardware.gpus if i in by_index]


def asks_for_several_gpus(config: RunConfig) -> bool:
    return config.hardware.gpus is not None and len(config.hardware.gpus) > 1


def split_problems(config: RunConfig, visible: list[GpuInfo], backend: str, rollout: str,
                   shape: ModelShape | None) -> list[Problem]:
    """What the GPU split asks for that cannot work, one sentence each."""
    h, problems = config.hardware, []
    if h.gpus is not None:
        missing = [i for i in h.gpus if i not in {g.index for g in visible}]
        if missing and not visible:
            problems.append(Problem("hardware.gpus", "names GPUs, but there is no NVIDIA GPU here; leave it empty"))
        elif missing:
            here = ", ".join(str(g.index) for g in visible)
            plural = "s" if len(visible) > 1 else ""
            problems.append(Problem("hardware.gpus", f"GPU {missing[0]} is not here; this machine shows GPU{plural} "
                                                     f"{here} (nvidia-smi's numbers)"))
    pool = _pool(config, visible)
    if backend == "unsloth" and asks_for_several_gpus(config):
        problems.append(Problem("model.backend", "Unsloth trains on one GPU (its multi-GPU GRPO is not dependable); "
                                                 "set model.backend to hf or auto, or hardware.gpus to one GPU"))
    split = split_gpus(config, visible, backend, rollout)
    if rollout == "vllm_server" and pool:
        if len(pool) == 1 and h.rollout_gpus > 1:
            problems.append(Problem("hardware.rollout_gpus", f"{h.rollout_gpus} GPUs for the vLLM server, but this "
                                                             "run has one GPU; set it to 1 to share that GPU"))
        elif len(pool) > 1 and h.rollout_gpus >= len(pool):
            problems.append(Problem("hardware.rollout_gpus", f"{h.rollout_gpus} GPUs for the vLLM server leave none "
                                                             f"of this run's {len(pool)} to train on; set it to at "
                                                             f"most {len(pool) - 1}"))
        else:
            problems += tensor_parallel_problems(len(split.rollout), len(pool) - 1, shape)
    if split.processes > 1 and h.strategy == "zero3" and not installed("deepspeed"):
        problems.append(Problem("hardware.strategy", "zero3 needs DeepSpeed, which is not installed here; use fsdp "
                                                     "(PyTorch's own sharding) or ddp"))
    if split.processes > 1 and h.strategy != "ddp" and config.model.load_in_4bit:
        problems.append(Problem("model.load_in_4bit", f"4-bit loading trains on several GPUs with ddp, not "
                                                      f"{h.strategy}; set hardware.strategy to ddp or turn 4-bit off"))
    return problems


def divides_heads(size: int, shape: ModelShape) -> bool:
    """vLLM splits the attention heads evenly over tensor-parallel GPUs; KV heads are split, or replicated when there
    are fewer of them than GPUs."""
    kv = shape.kv_heads or shape.heads
    return shape.heads % size == 0 and (kv % size == 0 or size % kv == 0)


def tensor_parallel_problems(size: int, most: int, shape: ModelShape | None) -> list[Problem]:
    if size <= 1 or shape is None or not shape.heads:
        return []
    if divides_heads(size, shape):
        return []
    fitting = [str(n) for n in range(1, most + 1) if divides_heads(n, shape)]
    return [Problem("hardware.rollout_gpus", f"the model's {shape.heads} attention heads ({shape.kv_heads} KV heads) "
                                             f"cannot be split evenly over {size} GPUs; use {' or '.join(fitting)}")]
