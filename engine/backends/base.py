"""What every backend provides. A backend loads the model for training and says which GRPOConfig arguments its
rollout engine needs; the training process, `check` and the VRAM estimate ask it instead of testing its name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.config import RunConfig
from engine.model_names import installed
from engine.problems import Problem

ROLLOUT_LABELS = {"hf": "HF generate", "vllm": "vLLM", "vllm_server": "vLLM server (TRL's server mode)"}


@dataclass(frozen=True)
class RolloutServerAddress:
    """Where the training process reaches the vLLM server `engine train` started (TRL's server mode): its HTTP
    address and the port of the NCCL group through which TRL pushes the trained weights to it."""
    base_url: str
    group_port: int


@dataclass
class Loaded:
    model: Any
    tokenizer: Any
    peft_config: Any | None  # None when the backend attached LoRA itself


class Backend:
    name: str = ""
    summary: str = ""
    needs_cuda: bool = False
    requires: tuple[str, ...] = ()  # modules that must import
    needs: str = ""  # what `usable` checks, in words
    # Whether vLLM holds the training weights (one copy) or its own copy beside the training model.
    vllm_shares_weights: bool = False
    # What vLLM's gpu_memory_utilization is a share of: "free" memory at load (Unsloth) or the "total" card (vLLM).
    vllm_share_of: str = "total"

    def usable(self, cuda: bool) -> bool:
        return (cuda or not self.needs_cuda) and all(installed(m) for m in self.requires)

    def prepare_process(self, config: RunConfig) -> None:
        """Called first in the training process, before anything imports transformers or trl."""

    def problems(self, config: RunConfig, cuda: bool, rollout: str) -> list[Problem]:
        """What this backend cannot do with this config on this machine (one sentence each)."""
        return []

    def load(self, config: RunConfig, path: str, rollout: str, vllm_share: float | None) -> Loaded:
        raise NotImplementedError

    def callbacks(self, config: RunConfig) -> list:
        """TrainerCallbacks this backend adds to the trainer."""
        return []

    def grpo_arguments(self, config: RunConfig, tokenizer, rollout: str, vllm_share: float | None,
                       cuda: bool, server: RolloutServerAddress | None = None) -> dict:
        """GRPOConfig arguments of this backend and rollout engine (`server`: the vLLM server of rollout
        vllm_server)."""
        return {}
