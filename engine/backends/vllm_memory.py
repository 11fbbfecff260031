"""How much GPU memory vLLM gets: sized to what the run needs instead of a fixed share of the card.

vLLM takes its pool up front (weights + KV cache + CUDA graphs + profiling activations) and keeps it for the whole run.
A fixed share over-serves small models badly (0.6 of an H200's free memory gave a 135M model an 83 GiB KV cache) and
starves training on small cards. The run's need is known before loading: every completion of one generation batch
can reach max_seq_length tokens, and each token's KV entry costs 2 (K and V) x layers x kv_dim x 2 bytes (bf16).
Headroom covers what the sizing cannot see (vLLM's block rounding, the profiling pass, allocator slack).

The share is relative to what the engine that reads it expects: Unsloth multiplies it with the memory free at load,
vLLM itself (TRL's colocate mode, and the vLLM server of TRL's server mode) with the whole card. The server generates
for every training process at once, and with tensor parallelism each of its GPUs holds a slice of the weights and of
the KV cache: the budget is per GPU.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.config import RunConfig
from engine.model_shape import GIB, ModelShape

KV_HEADROOM = 1.25  # block rounding and prefix blocks: KV need x 1.25
FIXED_OVERHEAD_GIB = 1.5  # CUDA graphs (Unsloth's own estimate caps them at 1 GiB) + vLLM's profiling activations
MIN_SHARE, MAX_SHARE = 0.02, 0.92
# TRL's colocate mode starts vLLM with max_num_batched_tokens=4096 (trl/generation/vllm_generation.py) and
# max_num_seqs = the generation batch. vLLM's warm-up splits those tokens over that many dummy requests, and one
# longer than max_model_len overruns its block table: flash-attention 3 died with an illegal memory access on an H200
# (2026-11-29; 4 sequences of 512 tokens make 1024-token requests). See colocate_max_model_length.
TRL_COLOCATE_BATCHED_TOKENS = 4096


@dataclass(frozen=True)
class VllmBudget:
    sequences: int  # completions generated together: the generation batch
    tokens_per_sequence: int  # model.max_seq_length: prompt + completion
    kv_tokens: int  # what the KV cache is sized for: sequences x tokens_per_sequence, at least vLLM's warm-up batch
    weights_gib: float
    kv_cache_gib: float
    overhead_gib: float

    @property
    def total_gib(self) -> float:
        return self.weights_gib + self.kv_cache_gib + self.overhead_gib

    def share_of(self, available_gib: float) -> float:
        """The gpu_memory_utilization that gives vLLM this budget out of `available_gib`."""
        return round(min(MAX_SHARE, max(MIN_SHARE, self.total_gib / available_gib)), 4)

    def describe(self) -> str:
        tokens = f"{self.sequences} x {self.tokens_per_sequence} tokens"
        if self.kv_tokens > self.sequences * self.tokens_per_sequence:
            tokens += f" (at least vLLM's warm-up batch, {self.kv_tokens})"
        return (f"{self.total_gib:.1f} GiB (weights {self.weights_gib:.1f} + KV cache {self.kv_cache_gib:.1f} for "
                f"{tokens} + overhead {self.overhead_gib:.1f})")


def vllm_budget(config: RunConfig, shape: ModelShape, processes: int = 1, tensor_parallel: int = 1) -> VllmBudget:
    """What one GPU of the vLLM engine needs: generating for `processes` training processes (the server), its
    weights and KV cache split over `tensor_parallel` GPUs."""
    m, t = config.model, config.train
    sequences = t.generation_batch * processes
    kv_bytes_per_token = 2 * shape.layers * shape.kv_dim * 2
    # At least the warm-up's batch, so that a longer max_model_len (colocate_max_model_length) still fits the cache.
    kv_tokens = max(sequences * m.max_seq_length, TRL_COLOCATE_BATCHED_TOKENS)
    kv_cache = kv_tokens * kv_bytes_per_token * KV_HEADROOM / tensor_parallel
    bytes_per_weight = 0.56 if m.load_in_4bit else 1.0 if m.load_in_fp8 else 2.0
    weights = shape.parameters * bytes_per_weight / tensor_parallel
    return VllmBudget(sequences, m.max_seq_length, kv_tokens, weights / GIB, kv_cache / GIB, FIXED_OVERHEAD_GIB)


def colocate_max_model_length(config: RunConfig) -> int:
    """vLLM's max_model_len in TRL's colocate mode: max_seq_length, raised where needed so that the generation batch
    times it covers TRL's max_num_batched_tokens (see TRL_COLOCATE_BATCHED_TOKENS). A longer limit changes no
    completion (max_completion_length caps those) and the prompts are already cut to fit max_seq_length."""
    return max(config.model.max_seq_length, -(-TRL_COLOCATE_BATCHED_TOKENS // config.train.generation_batch))
