"""`engine check`: validate a config against the data, the model and this machine, and say what will happen.

Problems are what would make the run fail or do nonsense (one sentence each, with the key to change); warnings
are what a user should know but may accept (a small model, a tight VRAM fit).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine import backends, builtin_models, gpu, hub_access, model_loading, tracking
from engine.config import ConfigError, Problem, RunConfig
from engine.data import prepare_data, start_answers_with_prefix
from engine.model_shape import model_shape
from engine.rewards import reward_problems, sandbox_report
from engine.vram_estimate import estimate_peak_gib

SMALL_MODEL_BILLIONS = 1.5
SMALL_MODEL_WARNING = ("models under 1.5B parameters often fail to keep the thinking format; expect the format "
                       "reward to rise slowly, or pick a 1.5B+ model")
# Above this size a run on the CPU takes hours a step: the model needs a GPU. The built-ins (0.2M, 135M) train in
# seconds to a minute a step on a CPU.
CPU_MAX_BILLIONS = 1.0


@dataclass
class CheckReport:
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    facts: dict[str, str] = field(default_factory=dict)

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
    generation_batch = t.batch_size * t.gradient_accumulation_steps
    if generation_batch % t.num_generations:
        problems.append(Problem("train.num_generations", f"{t.num_generations} must divide the generation batch "
                                f"(batch_size {t.batch_size} x gradient_accumulation_steps "
                                f"{t.gradient_accumulation_steps} = {generation_batch}); set train.batch_size "
                                f"to a multiple of {t.num_generations}"))
    if t.max_completion_length >= m.max_seq_length:
        problems.append(Problem("train.max_completion_length", f"{t.max_completion_length} leaves no room for the "
                                f"prompt within model.max_seq_length {m.max_seq_length}; lower it or raise "
                                "model.max_seq_length"))
    if not config.rewards:
        problems.append(Problem("rewards", "there are no rewards; add at least one (a preset brings its own)"))
    return problems


def check_config(config: RunConfig) -> CheckReport:
    report = CheckReport()
    info = gpu.gpu_info()
    cuda = model_loading.cuda_visible()
    report.add(model_loading.model_problems(config.model))
    if not any(p.key == "model.name" for p in report.problems):
        hub = hub_access.hub_problem(config.model.name)  # before the tokenizer: no second wait on an absent Hub
        if hub:
            report.add([Problem("model.name", hub)])
    report.add(reward_problems(config))
    report.add(batch_problems(config))
    report.add(machine_problems(config, info))
    report.add(tracking.tracker_problems(config))

    report.facts["machine"] = info.describe() if info else "no NVIDIA GPU: CPU mode (slow; fine for tiny models)"
    t = config.train
    report.facts["batch"] = (f"{t.batch_size * t.gradient_accumulation_steps} completions per step = "
                             f"{t.batch_size * t.gradient_accumulation_steps // max(1, t.num_generations)} prompts "
                             f"x {t.num_generations} generations")
    report.facts["tracking"] = tracking.describe(config)
    report.facts["rewards"] = ", ".join(f"{r.name} ({r.kind}, weight {r.weight:g})" for r in config.rewards) or "none"
    sandbox = sandbox_report(config.rewards)
    if sandbox is not None:
        report.facts["code sandbox"], missing_layers = sandbox
        report.warnings += missing_layers

    local_folder, tokenizer = None, None
    if not any(p.key == "model.name" for p in report.problems):
        try:
            local_folder = model_loading.resolve_model_path(config.model.name)
            report.facts["model"] = config.model.name + (f" ({local_folder})" if local_folder != config.model.name
                                                         else "")
            tokenizer = model_loading.load_tokenizer(local_folder)
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
        if not data.train:
            report.add([Problem("data.eval_fraction", "no rows are left for training; lower data.eval_fraction or "
                                                      "add rows")])
    except ConfigError as e:
        report.add(e.problems)

    shape = model_shape(config.model.name, local_folder)
    report.add(cpu_size_problem(config, shape.parameters / 1e9 if shape else None, cuda))
    backend = backends.backend_for(config, cuda)
    plan = backends.plan_run(config, backend, cuda, shape, gpu.free_gib(), info.total_gib if info else None)
    report.add(backends.plan_problems(config, plan, cuda))
    report.facts["backend"] = plan.describe()
    if plan.rollout == "vllm":
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
        if info is not None and estimate["total"] > info.total_gib * 0.95:
            vllm_advice = ", lower model.gpu_memory_utilization or turn on model.vllm_standby" \
                if "vllm_pool" in estimate else ""
            report.warnings.append(f"the estimate ({estimate['total']:.1f} GiB) is above this GPU's "
                                   f"{info.total_gib:.0f} GiB; lower num_generations or "
                                   f"max_completion_length{vllm_advice}, or use load_in_4bit")
    return report

