"""The `unsloth` backend: Unsloth's FastLanguageModel (4-bit / FP8 loads, its gradient checkpointing) and TRL's
GRPOTrainer as Unsloth patches it, on CUDA.

Rollouts: `vllm` is Unsloth's fast_inference (vLLM holds the weights and training shares them: one copy, no weight
sync); `hf` is generate through Unsloth. Unsloth patches trl and transformers when it is imported, so the training
process imports it before anything else (`prepare_process`), and nothing else ever imports it.
"""

from __future__ import annotations

import os

from engine.backends.base import Backend, Loaded, RolloutServerAddress
from engine.backends.hf import LORA_TARGETS
from engine.config import RunConfig
from engine.model_names import prepare_tokenizer
from engine.problems import Problem


class UnslothBackend(Backend):
    name = "unsloth"
    summary = "Unsloth"
    needs_cuda = True
    requires = ("unsloth",)
    needs = "an NVIDIA GPU and Unsloth"
    vllm_shares_weights = True
    # unsloth_zoo.vllm_utils: `free_memory = gpu_memory_utilization * free_memory` at load.
    vllm_share_of = "free"

    def prepare_process(self, config: RunConfig) -> None:
        # Standby is read from the environment when unsloth is imported.
        if config.model.vllm_standby:
            os.environ["UNSLOTH_VLLM_STANDBY"] = "1"
        import unsloth  # noqa: F401

    def problems(self, config: RunConfig, cuda: bool, rollout: str) -> list[Problem]:
        if rollout == "vllm_server":
            return [Problem("model.rollout", "vllm_server is TRL's server mode, which runs on the hf backend "
                                             "(Unsloth's multi-GPU GRPO is not dependable); set model.backend to hf "
                                             "or auto")]
        if config.model.vllm_standby and rollout != "vllm":
            return [Problem("model.vllm_standby", "standby needs vLLM rollouts; set model.rollout to vllm or auto, "
                                                  "or turn standby off")]
        return []

    def load(self, config: RunConfig, path: str, rollout: str, vllm_share: float | None) -> Loaded:
        from unsloth import FastLanguageModel

        m, seed = config.model, config.train.seed
        # load_in_4bit is passed either way: Unsloth's own default is True. random_state seeds vLLM's sampler too.
        kwargs = dict(model_name=path, max_seq_length=m.max_seq_length, load_in_4bit=m.load_in_4bit,
                      fast_inference=rollout == "vllm", max_lora_rank=m.lora_rank, random_state=seed)
        if m.load_in_fp8:
            kwargs["load_in_fp8"] = True
        if rollout == "vllm":
            # Unsloth picks vLLM's max_num_seqs from the KV cache it sees (8 sequences under 2 GB, 16 under 4 GB...),
            # so a pool sized to the run would generate a batch of 64 in waves; the batch is what must run at once.
            kwargs.update(gpu_memory_utilization=vllm_share, max_num_seqs=config.train.generation_batch)
        model, tokenizer = FastLanguageModel.from_pretrained(**kwargs)
        model = FastLanguageModel.get_peft_model(
            model, r=m.lora_rank, lora_alpha=m.lora_alpha or m.lora_rank, target_modules=LORA_TARGETS,
            use_gradient_checkpointing="unsloth" if m.gradient_checkpointing else False, random_state=seed)
        prepare_tokenizer(tokenizer)
        return Loaded(model, tokenizer, None)

    def callbacks(self, config: RunConfig) -> list:
        from engine.backends.unsloth_packing import TrustVerifiedPacking

        return [TrustVerifiedPacking(config.train.generation_batch, config.model.max_seq_length)]

    def grpo_arguments(self, config: RunConfig, tokenizer, rollout: str, vllm_share: float | None,
                       cuda: bool, server: RolloutServerAddress | None = None) -> dict:
        # Unsloth applies its own checkpointing in get_peft_model; the trainer's would add a second one.
        arguments = {"gradient_checkpointing": False}
        if rollout == "vllm":
            arguments.update(use_vllm=True, vllm_sampling_params=_vllm_sampling_params(config, tokenizer))
        return arguments


def _vllm_sampling_params(config: RunConfig, tokenizer):
    """The run's sampling settings for Unsloth's vLLM rollouts, as Unsloth's GRPOConfig takes them. Unsloth's
    vLLMSamplingParams records which keys were set, and only those override TRL's own; temperature and max_tokens
    still come from GRPOConfig (the same values). Stopping at the tokenizer's EOS matters where the model's
    generation_config names another one (a base model given our ChatML template). No seed: Unsloth drops it anyway,
    and one seed for the requests of a group would make its completions identical (zero advantage)."""
    from unsloth import vLLMSamplingParams

    t = config.train
    return vLLMSamplingParams(temperature=t.temperature, top_p=t.top_p, min_p=t.min_p,
                              max_tokens=t.max_completion_length, stop_token_ids=[tokenizer.eos_token_id])


BACKEND = UnslothBackend()
