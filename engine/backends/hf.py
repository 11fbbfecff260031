"""The `hf` backend: transformers + peft + TRL's GRPOTrainer, on any device.

Rollouts: `hf` is transformers' generate on the training model; `vllm` is TRL's own colocate mode (vLLM runs in the
training process with its own copy of the weights, and TRL pushes the LoRA-merged weights to it before each
generation); `vllm_server` is TRL's server mode (a vLLM server of its own, started by `engine train`; TRL sends it the
prompts over HTTP and the merged weights over NCCL). This is the path for models Unsloth does not support, for
training on several GPUs, and the honest peer in bench/grpo_bench.py.
"""

from __future__ import annotations

import os

from engine.backends.base import Backend, Loaded, RolloutServerAddress
from engine.backends.vllm_memory import colocate_max_model_length
from engine.config import RunConfig
from engine.model_names import load_tokenizer
from engine.problems import Problem

SERVER_CONNECT_TIMEOUT_S = 60.0
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def lora_targets(model) -> list[str] | str:
    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    targets = [t for t in LORA_TARGETS if t in names]
    return targets or "all-linear"


class HfBackend(Backend):
    name = "hf"
    summary = "transformers + peft + TRL"
    requires = ("transformers", "peft", "trl")
    needs = "transformers, peft and TRL"

    def problems(self, config: RunConfig, cuda: bool, rollout: str) -> list[Problem]:
        problems = []
        if config.model.load_in_fp8:
            problems.append(Problem("model.load_in_fp8", "FP8 loading needs the unsloth backend; set model.backend "
                                                         "to unsloth or auto"))
        if config.model.vllm_standby:
            problems.append(Problem("model.vllm_standby", "standby is Unsloth's; with the hf backend turn it off"))
        if config.model.load_in_4bit and rollout in ("vllm", "vllm_server"):
            # TRL's colocate mode reloads the model in vLLM from its name; a 4-bit bitsandbytes load is refused there.
            problems.append(Problem("model.load_in_4bit", "TRL's vLLM rollouts need the 16-bit model; turn "
                                                          "load_in_4bit off or set model.rollout to hf"))
        return problems

    def load(self, config: RunConfig, path: str, rollout: str, vllm_share: float | None) -> Loaded:
        import torch
        from peft import LoraConfig
        from transformers import AutoModelForCausalLM

        m = config.model
        cuda = torch.cuda.is_available()
        kwargs = {"dtype": torch.bfloat16 if cuda else torch.float32, "attn_implementation": "sdpa"}
        if m.load_in_4bit:
            from transformers import BitsAndBytesConfig

            kwargs["quantization_config"] = BitsAndBytesConfig(
                load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16,
                bnb_4bit_use_double_quant=True)
        # Sharded training (FSDP, ZeRO-3 over several processes) places and shards the weights itself; loading the
        # whole model onto each GPU first is what it avoids.
        sharded = config.hardware.strategy != "ddp" and int(os.environ.get("WORLD_SIZE", "1")) > 1
        if cuda and not sharded:
            kwargs["device_map"] = {"": torch.cuda.current_device()}
        model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
        tokenizer = load_tokenizer(path)
        peft_config = LoraConfig(r=m.lora_rank, lora_alpha=m.lora_alpha or m.lora_rank,
                                 target_modules=lora_targets(model), lora_dropout=0.0, task_type="CAUSAL_LM")
        return Loaded(model, tokenizer, peft_config)

    def grpo_arguments(self, config: RunConfig, tokenizer, rollout: str, vllm_share: float | None,
                       cuda: bool, server: RolloutServerAddress | None = None) -> dict:
        arguments = {"gradient_checkpointing": cuda and config.model.gradient_checkpointing}
        if rollout == "vllm":
            arguments.update(use_vllm=True, vllm_mode="colocate", vllm_gpu_memory_utilization=vllm_share,
                             vllm_max_model_length=colocate_max_model_length(config))
        elif rollout == "vllm_server":
            if server is None:
                raise ValueError("rollout vllm_server needs the address of the vLLM server that engine train started")
            # engine train waited for the server's /health before starting this process, so TRL's own wait for it
            # (vllm_server_timeout) only covers a server that went away since.
            arguments.update(use_vllm=True, vllm_mode="server", vllm_server_base_url=server.base_url,
                             vllm_group_port=server.group_port, vllm_server_timeout=SERVER_CONNECT_TIMEOUT_S)
        return arguments


BACKEND = HfBackend()
