"""The run configuration: one YAML file describes a whole GRPO run.

A config is built in three layers -- the preset's YAML, the user's YAML, then `--set key=value` overrides -- and
validated by the pydantic models below. Every field carries a one-line help; the CLI's reference, the README's
config table and the app's tooltips all read it from here.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from engine import presets
from engine.config_files import deep_merge, parse_override, read_yaml
from engine.config_section import Section
from engine.problems import ConfigError, Problem, short_repr
from engine.prompt_config import PromptConfig
from engine.rewards.base import RewardSpec
from engine.rewards.registry import KINDS, RewardConfig

SEED_MAX = 2**32 - 1  # what numpy's and torch's seeding accept
PATH_CHARS = 4096  # PATH_MAX on Linux


class ModelConfig(Section):
    name: str = Field("builtin:tiny", max_length=PATH_CHARS,
                      description="Hub id (e.g. Qwen/Qwen2.5-1.5B-Instruct), a local model folder, "
                                                  "or builtin:tiny / builtin:smollm2-135m (offline).")
    backend: Literal["auto", "unsloth", "hf"] = Field(
        "auto", description="unsloth (CUDA, one GPU, faster, less VRAM), hf (transformers + peft, any device; the one "
                            "for two or more GPUs, as Unsloth's multi-GPU GRPO is not dependable), or auto.")
    lora_rank: int = Field(16, ge=1, le=512, description="LoRA rank: higher learns more, costs more VRAM.")
    lora_alpha: int | None = Field(None, ge=1, le=8192, description="LoRA alpha; empty means the same as lora_rank.")
    max_seq_length: int = Field(1024, ge=64, le=262144,
                                description="Longest prompt + completion in tokens the model is set up for.")
    load_in_4bit: bool = Field(False, description="Load the base model in 4-bit (QLoRA): much less VRAM, a bit slower.")
    load_in_fp8: bool = Field(False, description="Load an FP8 model (Unsloth; GPU compute capability 8.9 or newer).")
    rollout: Literal["auto", "vllm", "vllm_server", "hf"] = Field(
        "auto", description="What generates the completions: vllm (fast; with Unsloth it shares the training weights, "
                            "with the hf backend it is TRL's colocate mode), vllm_server (TRL's server mode, hf "
                            "backend: a vLLM server on hardware.rollout_gpus of the GPUs, or sharing a single one), "
                            "hf (transformers' generate, any device), or auto (vllm on a GPU where it is installed).")
    gpu_memory_utilization: float | None = Field(
        None, gt=0.01, le=0.95, description="vLLM's share of GPU memory (weights + KV cache), set by hand: of the "
                                            "memory free at load with Unsloth, of the whole card with the hf backend. "
                                            "Empty: sized to this run (generation batch x max_seq_length, with "
                                            "headroom).")
    vllm_standby: bool = Field(False, description="Unsloth standby (UNSLOTH_VLLM_STANDBY=1): Unsloth sizes vLLM's "
                                                  "share itself and frees its KV cache while training; fits longer "
                                                  "runs on smaller GPUs.")
    gradient_checkpointing: bool = Field(True, description="Trade compute for memory during the backward pass.")


class HardwareConfig(Section):
    gpus: list[int] | None = Field(
        None, max_length=64, description="The GPUs this run uses, as nvidia-smi numbers them (e.g. [0, 1]); empty: "
                                         "every visible GPU. Two or more train with the hf backend through accelerate.")
    rollout_gpus: int = Field(1, ge=1, le=64, description="With model.rollout vllm_server: how many of the GPUs (the "
                                                          "last ones) run the vLLM server, tensor-parallel; the rest "
                                                          "train. On a single GPU the server and the trainer share it.")
    strategy: Literal["ddp", "fsdp", "zero3"] = Field(
        "ddp", description="How two or more training GPUs share the work: ddp (a copy of the model on each, the "
                           "fastest), fsdp (PyTorch FSDP, the model sharded) or zero3 (DeepSpeed ZeRO-3, sharded), "
                           "for models that do not fit one GPU.")

    @field_validator("gpus", mode="before")
    @classmethod
    def _gpus_from_text(cls, value):
        """`--set hardware.gpus=1` and `hardware.gpus: "0,1"` mean the lists [1] and [0, 1]."""
        if isinstance(value, int) and not isinstance(value, bool):
            return [value]
        if isinstance(value, str):
            parts = [part.strip() for part in value.split(",") if part.strip()]
            if not all(part.isdigit() for part in parts):
                raise ValueError("must list GPU numbers such as [0, 1] or \"0,1\"")
            return [int(part) for part in parts]
        if isinstance(value, list) and any(isinstance(item, bool) or not isinstance(item, int) for item in value):
            raise ValueError("must list GPU numbers such as [0, 1] or \"0,1\"")
        return value

    @field_validator("gpus")
    @classmethod
    def _gpus_distinct(cls, gpus: list[int] | None) -> list[int] | None:
        if gpus is None:
            return None
        if any(g < 0 for g in gpus):
            raise ValueError("GPU numbers start at 0, as nvidia-smi shows them")
        repeated = sorted({g for g in gpus if gpus.count(g) > 1})
        if repeated:
            raise ValueError(f"GPU {repeated[0]} is listed twice; list each GPU once")
        return gpus or None  # an empty list means every visible GPU, as leaving it out does


class DataConfig(Section):
    path: str = Field("", max_length=PATH_CHARS,
                      description="A .jsonl/.json/.csv/.parquet file, or hf:<dataset id>[:config][:split].")
    prompt_column: str | None = Field(None, max_length=256, description="Column holding the question; empty: guessed "
                                                         "(question, problem, prompt, input).")
    answer_column: str | None = Field(None, max_length=256,
                                      description="Column holding the gold answer; empty: guessed "
                                                         "(answer, solution, output, label).")
    answer_pattern: str | None = Field(None, max_length=2000,
                                       description="Regex that extracts the gold answer from the answer "
                                                         "column (group 1), e.g. '####\\s*(.+)' for GSM8K.")
    eval_fraction: float = Field(0.1, ge=0.0, le=0.5, description="Share of rows held out for evaluation.")
    max_rows: int | None = Field(None, ge=1, le=100_000_000,
                                 description="Use at most this many rows (after shuffling).")
    seed: int = Field(0, ge=0, le=SEED_MAX, description="Seed for shuffling and the held-out split.")


class TrainConfig(Section):
    max_steps: int = Field(200, ge=1, le=1_000_000, description="Optimizer steps to train for.")
    num_generations: int = Field(8, ge=2, le=256, description="Completions sampled per prompt; GRPO compares "
                                                              "each with its group's mean.")
    batch_size: int = Field(8, ge=1, le=4096, description="Completions per device step; a multiple of "
                                                          "num_generations keeps whole groups together.")
    gradient_accumulation_steps: int = Field(1, ge=1, le=1024, description="Steps whose gradients are summed "
                                                                           "before one update.")
    max_completion_length: int = Field(256, ge=8, le=131072, description="Longest completion in tokens.")
    # LoRA needs about 10x the learning rate of full fine-tuning (TRL's "LoRA Without Regret" guide). On SmolLM2-135M
    # 5e-6 left the format reward flat and 5e-5 learned it too slowly for 200 steps (bench/LEARNING.md).
    learning_rate: float = Field(1e-4, gt=0, le=1.0, description="Optimizer learning rate (for the LoRA adapter, "
                                                                 "about 10x a full fine-tune's).")
    lr_scheduler_type: Literal["constant", "linear", "cosine"] = Field("cosine", description="Learning-rate schedule.")
    warmup_ratio: float = Field(0.1, ge=0, le=0.5, description="Share of steps spent warming up the learning rate.")
    weight_decay: float = Field(0.1, ge=0, le=1, description="AdamW weight decay.")
    max_grad_norm: float = Field(0.1, gt=0, le=100, description="Gradient clipping norm.")
    optim: Literal["adamw_torch", "adamw_8bit", "paged_adamw_8bit"] = Field(
        "adamw_torch", description="Optimizer; adamw_8bit (bitsandbytes, CUDA) saves optimizer memory.")
    temperature: float = Field(1.0, gt=0, le=2.0, description="Sampling temperature for rollouts.")
    top_p: float = Field(1.0, gt=0, le=1.0, description="Nucleus sampling for rollouts.")
    min_p: float = Field(0.0, ge=0, lt=1.0, description="Min-p sampling for rollouts (0 = off).")
    beta: float = Field(0.0, ge=0, le=10, description="KL penalty towards the base model (0 = none, TRL default).")
    loss_type: Literal["dapo", "grpo", "dr_grpo", "bnpo"] = Field("dapo", description="GRPO loss variant.")
    scale_rewards: Literal["group", "batch", "none"] = Field(
        "group", description="How the rewards of a question's answers become advantages: group (divided by the "
                             "group's own spread, TRL's default: small differences count as much as large ones), "
                             "batch (by the whole batch's spread) or none (not divided, as Dr. GRPO advises: no extra "
                             "weight for questions that are almost always right or always wrong). A group whose "
                             "answers all score the same teaches nothing under any of them.")
    num_iterations: int = Field(1, ge=1, le=16, description="Training passes over each batch of completions before "
                                                            "new ones are sampled (TRL's num_iterations, the GRPO "
                                                            "paper's μ): 2 or more samples less often; clipping "
                                                            "keeps the repeated updates close to the model that "
                                                            "sampled them.")
    steps_per_generation: int | None = Field(
        None, ge=1, le=1024, description="Batches of batch_size completions sampled together in one generation; "
                                         "empty: gradient_accumulation_steps (one generation per optimizer step). "
                                         "More samples more at once (faster with vLLM, more memory) and trains on "
                                         "them over several steps.")
    save_steps: int = Field(50, ge=1, le=1_000_000, description="Save a checkpoint every this many steps.")
    logging_steps: int = Field(1, ge=1, le=1_000_000, description="Log metrics and samples every this many steps.")
    samples_per_step: int = Field(4, ge=0, le=64, description="Completions written to samples.jsonl per log step.")
    report_to: Literal["none", "tensorboard", "wandb", "mlflow", "trackio"] = Field(
        "tensorboard", description="Where the metrics and the sampled completions also go: tensorboard (the run "
                                   "folder's tensorboard/; the Results tab can start TensorBoard), wandb, mlflow or "
                                   "trackio (each needs its package, and wandb an API key), or none.")
    eval_steps: int | None = Field(None, ge=1, description="Check the model on held-out questions every this many "
                                                            "steps; empty: ten checks over the run.")
    eval_limit: int = Field(32, ge=0, le=100_000, description="Held-out questions answered (greedy) at each check; "
                                                              "0 turns the checks off.")
    seed: int = Field(3407, ge=0, le=SEED_MAX, description="Random seed.")

    @property
    def generation_steps(self) -> int:
        """Batches of batch_size completions in one generation (TRL's steps_per_generation and its default)."""
        return self.steps_per_generation or self.gradient_accumulation_steps

    @property
    def generation_batch(self) -> int:
        """Completions generated together on one device (TRL's generation_batch_size per process, vLLM's
        max_num_seqs): batch_size x steps_per_generation, which defaults to gradient_accumulation_steps."""
        return self.batch_size * self.generation_steps


class RunConfig(Section):
    preset: str | None = Field(None, max_length=100, description="A preset in presets/ that this config starts from.")
    description: str | None = Field(None, max_length=2000, description="One line about the run (presets carry theirs).")
    model: ModelConfig = Field(default_factory=ModelConfig)
    prompt: PromptConfig = Field(default_factory=PromptConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    rewards: list[RewardConfig] = Field(default_factory=list, description="The reward functions, summed with "
                                                                         "their weights.")
    train: TrainConfig = Field(default_factory=TrainConfig)
    hardware: HardwareConfig = Field(default_factory=HardwareConfig)

    @model_validator(mode="after")
    def _reward_names_unique(self) -> RunConfig:
        names = [r.name for r in self.rewards]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"reward names must be unique; '{dupes[0]}' is used twice")
        return self

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, allow_unicode=True, width=120)

    def save(self, path: Path) -> None:
        """Written whole or not at all: a full disk left run folders with an empty config.yaml."""
        path = Path(path)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            tmp.write_text(self.to_yaml(), encoding="utf-8")
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------------------------
# pydantic's validation errors as problems (engine.problems): one sentence each, with the key it is about.

