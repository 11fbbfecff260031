"""Export a run: the LoRA adapter as a zip, or the base model with the adapter merged in, saved in 16-bit."""

from __future__ import annotations

import shutil
from pathlib import Path

from engine.config import load_config
from engine.run_folder import RunFolder


class ExportError(Exception):
    pass


def adapter_zip(run: RunFolder) -> Path:
    """runs/<id>/<id>-adapter.zip holding adapter/ (the adapter, its config and the tokenizer)."""
    if not run.has_adapter:
        raise ExportError(f"run {run.id} has no adapter yet; it is saved when the run completes or is stopped")
    archive = shutil.make_archive(str(run.adapter_zip.with_suffix("")), "zip", root_dir=run.adapter_dir)
    return Path(archive)


def merge_and_save(run: RunFolder) -> Path:
    """runs/<id>/merged/: a plain model folder (bf16 on GPU, fp32 on CPU) that any transformers/vLLM loads."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from engine.model_loading import load_tokenizer, resolve_model_path

    if not run.has_adapter:
        raise ExportError(f"run {run.id} has no adapter yet; it is saved when the run completes or is stopped")
    config = load_config(run.config_path)
    if config.model.load_in_4bit or config.model.load_in_fp8:
        # The adapter was trained against quantized weights; merging needs the 16-bit base, loaded fresh below.
        print("note: merging into the 16-bit base model (training used a quantized load)")
    base_path = resolve_model_path(config.model.name)
    dtype = torch.bfloat16 if torch.cuda.is_available() else torch.float32
    model = AutoModelForCausalLM.from_pretrained(base_path, dtype=dtype)
    merged = PeftModel.from_pretrained(model, str(run.adapter_dir)).merge_and_unload()
    target = run.merged_dir
    merged.save_pretrained(target)
    load_tokenizer(str(run.adapter_dir)).save_pretrained(target)
    return target
