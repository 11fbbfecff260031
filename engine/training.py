"""The training process: config -> model + data + rewards -> TRL GRPOTrainer -> run folder.

Runs as `python -m engine train` (the app starts it as a subprocess and never imports this). It writes status.json
before anything heavy, streams events.jsonl and samples.jsonl from a TrainerCallback, stops gracefully on SIGTERM
or a STOP file (checkpoint + adapter saved), and turns every failure into `state: failed` with one sentence,
keeping the traceback in log.txt.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
import traceback
from pathlib import Path

from engine import backends, gpu, model_loading, settings
from engine.config import ConfigError, RunConfig, error_sentence
from engine.data import prepare_data, start_answers_with_prefix
from engine.model_shape import shape_for_training
from engine.progress import progress_line
from engine.rewards import SampleBuffer, build_reward_functions, reward_weights, sandbox_report
from engine.run_folder import RunFolder
from engine.training_eval import make_heldout_eval

OOM_ADVICE = ("the GPU ran out of memory; lower train.num_generations or train.max_completion_length, turn on "
              "model.load_in_4bit, or lower model.lora_rank")
VLLM_MEMORY_ADVICE = ("vLLM got too little GPU memory for its KV cache; raise model.gpu_memory_utilization (or leave "
                      "it empty to size it to the run) or lower model.max_seq_length")


class StopRequest:
    """Set by SIGTERM or a STOP file; the callback ends training after the current step."""

    def __init__(self, run: RunFolder):
        self.run = run
        self.signalled = False

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self._on_signal)

    def _on_signal(self, signum, frame) -> None:
        self.signalled = True

    @property
    def requested(self) -> bool:
        return self.signalled or self.run.stop_path.exists()


class Tee:
    """Writes to the terminal and to log.txt: the log keeps everything the process printed."""

    def __init__(self, stream, log_file):
        self.stream, self.log_file = stream, log_file

    def write(self, text):
        self.log_file.write(text)
        self.log_file.flush()
        return self.stream.write(text)

    def flush(self):
        self.log_file.flush()
        self.stream.flush()

    def isatty(self):
        return self.stream.isatty()

    def fileno(self):
        return self.stream.fileno()


def _stdout_is(path: Path) -> bool:
    """True when our stdout already goes to `path` (the app starts us with stdout=log.txt): no Tee then."""
    try:
        return path.exists() and os.path.samestat(os.fstat(sys.stdout.fileno()), os.stat(path))
    except (OSError, ValueError, AttributeError):
        return False


def _log_to_run_folder(run: RunFolder) -> None:
    if _stdout_is(run.log_path):
        return
    log_file = run.log_path.open("a", encoding="utf-8", buffering=1)
    sys.stdout = Tee(sys.stdout, log_file)
    sys.stderr = Tee(sys.stderr, log_file)


def make_monitor(run: RunFolder, buffer: SampleBuffer, stop: StopRequest, samples_per_step: int,
                 cuda: bool, print_progress=print):
    """The TrainerCallback that turns TRL's logs into events.jsonl, samples.jsonl, status.json and progress."""
    from transformers import TrainerCallback

    class RunMonitor(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            run.write_status(state="running", step=state.global_step, session_start_step=state.global_step,
                             session_started=time.time(), pace_from_time=None, pace_from_step=None)

        def on_step_end(self, args, state, control, **kwargs):
            run.write_status(step=state.global_step)
            if stop.requested:
                control.should_training_stop = True
                control.should_save = True  # a checkpoint at this step, so --resume continues from here
            return control

        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = dict(logs or {})
            if "train_runtime" in logs:  # the end-of-training summary, not a step
                return
            event = {"step": state.global_step, "time": time.time(), **logs}
            event["completion_length"] = logs.get("completions/mean_length")
            event.update(gpu.vram_reading(os.getpid()))
            event["torch_peak_allocated_mib"] = _torch_peak_mib() if cuda else None
            if buffer.regex_timeouts:
                event["regex_timeouts"] = dict(buffer.regex_timeouts)
                buffer.regex_timeouts.clear()
            run.append_event(event)
            run.append_samples(_samples(buffer, state.global_step, samples_per_step))
            # The first logged step of this session starts the pace clock for the ETA (it carried the warm-up).
            pace = {} if run.read_status().get("pace_from_time") else {"pace_from_time": event["time"],
                                                                       "pace_from_step": state.global_step}
            status = run.write_status(step=state.global_step, **pace)
            print_progress(progress_line(status, event))

    return RunMonitor()


def _torch_peak_mib() -> float:
    import torch

    return round(torch.cuda.max_memory_allocated() / 2**20, 1)


def _samples(buffer: SampleBuffer, step: int, count: int) -> list[dict]:
    """`count` completions spread over the latest batch (different prompts, not one group)."""
    if not buffer.texts or count == 0:
        return []
    n = len(buffer.texts)
    picks = sorted({round(i * (n - 1) / max(1, count - 1)) for i in range(min(count, n))})
    samples = []
    for i in picks:
        prompt = buffer.prompts[i]
        question = prompt[-1]["content"] if isinstance(prompt, list) else str(prompt)
        scores = {name: values[i] for name, values in buffer.scores.items()}
        samples.append({"step": step, "prompt": question, "completion": buffer.texts[i],
                        "scores": scores, "answer": buffer.answers[i] if buffer.answers else None})
    return samples


def _describe_rollouts(config: RunConfig, tokenizer, plan: backends.RunPlan) -> str:
    t = config.train
    memory = plan.describe_vllm(config.model.vllm_standby)
    return (f"rollouts: {backends.ROLLOUT_LABELS[plan.rollout]}; temperature {t.temperature:g}, top_p {t.top_p:g}, "
            f"min_p {t.min_p:g}, up to {t.max_completion_length} tokens, stop at {tokenizer.eos_token!r}"
            + (f"\n{memory}" if memory else ""))


def with_generation_timing(trainer_class):
    """The trainer class, timing each generation (rollouts + reward scoring) into the logged metrics as
    `timing/generation_s`, so events.jsonl says where a step's time goes (TRL's own profiling timers only reach
    wandb/mlflow). Subclassing whatever `trl.GRPOTrainer` is keeps Unsloth's patched trainer intact."""

    class TimedGRPOTrainer(trainer_class):
        def _generate_and_score_completions(self, *args, **kwargs):
            started = time.perf_counter()
            try:
                return super()._generate_and_score_completions(*args, **kwargs)
            finally:
                mode = "train" if self.model.training else "eval"
                self._metrics[mode]["timing/generation_s"].append(time.perf_counter() - started)

    return TimedGRPOTrainer


def plan_for_this_process(config: RunConfig, backend: backends.Backend, path: str, cuda: bool) -> backends.RunPlan:
    """The run plan with vLLM's share sized against the memory this process sees right before loading."""
    free_gib = total_gib = None
    if cuda:
        import torch

        free, total = torch.cuda.mem_get_info()
        free_gib, total_gib = free / 2**30, total / 2**30
    return backends.plan_run(config, backend, cuda, shape_for_training(path), free_gib, total_gib)


def build_trainer(config: RunConfig, run: RunFolder, backend: backends.Backend, buffer: SampleBuffer,
                  stop: StopRequest, print_progress=print, grpo_overrides: dict | None = None):
    """Load the model through the run's backend and return (trainer, tokenizer, data summary). `grpo_overrides` are
    extra GRPOConfig arguments (bench/grpo_bench.py forces full-length completions through generation_kwargs)."""
    import torch

    cuda = torch.cuda.is_available()
    path = model_loading.resolve_model_path(config.model.name)
    plan = plan_for_this_process(config, backend, path, cuda)
    loaded = plan.backend.load(config, path, plan.rollout, plan.vllm_share)
    tokenizer = loaded.tokenizer

    from datasets import Dataset
    from transformers import PrinterCallback
    from trl import GRPOConfig, GRPOTrainer

    start_answers_with_prefix(tokenizer, config.prompt)
    data = prepare_data(config, tokenizer)
    print(f"data: {data.describe()}")
    print(_describe_rollouts(config, tokenizer, plan))
    sandbox = sandbox_report(config.rewards)
    if sandbox is not None:
        print(f"code sandbox: {sandbox[0]}")
        for missing_layer in sandbox[1]:
            print(f"warning: {missing_layer}")
    train_dataset = Dataset.from_list(data.train)
    t = config.train
    arguments = plan.backend.grpo_arguments(config, tokenizer, plan.rollout, plan.vllm_share, cuda)
    arguments.update(grpo_overrides or {})
    args = GRPOConfig(
        output_dir=str(run.checkpoints_dir), max_steps=t.max_steps, per_device_train_batch_size=t.batch_size,
        gradient_accumulation_steps=t.gradient_accumulation_steps, num_generations=t.num_generations,
        max_completion_length=t.max_completion_length, learning_rate=t.learning_rate,
        lr_scheduler_type=t.lr_scheduler_type, warmup_steps=t.warmup_ratio, weight_decay=t.weight_decay,
        max_grad_norm=t.max_grad_norm, optim=t.optim, temperature=t.temperature, top_p=t.top_p,
        min_p=t.min_p or None, beta=t.beta, loss_type=t.loss_type, logging_steps=t.logging_steps,
        save_strategy="steps", save_steps=t.save_steps, report_to="none", seed=t.seed, bf16=cuda,
        # TRL's default, said explicitly: Unsloth turns it on whenever loss_type "dapo" is given (ours always is),
        # which made the backends train differently and zeroes the update when every completion hits the limit.
        mask_truncated_completions=False,
        disable_tqdm=True, reward_weights=reward_weights(config), log_completions=False,
        dataloader_num_workers=0, **arguments)
    monitor = make_monitor(run, buffer, stop, t.samples_per_step, cuda, print_progress)
    held_out = make_heldout_eval(config, run, tokenizer, data.eval)  # before the monitor: it adds to the step's logs
    trainer = with_generation_timing(GRPOTrainer)(
        model=loaded.model, reward_funcs=build_reward_functions(config, buffer), args=args,
        train_dataset=train_dataset, processing_class=tokenizer, peft_config=loaded.peft_config,
        callbacks=[c for c in (held_out, monitor) if c is not None])
    trainer.remove_callback(PrinterCallback)  # it prints each raw logs dict; our progress line replaces it
    return trainer, tokenizer, data


def use_triton_interpreter_without_gpu() -> None:
    """TRL 1.x computes GRPO log-probs with a Triton kernel; without a GPU, Triton's interpreter runs that same kernel
    on the CPU. Call before anything imports triton (transformers may): the JIT mode is fixed at import."""
    if not model_loading.cuda_visible():
        os.environ.setdefault("TRITON_INTERPRET", "1")


def prepare_process(config: RunConfig) -> None:
    """What the training process does before anything imports transformers or trl (`engine train` loads the
    tokenizer for its checks, which imports transformers): Unsloth must patch them on import, and compiled kernels go
    to the cache folder (in the image, the data volume), so that the next run and the next container start warm
    (their keys include the library versions; Unsloth's generated code is not kept there, as an image update must
    not run code an older Unsloth wrote). A
    failing Unsloth import is left to `train`, which imports it again inside its error handling and reports it."""
    cache = settings.cache_dir() / "compile"
    for variable, folder in (("TRITON_CACHE_DIR", "triton"), ("TORCHINDUCTOR_CACHE_DIR", "inductor"),
                             ("VLLM_CACHE_ROOT", "vllm")):
        os.environ.setdefault(variable, str(cache / folder))
    backend = backends.backend_for(config, model_loading.cuda_visible())
    with contextlib.suppress(Exception):
        backend.prepare_process(config)


def _is_oom(error: BaseException) -> bool:
    text = f"{type(error).__name__}: {error}".lower()
    return "outofmemory" in text.replace(" ", "") or "out of memory" in text


def _is_vllm_cache_shortage(error: BaseException) -> bool:
    """vLLM's start-up errors when gpu_memory_utilization leaves no room for the KV cache of one sequence."""
    text = str(error).lower()
    return "no available memory for the cache blocks" in text or "larger than the available kv cache memory" in text


def train(config: RunConfig, run: RunFolder, resume: bool = False, grpo_overrides: dict | None = None) -> str:
    """Run GRPO into `run`; returns the final state (completed, stopped or failed). Never raises for a run error."""
    _log_to_run_folder(run)
    config.save(run.config_path)
    stop = StopRequest(run)
    stop.install()
    run.stop_path.unlink(missing_ok=True)
    backend = backends.backend_for(config, model_loading.cuda_visible())
    previous = run.read_status()
    run.write_status(state="starting", pid=os.getpid(), backend=backend.name, model=config.model.name,
                     preset=config.preset, max_steps=config.train.max_steps, step=previous.get("step", 0),
                     started=previous.get("started") if resume and previous.get("started") else time.time(),
                     error=None, finished=None)
    print(f"run folder: {run.path}\nbackend: {backend.name}; model: {config.model.name}")
    try:
        backend.prepare_process(config)
        trainer, tokenizer, _ = build_trainer(config, run, backend, SampleBuffer(), stop,
                                              grpo_overrides=grpo_overrides)
        checkpoint = run.last_checkpoint() if resume else None
        if resume and checkpoint is None:
            print("no checkpoint to resume from: starting from step 0")
        elif checkpoint is not None:
            print(f"resuming from {checkpoint.name}")
            run.forget_after(int(checkpoint.name.split("-")[-1]))
        trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
        trainer.save_model(str(run.adapter_dir))
        tokenizer.save_pretrained(str(run.adapter_dir))
        state = "stopped" if stop.requested else "completed"
        run.write_status(state=state, step=trainer.state.global_step, finished=time.time())
        print(f"{state} at step {trainer.state.global_step}; adapter saved to {run.adapter_dir}")
        return state
    except BaseException as error:  # KeyboardInterrupt too: the run folder must say what happened
        traceback.print_exc()
        if isinstance(error, ConfigError):  # e.g. the data file changed since `check`
            message = str(error)
        elif isinstance(error, KeyboardInterrupt):
            message = "interrupted (Ctrl-C); resume with --resume"
        elif _is_oom(error):
            message = OOM_ADVICE
        elif _is_vllm_cache_shortage(error):
            message = VLLM_MEMORY_ADVICE
        else:
            message = error_sentence(error)
        run.write_status(state="failed", error=message, finished=time.time())
        print(f"failed: {message} (full traceback in {run.log_path})")
        return "failed"