def _problems_from_validation(error: ValidationError) -> list[Problem]:
    problems = []
    for e in error.errors():
        loc = list(e["loc"])
        kind = None
        if len(loc) >= 3 and loc[0] == "rewards" and isinstance(loc[1], int) and loc[2] in KINDS:
            kind = loc.pop(2)  # pydantic locates a reward's errors under its kind: rewards.0.regex_match.pattern
        key = ".".join(str(part) for part in loc)
        message = e["msg"].removeprefix("Value error, ")
        if e["type"] == "union_tag_invalid":
            message = f"unknown reward kind {e['ctx']['tag']!r}; use one of: {', '.join(KINDS)}"
        elif e["type"] == "union_tag_not_found":
            message = f"a reward needs a kind: one of {', '.join(KINDS)}"
        elif e["type"] == "extra_forbidden" and kind:
            message = f"a {kind} reward has no such key; its keys are: {', '.join(KINDS[kind].spec.model_fields)}"
        elif e["type"] == "extra_forbidden":
            message = "unknown key; check the spelling (see `python -m engine reference`)"
        elif e["type"] == "missing":
            message = f"a {kind} reward needs '{loc[-1]}'" if kind else "is required"
        elif e["type"] == "finite_number":
            message = "must be a finite number, not NaN or infinity"
        elif "input" in e and not isinstance(e["input"], (dict, list)):  # a whole reward row is noise
            message = f"{message} (got {short_repr(e['input'])})"
        problems.append(Problem(key, message))
    return problems


