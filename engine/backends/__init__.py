"""Backends and rollout engines: which library trains the model, and which one generates the completions.

  unsloth (unsloth.py)  CUDA. Unsloth's FastLanguageModel; rollout `vllm` is Unsloth's fast_inference (vLLM shares
                        the training weights), rollout `hf` is generate through Unsloth.
  hf      (hf.py)       any device. transformers + peft; rollout `vllm` is TRL's colocate mode (vLLM beside the model,
                        its own copy of the weights), rollout `hf` is transformers' generate.

`model.backend: auto` takes unsloth where CUDA and Unsloth are there, else hf; `model.rollout: auto` takes vLLM where
CUDA and vLLM are there. `model.rollout: vllm_server` is TRL's server mode on the hf backend: a vLLM server of its
own (engine/rollout_server.py) on the GPUs engine/gpu_split.py gives it. The training process, `check` and the VRAM
estimate work from one `RunPlan`. Adding a backend is one module with a `BACKEND` object, listed in BACKENDS.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.backends import hf, unsloth
from engine.backends.base import ROLLOUT_LABELS, Backend
from engine.backends.vllm_memory import VllmBudget, vllm_budget
from engine.config import ModelConfig, RunConfig
from engine.gpu import GpuInfo
from engine.gpu_split import GpuSplit, asks_for_several_gpus, split_gpus
from engine.model_names import installed
from engine.model_shape import ModelShape
from engine.problems import Problem

BACKENDS: dict[str, Backend] = {b.name: b for b in (unsloth.BACKEND, hf.BACKEND)}  # auto's order of preference
FALLBACK_VLLM_SHARE = 0.5  # when the model's shape is unknown, so its need cannot be sized
ONE_PROCESS = GpuSplit(())  # a plan made inside a training process: one process, on the GPU it sees


def backend_for(config: RunConfig, cuda: bool) -> Backend:
    """The configured backend; for auto, Unsloth where CUDA and Unsloth are there, else hf (hf always for server mode
    or several GPUs). `check`, the app and the
    training process all decide through this. Measured on an H200 with vLLM rollouts, both in the same call
    (bench/RESULTS.md, whose figures are the ones to quote): the two tie at the presets' 8 completions a step, Unsloth
    is a little slower at 64, and it needs a seventh to a quarter of the memory. So auto keeps Unsloth, which fits far
    more on a workstation card."""
    if config.model.backend != "auto":
        return BACKENDS[config.model.backend]
    # TRL's server mode and training on several GPUs are the hf backend's (Unsloth's multi-GPU GRPO is not dependable).
    if config.model.rollout == "vllm_server" or asks_for_several_gpus(config):
        return BACKENDS["hf"]
    return next((b for b in BACKENDS.values() if b.usable(cuda)), BACKENDS["hf"])


def plan_for_machine(config: RunConfig, cuda: bool, shape: ModelShape | None, visible: list[GpuInfo],
                     free_gib: float | None) -> RunPlan:
    """The plan of a run launched here: the backend, the GPU split over `visible` and vLLM's share, as `check` and the
    app show it and `engine train` launches it."""
    backend = backend_for(config, cuda)
    split = split_gpus(config, visible, backend.name, choose_rollout(config.model, cuda))
    total = split.training[0].total_gib if split.training else None
    return plan_run(config, backend, cuda, shape, free_gib, total, split)


def choose_rollout(model: ModelConfig, cuda: bool) -> str:
    if model.rollout != "auto":
        return model.rollout
    return "vllm" if cuda and installed("vllm") else "hf"


@dataclass(frozen=True)
class RunPlan:
    backend: Backend
    rollout: str  # "hf", "vllm" or "vllm_server"
    vllm: VllmBudget | None  # the sized need (None: not vLLM, or the model's shape is unknown)
    vllm_share: float | None  # gpu_memory_utilization handed to the rollout engine
    vllm_share_source: str  # "sized", "set" (model.gpu_memory_utilization) or "fallback"
    available_gib: float | None  # what the share is a share of (free at load for Unsloth, the card for vLLM)
    split: GpuSplit = ONE_PROCESS  # which GPUs train and serve

    @property
    def uses_vllm(self) -> bool:
        return self.rollout in ("vllm", "vllm_server")

    def describe(self) -> str:
        return f"{self.backend.name} ({self.backend.summary}), rollouts: {ROLLOUT_LABELS[self.rollout]}"

    def describe_vllm(self, standby: bool = False) -> str:
        """The memory line of log.txt and `check`: what vLLM gets and why."""
        if not self.uses_vllm:
            return ""
        if standby:
            return "vLLM in standby: Unsloth sizes its share of the GPU and frees the KV cache while training"
        if self.rollout == "vllm_server":
            if not self.split.rollout:  # a training process's own plan: `engine train` sized and started the server
                return ""
            per_gpu = " per GPU" if len(self.split.rollout) > 1 else ""
            card = f"its {self.available_gib:.0f} GiB card" if self.available_gib else "the card"
            of = f"{per_gpu} of {card}"
            if self.vllm_share_source == "set":
                return f"the vLLM server takes {self.vllm_share:g}{of} (model.gpu_memory_utilization)"
            if self.vllm_share_source == "fallback":
                return (f"the vLLM server takes {self.vllm_share:g}{of}: the model's shape is unknown, so its need "
                        "could not be sized; set model.gpu_memory_utilization to choose")
            rest = "; the trainer has the rest of the GPU" if self.split.shared else ""
            return f"the vLLM server sized to this run: {self.vllm.describe()} = {self.vllm_share:g}{of}{rest}"
        of = "free at load" if self.backend.vllm_share_of == "free" else "of the card"
        where = f" of {self.available_gib:.0f} GiB {of}" if self.available_gib else f" ({of})"
        if self.vllm_share_source == "set":
            return f"vLLM takes {self.vllm_share:g}{where} (model.gpu_memory_utilization)"
        if self.vllm_share_source == "fallback":
            return (f"vLLM takes {self.vllm_share:g}{where}: the model's shape is unknown, so its need could not be "
                    "sized; set model.gpu_memory_utilization to choose")
        return f"vLLM sized to this run: {self.vllm.describe()} = {self.vllm_share:g}{where}"


def plan_run(config: RunConfig, backend: Backend, cuda: bool, shape: ModelShape | None, free_gib: float | None,
             total_gib: float | None, split: GpuSplit = ONE_PROCESS) -> RunPlan:
    """The rollout engine and vLLM's share for this run with `backend` on this machine. `free_gib`/`total_gib`: the
    GPU's memory (None without one); the training process passes what torch sees at load, `check` what NVML sees.
    The vLLM server's share is of its own first GPU's card, sized for every training process's rollouts."""
    m = config.model
    rollout = choose_rollout(m, cuda)
    if rollout == "hf":
        return RunPlan(backend, rollout, None, None, "", None, split)
    if rollout == "vllm_server":
        available = split.rollout[0].total_gib if split.rollout else total_gib
        budget = (vllm_budget(config, shape, split.processes, max(1, len(split.rollout))) if shape is not None
                  else None)
    else:
        available = free_gib if backend.vllm_share_of == "free" else total_gib
        budget = vllm_budget(config, shape) if shape is not None else None
    if m.gpu_memory_utilization is not None:
        share, source = m.gpu_memory_utilization, "set"
    elif budget is not None and available:
        share, source = budget.share_of(available), "sized"
    else:
        share, source = FALLBACK_VLLM_SHARE, "fallback"
    return RunPlan(backend, rollout, budget, share, source, available, split)


def plan_problems(config: RunConfig, plan: RunPlan, cuda: bool) -> list[Problem]:
    """What the chosen backend and rollout engine cannot do here, one sentence each."""
    m, problems = config.model, []
    if m.backend != "auto" and not plan.backend.usable(cuda):
        missing = [name for name in plan.backend.requires if not installed(name)]
        reason = ("there is no NVIDIA GPU here" if plan.backend.needs_cuda and not cuda
                  else f"{', '.join(missing)} is not installed here")
        problems.append(Problem("model.backend", f"the {plan.backend.name} backend needs {plan.backend.needs}, and "
                                                 f"{reason}; use backend auto or hf, or the Docker image"))
    if m.rollout in ("vllm", "vllm_server") and not (cuda and installed("vllm")):
        reason = "there is no NVIDIA GPU here" if not cuda else "vLLM is not installed here"
        problems.append(Problem("model.rollout", f"vLLM rollouts need an NVIDIA GPU and vLLM, and {reason}; set "
                                                 "model.rollout to auto or hf"))
    return problems + plan.backend.problems(config, cuda, plan.rollout)

