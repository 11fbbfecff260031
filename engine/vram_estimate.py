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

On several GPUs each training GPU holds the whole estimate (DDP: a copy of everything on each), or its share of the
weights (FSDP, ZeRO-3); a GPU of the vLLM server holds the server's pool, and a GPU shared by the server and the
trainer holds both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.config import RunConfig
from engine.model_shape import GIB, ModelShape

if TYPE_CHECKING:
    from engine.backends import RunPlan


def vllm_pool_gib(plan: RunPlan) -> float | None:
    """What the vLLM engine takes of each of its GPUs, as the plan gives it its share."""
    if plan.vllm_share_source == "sized":
        return plan.vllm.total_gib
    return plan.vllm_share * plan.available_gib if plan.available_gib else None


def estimate_peak_gib(config: RunConfig, shape: ModelShape, plan: RunPlan) -> dict:
    """The parts in GiB and their "total" on a training GPU for this run's backend, rollout engine and GPU split
    (`plan`)."""
    m, t = config.model, config.train
    bytes_per_weight = 0.56 if m.load_in_4bit else 1.0 if m.load_in_fp8 else 2.0
    # FSDP and ZeRO-3 shard the weights (and the LoRA parameters with their optimizer state) over the ranks.
    shards = plan.split.processes if config.hardware.strategy != "ddp" else 1
    weights = shape.parameters * bytes_per_weight / shards
    lora_parameters = m.lora_rank * shape.layers * (4 * shape.hidden + 2 * shape.kv_dim + 3 * 3 * shape.hidden)
    lora = lora_parameters * 16 / shards  # fp32 weight + grad + two AdamW moments
    sequence = min(m.max_seq_length, t.max_completion_length + 256)
    generation_batch = t.generation_batch
    kv_cache = 2 * shape.layers * shape.kv_dim * sequence * generation_batch * 2
    # Two bf16 hidden-state copies per layer and token survive checkpointing (fitted to the measurements above).
    activations = t.batch_size * sequence * shape.hidden * shape.layers * 2 * (2 if m.gradient_checkpointing else 16)
    parts = {"weights": weights, "lora_and_optimizer": lora, "kv_cache": kv_cache,
             "activations": activations, "cuda_context": 0.5 * GIB}
    if plan.uses_vllm:
        del parts["kv_cache"]  # generation happens in vLLM's pool, not in the training model
    pool = vllm_pool_gib(plan) if plan.uses_vllm else None
    if plan.rollout == "vllm" and not m.vllm_standby:  # standby: Unsloth sizes vLLM to what is left, frees its cache
        if plan.backend.vllm_shares_weights:
            del parts["weights"]  # one copy, inside vLLM's pool
        if pool:
            parts["vllm_pool"] = pool * GIB
    if plan.rollout == "vllm_server" and plan.split.shared and pool:
        parts["vllm_pool"] = pool * GIB  # the server's, on the same GPU
    gib = {k: v / GIB for k, v in parts.items()}
    gib["total"] = sum(gib.values())
    return gib


def estimate_per_gpu(config: RunConfig, shape: ModelShape, plan: RunPlan) -> list[tuple[int, str, float]]:
    """(GPU, what runs on it, estimated peak GiB) for every GPU of the split (nvidia-smi's numbers)."""
    split = plan.split
    training = estimate_peak_gib(config, shape, plan)["total"]
    role = "training + vLLM server" if split.shared else "training"
    rows = [(g.index, role, training) for g in split.training]
    pool = vllm_pool_gib(plan) if plan.rollout == "vllm_server" else None
    rows += [(g.index, "vLLM server", pool or 0.0) for g in split.rollout if g not in split.training]
    return rows
