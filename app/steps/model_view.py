"""What the model step shows for the form's settings: the recommended models with their size and VRAM estimate
against this machine, and the chosen model's summary (its problem in one sentence, or its size, estimate and
warnings). The model step shows it; the preset step refreshes it after a preset changed the settings."""

from __future__ import annotations

import pandas as pd

from engine import builtin_models, gpu, hub_access
from engine.backends import RunPlan, plan_for_machine
from engine.checks import SMALL_MODEL_BILLIONS, SMALL_MODEL_WARNING, cpu_size_problem
from engine.config import ModelConfig, RunConfig
from engine.model_names import local_model_folder, model_problems
from engine.model_shape import model_shape, size_from_name
from engine.problems import ConfigError
from engine.vram_estimate import estimate_peak_gib, estimate_per_gpu

from app import machine, strings
from app.form_state import FormValues, form_to_config, sentence
from app.steps.page import ModelStep, Page
from app.web_paths import ModelRefused, web_model_name

RECOMMENDED_MODELS = ["Qwen/Qwen2.5-1.5B-Instruct", "Qwen/Qwen2.5-3B-Instruct", "Qwen/Qwen2.5-7B-Instruct",
                      "Qwen/Qwen3-1.7B", "Qwen/Qwen3-4B", "Qwen/Qwen3-8B", "meta-llama/Llama-3.1-8B-Instruct",
                      builtin_models.SMOLLM2, builtin_models.TINY]
FITS_SHARE, TIGHT_SHARE = 0.85, 0.95
BUILTIN_BILLIONS = {builtin_models.TINY: 0.0002, builtin_models.SMOLLM2: 0.135}


def model_billions(name: str) -> float | None:
    if name in BUILTIN_BILLIONS:
        return BUILTIN_BILLIONS[name]
    shape = model_shape(name, name if _is_local(name) else None)
    return shape.parameters / 1e9 if shape else size_from_name(name)


def _is_local(name: str) -> bool:
    return local_model_folder(name) is not None


def size_text(billions: float | None) -> str:
    if billions is None:
        return strings.MODEL_SIZE_UNKNOWN
    return f"{billions:.1f}B" if billions >= 1 else f"{billions * 1000:.0f}M" if billions >= 0.001 else "<1M"


def _plan(name: str, config: RunConfig | None) -> tuple[RunConfig, RunPlan] | None:
    """The run this model would be with the current settings on this machine's GPUs (None where the size is
    unknown)."""
    if builtin_models.is_builtin(name):
        return None
    shape = model_shape(name, name if _is_local(name) else None)
    if shape is None:
        return None
    config = (config or RunConfig()).model_copy(deep=True)
    config.model.name = name
    visible = list(machine.visible_gpus())
    return config, plan_for_machine(config, bool(visible), shape, visible, gpu.free_gib() if visible else None)


def estimate_gib(name: str, config: RunConfig | None) -> float | None:
    """Peak VRAM of a run with this model and the current settings on its (first) training GPU (None where the size
    is unknown)."""
    planned = _plan(name, config)
    if planned is None:
        return None
    config, plan = planned
    return estimate_peak_gib(config, model_shape(name, name if _is_local(name) else None), plan)["total"]


def gpu_estimates_text(name: str, config: RunConfig | None) -> str:
    """Where the run goes on a machine of several GPUs (or beside a vLLM server), and the estimate per GPU."""
    planned = _plan(name, config)
    if planned is None or not (len(machine.visible_gpus()) > 1 or planned[1].split.launched):
        return ""
    config, plan = planned
    totals = {g.index: g.total_gib for g in plan.split.gpus}
    rows = [strings.MODEL_GPU_ESTIMATE_ROW.format(index=index, role=role, estimate=gib, total=totals[index])
            for index, role, gib in estimate_per_gpu(config, model_shape(name, name if _is_local(name) else None),
                                                    plan)]
    return "\n\n" + strings.MODEL_SPLIT.format(split=plan.split.describe()) + "\n" + "\n".join(rows)


def fit_text(name: str, estimate: float | None) -> str:
    info = machine.gpu_info()
    if info is None:
        return strings.MODEL_CPU_ONLY_BUILTIN if builtin_models.is_builtin(name) else strings.MODEL_CPU_SLOW
    if estimate is None:
        return strings.MODEL_FITS
    share = estimate / info.total_gib
    return strings.MODEL_FITS if share <= FITS_SHARE else strings.MODEL_TIGHT if share <= TIGHT_SHARE \
        else strings.MODEL_TOO_BIG


def models_table(config: RunConfig | None) -> pd.DataFrame:
    rows = []
    for name in RECOMMENDED_MODELS:
        estimate = estimate_gib(name, config)
        rows.append([name, size_text(model_billions(name)),
                     "< 1 GiB" if estimate is None and builtin_models.is_builtin(name)
                     else "?" if estimate is None else f"~{estimate:.1f} GiB", fit_text(name, estimate)])
    return pd.DataFrame(rows, columns=strings.MODEL_TABLE_HEADERS)


def model_summary(name: str, config: RunConfig | None) -> str:
    """What the model box shows under it: its problem in one sentence, or its size, estimate and warnings."""
    name = (name or "").strip()
    if not name:
        return f"✗ {strings.MODEL_EMPTY}"
    try:
        name = web_model_name(name)  # nothing of a folder outside the models folder is read
    except ModelRefused as refused:
        return f"✗ {sentence(refused.problems[0].message)}"
    problems = model_problems(ModelConfig(name=name))
    if problems:
        return f"✗ {sentence(problems[0].message)}"
    # The train check's own reasons why a run of this model cannot start here, said as soon as it is typed.
    unavailable = hub_access.hub_problem(name)
    if unavailable:
        return f"✗ {sentence(unavailable)}"
    billions = model_billions(name)
    too_big = cpu_size_problem(RunConfig(model=ModelConfig(name=name)), billions, machine.has_gpu())
    if too_big:
        return f"✗ {sentence(too_big[0].message)}"
    if builtin_models.is_builtin(name):
        text = strings.MODEL_SUMMARY_BUILTIN.format(name=name, description=builtin_models.BUILTINS[name])
    else:
        estimate = estimate_gib(name, config)
        info = machine.gpu_info()
        versus = strings.MODEL_VERSUS_GPU.format(total=info.total_gib) if info else ""
        text = strings.MODEL_SUMMARY.format(name=name, size=size_text(billions),
                                            estimate="?" if estimate is None else f"~{estimate:.1f} GiB",
                                            versus=versus)
        if estimate is not None:
            text += f" — **{fit_text(name, estimate)}**"
        text += gpu_estimates_text(name, config)
    if billions is not None and billions < SMALL_MODEL_BILLIONS:
        text += "\n\n" + strings.MODEL_SMALL_WARNING.format(warning=SMALL_MODEL_WARNING)
    return text


def config_or_none(form: FormValues) -> RunConfig | None:
    try:
        return form_to_config(form)
    except ConfigError:
        return None


def view_updates(page: Page, values: dict) -> dict:
    """The models table and the chosen model's summary, with VRAM estimated for the current settings."""
    current = page.form.read(values)
    config = config_or_none(current)
    return {page.model.table: models_table(config), page.model.summary: model_summary(current.model_name, config)}


def view_outputs(step: ModelStep) -> list:
    return [step.table, step.summary]
