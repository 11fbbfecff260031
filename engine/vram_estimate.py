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

import json
from dataclasses import dataclass
from pathlib import Path

import regex

from engine import model_loading
from engine.config import RunConfig

GIB = 2**30


@dataclass(frozen=True)
class ModelShape:
    parameters: float
    hidden: int
    layers: int
    vocab: int
    kv_dim: int  # num_key_value_heads * head_dim

    @classmethod
    def from_config_json(cls, path: Path) -> "ModelShape":
        c = json.loads(path.read_text(encoding="utf-8"))
        c = c.get("text_config", c)  # multimodal configs nest the language model's
        hidden, layers, vocab = c["hidden_size"], c["num_hidden_layers"], c["vocab_size"]
        heads = c.get("num_attention_heads", 1)
        head_dim = c.get("head_dim") or hidden // heads
        kv_dim = c.get("num_key_value_heads", heads) * head_dim
        inter = c.get("intermediate_size", 4 * hidden)
        per_layer = 2 * hidden * hidden + 2 * hidden * kv_dim + 3 * hidden * inter
        embeddings = vocab * hidden * (1 if c.get("tie_word_embeddings") else 2)
        return cls(layers * per_layer + embeddings, hidden, layers, vocab, kv_dim)

    @classmethod
    def from_size(cls, billions: float) -> "ModelShape":
        """A typical decoder of that size (Qwen2.5-like proportions) when no config.json is at hand."""
        hidden = int(min(8192, max(896, 1536 * (billions / 1.5) ** 0.5)))
        layers = int(min(80, max(24, 28 * (billions / 1.5) ** 0.25)))
        return cls(billions * 1e9, hidden, layers, 151_936, 256 if billions < 3 else 1024)


def size_from_name(name: str) -> float | None:
    """'Qwen/Qwen2.5-1.5B-Instruct' -> 1.5; '...-135M-...' -> 0.135."""
    found = regex.search(r"(\d+(?:\.\d+)?)\s*([BbMm])(?![a-z])", name.split("/")[-1])
    if not found:
        return None
    value = float(found.group(1))
    return value if found.group(2).lower() == "b" else value / 1000


def model_shape(name: str, local_folder: str | None) -> ModelShape | None:
    if local_folder and (Path(local_folder) / "config.json").is_file():
        return ModelShape.from_config_json(Path(local_folder) / "config.json")
    try:  # a hub model downloaded before: its config sits in the HF cache
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(name, "config.json")
        if isinstance(cached, str):
            return ModelShape.from_config_json(Path(cached))
    except Exception:  # no cache, odd id: fall back to the size in the name
        pass
    billions = size_from_name(name)
    return ModelShape.from_size(billions) if billions else None


def estimate_peak_gib(config: RunConfig, shape: ModelShape, gpu_gib: float | None = None) -> dict:
    """The parts in GiB and their "total". `gpu_gib`: the GPU's memory, where known (it sizes vLLM's pool)."""
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
    parts = {"weights": weights, "lora_and_optimizer": lora, "kv_cache": kv_cache, "activations": activations,
             "cuda_context": 0.5 * GIB}
    vllm = gpu_gib is not None and model_loading.use_vllm(m, model_loading.choose_backend(m, cuda=True))
    if vllm and m.vllm_standby:
        parts["kv_cache"] = 0  # vLLM's KV cache is released while training, and Unsloth sizes it to what is left
    elif vllm:
        # Unsloth gives vLLM gpu_memory_utilization of the memory free at load; the weights and KV cache are in it.
        del parts["weights"], parts["kv_cache"]
        parts["vllm_pool"] = m.gpu_memory_utilization * gpu_gib * GIB
    gib = {k: v / GIB for k, v in parts.items()}
    gib["total"] = sum(gib.values())
    return gib
