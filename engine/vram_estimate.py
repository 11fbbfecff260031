"""A rough peak-VRAM estimate for a GRPO run, so `check` and the app can warn before a launch that cannot fit.

It adds the big terms: base weights (bf16, FP8 or 4-bit), LoRA parameters with their fp32 AdamW state, the KV
cache of one generation batch, and the activations kept for the backward pass, plus the CUDA context. TRL 1.x
computes log-probs with a chunked LM head, so full-vocabulary logits are never held. Calibrated against the H100
measurements of a 1.5B model with plain TRL (bench/RESULTS.md, DESIGN.md: 5.6-6.9 GiB at 8 x 1024 tokens, 11.3 GiB
at 8 x 4096); Unsloth needs less. Meant to be within tens of percent, not exact.

With vLLM rollouts (given the GPU's size), vLLM takes its share of the GPU up front, and the weights (shared with
training) and the KV cache live inside it; training adds its activations on top. Against the bench's NVML peaks
(bench/RESULTS.md) this is within 6% from 1024 to 12288 tokens; at 16384 tokens on 23.5 GiB it said 29 GiB for a
run that fit (Unsloth's activations grow slower than TRL's, and the allocator squeezes in), so at long lengths it
errs towards a warning. In Unsloth's standby mode Unsloth sizes vLLM's share to the card and frees its KV cache
while training, so only the training side counts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.config import RunConfig
from engine.model_shape import ModelShape

if TYPE_CHECKING:
    from engine.backends import RunPlan

GIB = 2**30


def estimate_peak_gib(config: RunConfig, shape: ModelShape, plan: RunPlan) -> dict:
    """The parts in GiB and their "total" for this run's backend and rollout engine (`plan`)."""
    m, t = config.model, config.train
    bytes_per_weight = 0.56 if m.load_in_4bit else 1.0 if m.load_in_fp8 else 2.0
    weights = shape.parameters * bytes_per_weight
    lora_parameters = m.lora_rank * shape.layers * (4 * shape.hidden + 2 * shape.kv_dim + 3 * 3 * shape.hidden)
    lora = lora_parameters * 16  # fp32 weight + grad + two AdamW moments
    sequence = min(m.max_seq_length, t.max_completion_length + 256)
    generation_batch = t.batch_size * t.gradient_accumulation_steps
    kv_cache = 2 * shape.layers * shape.kv_dim * sequence * generation_batch * 2
    # Two bf16 hidden-state copies per layer and token survive checkpointing (fitted to the measurements above).
    activations = t.batch_size * sequence * shape.hidden * shape.layers * 2 * (2 if m.gradient_checkpointing else 16)
    parts = {"weights": weights, "lora_and_optimizer": lora, "kv_cache": kv_cache,
             "activations": activations, "cuda_context": 0.5 * GIB}
    if plan.rollout == "vllm":
        del parts["kv_cache"]  # generation happens in vLLM's pool, not in the training model
        if m.vllm_standby:
            pass  # vLLM's KV cache is released while training, and Unsloth sizes it to what is left
        else:
            if plan.backend.vllm_shares_weights:
                del parts["weights"]  # one copy, inside vLLM's pool
            if plan.vllm_share_source == "sized":
                parts["vllm_pool"] = plan.vllm.total_gib * GIB
            elif plan.available_gib:
                parts["vllm_pool"] = plan.vllm_share * plan.available_gib * GIB
    gib = {k: v / GIB for k, v in parts.items()}
    gib["total"] = sum(gib.values())
    return gib