# ---------------------------------------------------------------------------------------------------------------
# Loading: preset <- user file <- --set overrides (read and merged by engine.config_files).

def build_config(raw: dict, overrides: list[str] | tuple[str, ...] = ()) -> RunConfig:
    """Merge the preset named in `raw` (or in an override) under `raw` and the overrides, then validate."""
    try:
        layered = copy.deepcopy(raw)
        for text in overrides:
            layered = deep_merge(layered, parse_override(text))
        merged = layered
        if layered.get("preset"):
            if not isinstance(layered["preset"], str):
                raise ConfigError([Problem("preset", "must be the name of a preset, such as rlvr-math")])
            preset_raw = presets.load_preset_raw(layered["preset"])
            merged = deep_merge(preset_raw, layered)  # a user's rewards list replaces the preset's whole
        return RunConfig.model_validate(_renamed_keys(merged))
    except ValidationError as e:
        raise ConfigError(_problems_from_validation(e)) from None
    except RecursionError:
        raise ConfigError([Problem("", "the config is nested thousands of levels deep; it cannot be a config")]) \
            from None


def _renamed_keys(raw: dict) -> dict:
    """Configs saved before model.rollout existed (run folders to resume) said model.fast_inference."""
    model = raw.get("model")
    if isinstance(model, dict) and "fast_inference" in model:
        model = dict(model)
        fast = model.pop("fast_inference")
        model.setdefault("rollout", {True: "vllm", False: "hf"}.get(fast, "auto"))
        raw = {**raw, "model": model}
    return raw


