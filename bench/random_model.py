"""Random-init Qwen2 models of real shapes, for GPU tests and benchmarks without a model hub.

    python bench/random_model.py 1.5b /tmp/models/qwen2.5-1.5b-random      # or 0.5b, tiny-gpu

The weights are random (the model writes noise), but every tensor has the shape of the real model, so memory and
speed are those of the real thing. The tokenizer is a byte-level BPE trained in code (as engine/builtin_models'
builtin:tiny, which loads correctly through AutoTokenizer next to a qwen2 config), with ChatML special tokens, and
its vocabulary is padded with filler tokens up to the model's vocab_size: a random model samples every id in the
vocabulary, and an id the tokenizer does not know decodes to nothing in HF (silently dropped) but can break an
incremental detokenizer (vLLM's slow path turns it into None). Filler tokens are plain ASCII, never produced by
encoding (no merge leads to them) and decode to harmless text such as `<fill_151000>`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path

# Qwen2.5 shapes (config.json of Qwen/Qwen2.5-0.5B and -1.5B), and a small one with the same head_dim 64 for fast
# GPU tests (vLLM's attention kernels and FP8 row-wise matmuls want head_dim 64+ and dims divisible by 16).
SHAPES = {
    "tiny-gpu": dict(hidden_size=256, intermediate_size=768, num_hidden_layers=4, num_attention_heads=4,
                     num_key_value_heads=2, vocab_size=4096),
    "0.5b": dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
                 num_key_value_heads=2, vocab_size=151936),
    "1.5b": dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12,
                 num_key_value_heads=2, vocab_size=151936),
    # Qwen2.5-7B: the scale row of the benchmark (fits one H200 with training and vLLM side by side).
    "7b": dict(hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
               num_key_value_heads=4, vocab_size=152064, tie_word_embeddings=False),
}
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
TRAINED_VOCAB = 1024


def build_tokenizer(vocab_size: int):
    """A byte-level BPE with ChatML specials, padded with filler tokens to exactly `vocab_size` ids."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from engine.builtin_models import CHATML_TEMPLATE, _tokenizer_corpus

    trained = Tokenizer(models.BPE())
    trained.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trained.train_from_iterator(_tokenizer_corpus(), trainers.BpeTrainer(
        vocab_size=min(TRAINED_VOCAB, vocab_size), special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    state = json.loads(trained.to_str())
    vocab, merges = state["model"]["vocab"], state["model"]["merges"]
    merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in merges]
    for token_id in range(len(vocab), vocab_size):
        vocab[f"<fill_{token_id}>"] = token_id
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(SPECIAL_TOKENS)  # already in the vocab: this marks them special (skipped on decode)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   bos_token=None, chat_template=CHATML_TEMPLATE, model_max_length=32768)
    assert len(fast) == vocab_size, (len(fast), vocab_size)
    return fast


def save_random_qwen2(shape: str, folder: Path, seed: int = 0) -> Path:
    """Write config, bf16 safetensors and tokenizer of a random Qwen2 of `shape` to `folder` (built on the GPU when
    there is one: a 1.5B model initialises in seconds there, minutes on a CPU)."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    dims = SHAPES[shape]
    tokenizer = build_tokenizer(dims["vocab_size"])
    config = Qwen2Config(**{"tie_word_embeddings": True, **dims}, max_position_embeddings=32768,
                         rope_theta=1_000_000.0, rms_norm_eps=1e-6, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id, bos_token_id=None)
    torch.manual_seed(seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    with torch.device(device):
        model = Qwen2ForCausalLM(config).to(torch.bfloat16)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.bos_token_id = None
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder / "random_model.json").write_text(json.dumps({"shape": shape, "seed": seed,
                                                          "parameters": model.num_parameters()}))
    del model
    if device == "cuda":
        torch.cuda.empty_cache()
    return folder


def ensure_random_qwen2(shape: str, root: Path) -> Path:
    """root/<shape>, built once; concurrent builders (pytest-xdist workers) each build aside and one rename wins."""
    target = Path(root) / f"qwen2-{shape}-random"
    if (target / "random_model.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    try:
        save_random_qwen2(shape, tmp)
        try:
            os.rename(tmp, target)
        except OSError:
            if not (target / "random_model.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("shape", choices=sorted(SHAPES))
    parser.add_argument("folder", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(save_random_qwen2(args.shape, args.folder, args.seed))


if __name__ == "__main__":
    main()
