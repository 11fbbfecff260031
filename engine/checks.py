"""`engine check`: validate a config against the data, the model and this machine, and say what will happen.

Problems are what would make the run fail or do nonsense (one sentence each, with the key to change); warnings
are what a user should know but may accept (a small model, a tight VRAM fit).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from engine import backends, builtin_models, gpu, hub_access, model_names, run_length, tracking
from engine.config import RunConfig
from engine.data import PreparedData, prepare_data, start_answers_with_prefix
from engine.gpu_split import split_problems
from engine.model_shape import model_shape
from engine.problems import ConfigError, Problem
from engine.rewards import kind_of, reward_problems, sandbox_report
from engine.vram_estimate import estimate_peak_gib, estimate_per_gpu

SMALL_MODEL_BILLIONS = 1.5
SMALL_MODEL_WARNING = ("models under 1.5B parameters often fail to keep the thinking format; expect the format "
                       "reward to rise slowly, or pick a 1.5B+ model")
# Above this size a run on the CPU takes hours a step: the model needs a GPU. The built-ins (0.2M, 135M) train in
# seconds to a minute a step on a CPU.
CPU_MAX_BILLIONS = 1.0
DURATION_FACT = "duration"  # how long the run will take (engine/run_length.py); the app shows it beside Launch


@dataclass
class CheckReport:
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    facts: dict[str, str] = field(default_factory=dict)
    plan: backends.RunPlan | None = None  # what `engine train` launches: backend, rollouts, GPU split

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, problems: list[Problem]) -> None:
        """One sentence per key: a pattern that does not compile is found by two checks but reported once."""
        seen = {p.key for p in self.problems if p.key}
        self.problems += [p for p in problems if not p.key or p.key not in seen]


def machine_problems(config: RunConfig, info: gpu.GpuInfo | None) -> list[Problem]:
    """What this machine cannot do that the config asks for, whichever backend runs it."""
    m, problems = config.model, []
    no_gpu = "there is no NVIDIA GPU here"
    if m.load_in_fp8:
        if info is None:
            problems.append(Problem("model.load_in_fp8", f"FP8 needs an NVIDIA GPU with compute capability 8.9 or "
                                                         f"newer and {no_gpu}; use the rlvr-math preset instead"))
        elif not info.supports_fp8:
            major, minor = info.compute_capability
            problems.append(Problem("model.load_in_fp8", f"the {info.name} has compute capability {major}.{minor} "
                                                         "but FP8 needs 8.9 or newer (RTX 40/50, L4, L40, H100); "
                                                         "use rlvr-math or model.load_in_4bit instead"))
    if m.load_in_4bit and info is None:
        problems.append(Problem("model.load_in_4bit", f"4-bit loading needs an NVIDIA GPU and {no_gpu}; "
                                                      "turn it off"))
    if config.train.optim != "adamw_torch" and info is None:
        problems.append(Problem("train.optim", f"{config.train.optim} (bitsandbytes) needs an NVIDIA GPU and "
                                               f"{no_gpu}; use adamw_torch"))
    return problems


def cpu_size_problem(config: RunConfig, billions: float | None, cuda: bool) -> list[Problem]:
    """A model too large to train without a GPU, on a machine without one."""
    if cuda or billions is None or billions <= CPU_MAX_BILLIONS:
        return []
    return [Problem("model.name", f"{config.model.name} has about {billions:.1f}B parameters, too many to train "
                                  "without an NVIDIA GPU (a step would take hours here); pick builtin:tiny or "
                                  "builtin:smollm2-135m on this machine, or use one with a GPU")]


def batch_problems(config: RunConfig) -> list[Problem]:
    t, m = config.train, config.model
    problems = []
    generation_batch = t.generation_batch
    if generation_batch % t.num_generations:
        steps = (f"steps_per_generation {t.steps_per_generation}" if t.steps_per_generation
                 else f"gradient_accumulation_steps {t.gradient_accumulation_steps}")
        problems.append(Problem("train.num_generations", f"{t.num_generations} must divide the generation batch "
                                f"(batch_size {t.batch_size} x {steps} = {generation_batch}); set train.batch_size "
                                f"to a multiple of {t.num_generations}"))
    if t.max_completion_length >= m.max_seq_length:
        problems.append(Problem("train.max_completion_length", f"{t.max_completion_length} leaves no room for the "
                                f"prompt within model.max_seq_length {m.max_seq_length}; lower it or raise "
                                "model.max_seq_length"))
    if not config.rewards:
        problems.append(Problem("rewards", "there are no rewards; add at least one (a preset brings its own)"))
    return problems


def data_warnings(config: RunConfig, data: PreparedData) -> list[str]:
    """What happens to rows that cannot train as they are: too long, no question, no answer for a reward that needs
    one."""
    warnings = []
    if data.dropped_too_long:
        m, t = config.model, config.train
        warnings.append(f"{data.dropped_too_long} of {data.total_rows} rows have a prompt longer than the "
                        f"{m.max_seq_length - t.max_completion_length} tokens that model.max_seq_length "
                        f"{m.max_seq_length} leaves after train.max_completion_length {t.max_completion_length}: they "
                        "are left out of training; raise model.max_seq_length or shorten those prompts")
    if data.dropped_empty:
        warnings.append(f"{data.dropped_empty} of {data.total_rows} rows have an empty or null "
                        f"'{data.columns.prompt}' cell: they are left out of training")
    graders = [spec.name for spec in config.rewards if kind_of(spec).needs_gold]
    if data.without_answer and graders:
        names = " and ".join(graders)
        warnings.append(f"{data.without_answer} of the {data.used} rows used have an empty or null "
                        f"'{data.columns.answer}' cell: the {names} reward{'s' if len(graders) > 1 else ''} "
                        f"do{'' if len(graders) > 1 else 'es'} not score them (the others do), so they teach the "
                        "format but not the answers")
    return warnings


def machine_fact(visible: list[gpu.GpuInfo]) -> str:
    if not visible:
        return "no NVIDIA GPU: CPU mode (slow; fine for tiny models)"
    if len(visible) == 1:
        return visible[0].describe()
    return "; ".join(f"GPU {g.index}: {g.describe()}" for g in visible)


def batch_fact(config: RunConfig, processes: int) -> str:
    t = config.train
    per_device = t.generation_batch
    unit = "step" if t.generation_steps == t.gradient_accumulation_steps else "generation"
    text = (f"{per_device} completions per {unit} = {per_device // max(1, t.num_generations)} prompts x "
            f"{t.num_generations} generations")
    if t.num_iterations > 1:
        text += f", each trained on {t.num_iterations} times"
    return text if processes == 1 else f"{text} on each of {processes} training GPUs ({per_device * processes} in all)"


def gpu_estimate_findings(config: RunConfig, shape, plan: backends.RunPlan) -> tuple[str, list[str], list[Problem]]:
    """The per-GPU estimate line, and what it means: a server sharing a GPU it does not fit on cannot work (a
    problem); any other GPU over 95% is a warning."""
    rows = estimate_per_gpu(config, shape, plan)
    totals = {g.index: g.total_gib for g in plan.split.gpus}
    line = ", ".join(f"GPU {index} ({role}) ~{gib:.1f} of {totals[index]:.0f} GiB" for index, role, gib in rows)
    warnings, problems = [], []
    for index, role, gib in rows:
        if plan.split.shared and gib > totals[index]:
            problems.append(Problem("model.rollout", f"the vLLM server and the trainer need ~{gib:.0f} GiB together, "
                                                     f"more than GPU {index}'s {totals[index]:.0f} GiB; lower "
                                                     "train.batch_size or model.max_seq_length, or use model.rollout "
                                                     "vllm (TRL's colocate mode)"))
        elif gib > 0.95 * totals[index] and role == "vLLM server":
            warnings.append(f"the vLLM server's share (~{gib:.1f} GiB) is above GPU {index}'s {totals[index]:.0f} "
                            "GiB; lower model.gpu_memory_utilization or add hardware.rollout_gpus")
    return line, warnings, problems


def check_config(config: RunConfig, probe_reports: list[Path] = ()) -> CheckReport:
    """`probe_reports`: probe.json files that may have measured this config's step (engine/run_length.py)."""
    report = CheckReport()
    visible = gpu.visible_gpus()
    info = visible[0] if visible else None
    cuda = model_names.cuda_visible()
    report.add(model_names.model_problems(config.model))
    if not any(p.key == "model.name" for p in report.problems):
        hub = hub_access.hub_problem(config.model.name)  # before the tokenizer: no second wait on an absent Hub
        if hub:
            report.add([Problem("model.name", hub)])
    report.add(reward_problems(config))
    report.add(batch_problems(config))
    report.add(machine_problems(config, info))
    report.add(tracking.tracker_problems(config))

    report.facts["machine"] = machine_fact(visible)
    report.facts["batch"] = batch_fact(config, 1)
    report.facts["tracking"] = tracking.describe(config)
    expected = run_length.describe(config, run_length.measured_step(config, probe_reports))
    report.facts[DURATION_FACT] = expected.text
    if expected.warning:
        report.warnings.append(expected.warning)
    report.facts["rewards"] = ", ".join(f"{r.name} ({r.kind}, weight {r.weight:g})" for r in config.rewards) or "none"
    sandbox = sandbox_report(config.rewards)
    if sandbox is not None:
        report.facts["code sandbox"], missing_layers = sandbox
        report.warnings += missing_layers

    local_folder, tokenizer = None, None
    if not any(p.key == "model.name" for p in report.problems):
        try:
            local_folder = model_names.resolve_model_path(config.model.name)
            report.facts["model"] = config.model.name + (f" ({local_folder})" if local_folder != config.model.name
                                                         else "")
            tokenizer = model_names.load_tokenizer(local_folder)
            start_answers_with_prefix(tokenizer, config.prompt)
        except builtin_models.BuiltinModelError as e:
            report.problems.append(Problem("model.name", str(e)))
        except Exception as e:  # a hub id while offline, or not downloaded yet: lengths are checked at launch
            report.warnings.append(f"the tokenizer of {config.model.name} could not be loaded here "
                                   f"({type(e).__name__}); prompt lengths are checked when the run starts")
    try:
        data = prepare_data(config, tokenizer)
        report.facts["data"] = data.describe()
        if data.longest_prompt_tokens is not None:
            report.facts["longest prompt"] = f"{data.longest_prompt_tokens} tokens"
        report.warnings += data_warnings(config, data)
        if not data.train:
            report.add([Problem("data.eval_fraction", "no rows are left for training; lower data.eval_fraction or "
                                                      "add rows")])
        elif len(data.train) < (per_step := config.train.generation_batch // config.train.num_generations):
            # TRL's sampler hands out whole steps only: fewer questions than one step takes trains nothing (seen on
            # an H100: a curated file of 7 rows, 8 questions a step, 'stopping training at step 0').
            report.add([Problem("train.batch_size", f"only {len(data.train)} questions are left for training but "
                                                    f"each step takes {per_step} (batch_size / num_generations); "
                                                    "add rows or lower train.batch_size")])
    except ConfigError as e:
        report.add(e.problems)

    shape = model_shape(config.model.name, local_folder)
    report.add(cpu_size_problem(config, shape.parameters / 1e9 if shape else None, cuda))
    plan = backends.plan_for_machine(config, cuda, shape, visible, gpu.free_gib())
    report.plan = plan
    report.add(backends.plan_problems(config, plan, cuda))
    report.add(split_problems(config, visible, plan.backend.name, plan.rollout, shape))
    report.facts["backend"] = plan.describe()
    if len(visible) > 1 or plan.split.launched:
        report.facts["GPUs"] = plan.split.describe()
        report.facts["batch"] = batch_fact(config, plan.split.processes)
    if plan.uses_vllm:
        report.facts["vLLM memory"] = plan.describe_vllm(config.model.vllm_standby)
    if shape is not None:
        billions = shape.parameters / 1e9
        report.facts["parameters"] = f"{billions:.2f}B" if billions >= 0.1 else f"{shape.parameters / 1e6:.1f}M"
        if billions < SMALL_MODEL_BILLIONS:
            report.warnings.append(SMALL_MODEL_WARNING)
        estimate = estimate_peak_gib(config, shape, plan)
        parts = ", ".join(f"{name.replace('_', ' ')} {estimate[name]:.1f}"
                          for name in ("vllm_pool", "weights", "activations", "kv_cache") if estimate.get(name))
        report.facts["VRAM estimate"] = f"~{estimate['total']:.1f} GiB peak on CUDA (rough: {parts})"
        too_big = []
        if len(plan.split.gpus) > 1 or plan.split.shared:
            report.facts["VRAM per GPU"], warnings, too_big = gpu_estimate_findings(config, shape, plan)
            report.warnings += warnings
            report.add(too_big)
        if plan.split.training:
            info = plan.split.training[0]
        if info is not None and estimate["total"] > info.total_gib * 0.95 and not too_big:
            vllm_advice = ", lower model.gpu_memory_utilization or turn on model.vllm_standby" \
                if "vllm_pool" in estimate else ""
            report.warnings.append(f"the estimate ({estimate['total']:.1f} GiB) is above this GPU's "
                                   f"{info.total_gib:.0f} GiB; lower num_generations or "
                                   f"max_completion_length{vllm_advice}, or use load_in_4bit")
    return report

