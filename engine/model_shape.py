"""A model's shape (parameters, hidden size, layers, KV width), read from its config.json without loading it: the
VRAM estimate and vLLM's memory sizing are computed from it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import regex

GIB = 2**30  # the unit the VRAM estimate and vLLM's sizing count the model's bytes in


@dataclass(frozen=True)
class ModelShape:
    parameters: float
    hidden: int
    layers: int
    vocab: int
    kv_dim: int  # num_key_value_heads * head_dim
    heads: int | None = None  # attention heads and KV heads: what a tensor-parallel vLLM splits (None: not known)
    kv_heads: int | None = None

    @classmethod
    def from_config_json(cls, path: Path) -> ModelShape:
        return cls.from_config(json.loads(path.read_text(encoding="utf-8")))

    @classmethod
    def from_config(cls, c: dict) -> ModelShape:
        c = c.get("text_config") or c  # multimodal configs nest the language model's
        hidden, layers, vocab = c["hidden_size"], c["num_hidden_layers"], c["vocab_size"]
        heads = c.get("num_attention_heads", 1)
        head_dim = c.get("head_dim") or hidden // heads
        kv_heads = c.get("num_key_value_heads", heads)
        kv_dim = kv_heads * head_dim
        inter = c.get("intermediate_size", 4 * hidden)
        per_layer = 2 * hidden * hidden + 2 * hidden * kv_dim + 3 * hidden * inter
        embeddings = vocab * hidden * (1 if c.get("tie_word_embeddings") else 2)
        return cls(layers * per_layer + embeddings, hidden, layers, vocab, kv_dim, heads, kv_heads)

    @classmethod
    def from_size(cls, billions: float) -> ModelShape:
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


def shape_for_training(path: str) -> ModelShape | None:
    """The shape in the training process, where a hub model's config.json can be fetched (it is downloaded next)."""
    try:
        from transformers import AutoConfig

        return ModelShape.from_config(AutoConfig.from_pretrained(path).to_dict())
    except Exception:  # an architecture transformers cannot describe: vLLM then gets a fixed share
        return None