def load_config(path: Path | str, overrides: list[str] | tuple[str, ...] = ()) -> RunConfig:
    return build_config(read_yaml(Path(path)), overrides)


def field_reference() -> list[tuple[str, str, str, str]]:
    """(key, type, default, help) for every config field, in order: the README table and the UI tooltips."""
    rows = []
    for section_name, section in RunConfig.model_fields.items():
        model = section.annotation if isinstance(section.annotation, type) else None
        if model is not None and issubclass(model, BaseModel):
            for name, field in model.model_fields.items():
                rows.append((f"{section_name}.{name}", _type_name(field.annotation), _default_text(field),
                             field.description or ""))
        else:
            rows.append((section_name, _type_name(section.annotation), _default_text(section),
                         section.description or ""))
    common = RewardSpec.model_fields
    for name, field in common.items():
        kind_names = " / ".join(KINDS) if name == "kind" else None
        rows.append((f"rewards[].{name}", kind_names or _type_name(field.annotation), _default_text(field),
                     field.description or ""))
    for kind in KINDS.values():
        for name in kind.fields():
            field = kind.spec.model_fields[name]
            rows.append((f"rewards[{kind.name}].{name}", _type_name(field.annotation), _default_text(field),
                         field.description or ""))
    return rows


def field_help(key: str) -> str:
    """The one-line help of a dotted key such as 'train.learning_rate' ('' if unknown)."""
    return next((row[3] for row in field_reference() if row[0] == key), "")


def _type_name(annotation: Any) -> str:
    if get_origin(annotation) is Literal:
        return " / ".join(str(choice) for choice in get_args(annotation))
    text = getattr(annotation, "__name__", None) or str(annotation)
    return text.replace("typing.", "").replace("NoneType", "None")


def _default_text(field: Any) -> str:
    if field.is_required():
        return "(required)"
    if field.default_factory is not None:
        return ""
    return "" if field.default is None else str(field.default)

