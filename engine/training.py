"""The training process: config -> model + data + rewards -> TRL GRPOTrainer -> run folder.

Runs as `python -m engine train` (the app starts it as a subprocess and never imports this). It writes status.json
before anything heavy, streams events.jsonl and samples.jsonl from a TrainerCallback, stops gracefully on SIGTERM
or a STOP file (checkpoint + adapter saved), and turns every failure into `state: failed` with one sentence,
keeping the traceback in log.txt.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from engine import backends, disk_space, gpu, model_names, ranks, settings, tracking
from engine.backends.base import RolloutServerAddress
from engine.config import RunConfig
from engine.data import prepare_data, start_answers_with_prefix
from engine.gpu_split import launches_children
from engine.model_shape import shape_for_training
from engine.problems import ConfigError, error_sentence
from engine.rewards import SampleBuffer, build_reward_functions, reward_weights, sandbox_report
from engine.runs import checkpoints, trainer_process
from engine.runs.folder import RunFolder
from engine.runs.progress import progress_line
from engine.training_eval import make_heldout_eval

OOM_ADVICE = ("the GPU ran out of memory; lower train.num_generations or train.max_completion_length, turn on "
              "model.load_in_4bit, or lower model.lora_rank")
VLLM_MEMORY_ADVICE = ("vLLM got too little GPU memory for its KV cache; raise model.gpu_memory_utilization (or leave "
                      "it empty to size it to the run) or lower model.max_seq_length")
VLLM_PROFILING_RACE = ("another program on this GPU released memory while vLLM measured it at start-up; start the "
                       "run again (or resume it) when no other run or probe is starting on the same GPU")
ADAPTER_STAGING = ".adapter.incomplete"


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
        with contextlib.suppress(OSError):  # a full disk must not turn every print into a new error
            self.log_file.write(text)
            self.log_file.flush()
        return self.stream.write(text)

    def flush(self):
        with contextlib.suppress(OSError):
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


def log_to_run_folder(run: RunFolder) -> None:
    if _stdout_is(run.log_path):
        return
    try:
        log_file = run.log_path.open("a", encoding="utf-8", buffering=1)
    except OSError:  # a full disk or a read-only folder: the status still says what happens
        return
    sys.stdout = Tee(sys.stdout, log_file)
    sys.stderr = Tee(sys.stderr, log_file)


def make_monitor(run: RunFolder, buffer: SampleBuffer, stop: StopRequest, samples_per_step: int,
                 cuda: bool, print_progress=print, publish_samples=None, launched: bool = False):
    """The TrainerCallback that turns TRL's logs into events.jsonl, samples.jsonl, status.json and progress;
    `publish_samples(step, samples)` also hands each step's samples to a tracker (engine/tracking.py). Every rank
    runs it; only the main one writes. `launched`: this process is a child of `engine train` (a rank, or the trainer
    beside a vLLM server), whose identity stays the one status.json names."""
    from transformers import TrainerCallback

    main = ranks.is_main()

    def identity() -> dict:
        return {} if launched else trainer_process.own_identity()

    class RunMonitor(TrainerCallback):
        # The identity is written again with each step: a library that retitles the process while the model loads
        # (setproctitle) changes the command line that the app's identity check compares.
        logged_batch = None  # the generated batch whose samples were written last

        def on_train_begin(self, args, state, control, **kwargs):
            if main:
                run.write_status(state="running", step=state.global_step, session_start_step=state.global_step,
                                 session_started=time.time(), pace_from_time=None, pace_from_step=None,
                                 **identity())

        def on_step_end(self, args, state, control, **kwargs):
            if main:
                run.write_status(step=state.global_step, **identity())
            if ranks.any_rank(stop.requested):
                control.should_training_stop = True
                control.should_save = True  # a checkpoint at this step, so --resume continues from here
            return control

        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = dict(logs or {})
            if "train_runtime" in logs or not main:  # the end-of-training summary, not a step
                return
            event = {"step": state.global_step, "time": time.time(), **logs}
            event["completion_length"] = logs.get("completions/mean_length")
            recorded = run.read_status()
            # The run's processes: `engine train` and its children (every rank, the vLLM server), or this one.
            owner = recorded.pid if launched else os.getpid()
            event.update(gpu.vram_reading(owner))  # the first training GPU, under the keys one GPU always had
            event["gpus"] = gpu.vram_readings(recorded.gpus or [], owner)
            event["torch_peak_allocated_mib"] = _torch_peak_mib() if cuda else None
            if buffer.regex_timeouts:
                event["regex_timeouts"] = dict(buffer.regex_timeouts)
                buffer.regex_timeouts.clear()
            run.append_event(event)
            # Each generated batch once: with num_iterations or steps_per_generation above gradient_accumulation_steps
            # a step can train on the batch an earlier step already logged.
            fresh = buffer.batch is not self.logged_batch
            self.logged_batch = buffer.batch
            samples = _samples(buffer, state.global_step, samples_per_step) if fresh else []
            run.append_samples(samples)
            if publish_samples is not None:
                publish_samples(state.global_step, samples)
            # The first logged step of this session starts the pace clock for the ETA (it carried the warm-up).
            pace = {} if recorded.pace_from_time else {"pace_from_time": event["time"],
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
                  stop: StopRequest, print_progress=print, grpo_overrides: dict | None = None,
                  resume_step: int | None = None, launch: Launched | None = None):
    """Load the model through the run's backend and return (trainer, tokenizer, data summary). `grpo_overrides` are
    extra GRPOConfig arguments (bench/grpo_bench.py forces full-length completions through generation_kwargs);
    `resume_step` is the checkpoint's step when resuming (the tracker's log continues from there); `launch` says how
    `engine train` launched this process (None: it is `engine train`)."""
    import torch

    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(ranks.local_rank())  # each rank its own GPU (CUDA_VISIBLE_DEVICES holds the run's)
    path = model_names.resolve_model_path(config.model.name)
    plan = plan_for_this_process(config, backend, path, cuda)
    loaded = plan.backend.load(config, path, plan.rollout, plan.vllm_share)
    tokenizer = loaded.tokenizer

    from datasets import Dataset
    from transformers import PrinterCallback
    from trl import GRPOConfig, GRPOTrainer

    start_answers_with_prefix(tokenizer, config.prompt)
    data = prepare_data(config, tokenizer)
    _say(f"data: {data.describe()}")
    _say(_describe_rollouts(config, tokenizer, plan))
    sandbox = sandbox_report(config.rewards)
    if sandbox is not None:
        _say(f"code sandbox: {sandbox[0]}")
        for missing_layer in sandbox[1]:
            _say(f"warning: {missing_layer}")
    train_dataset = Dataset.from_list(data.train)
    t = config.train
    arguments = plan.backend.grpo_arguments(config, tokenizer, plan.rollout, plan.vllm_share, cuda,
                                            launch.server if launch else None)
    tracking.prepare_environment(config, run)
    arguments = {"log_completions": False} | arguments | tracking.grpo_arguments(config, run)
    arguments.update(grpo_overrides or {})
    args = GRPOConfig(
        output_dir=str(run.checkpoints_dir), max_steps=t.max_steps, per_device_train_batch_size=t.batch_size,
        gradient_accumulation_steps=t.gradient_accumulation_steps, num_generations=t.num_generations,
        max_completion_length=t.max_completion_length, learning_rate=t.learning_rate,
        lr_scheduler_type=t.lr_scheduler_type, warmup_steps=t.warmup_ratio, weight_decay=t.weight_decay,
        max_grad_norm=t.max_grad_norm, optim=t.optim, temperature=t.temperature, top_p=t.top_p,
        min_p=t.min_p or None, beta=t.beta, loss_type=t.loss_type, scale_rewards=t.scale_rewards,
        num_iterations=t.num_iterations, steps_per_generation=t.steps_per_generation, logging_steps=t.logging_steps,
        save_strategy="steps", save_steps=t.save_steps, seed=t.seed, bf16=cuda,
        # TRL's default, said explicitly: Unsloth turns it on whenever loss_type "dapo" is given (ours always is),
        # which made the backends train differently and zeroes the update when every completion hits the limit.
        mask_truncated_completions=False,
        disable_tqdm=True, reward_weights=reward_weights(config), dataloader_num_workers=0, **arguments)
    trackers = tracking.callbacks(config, run, resume_step) if ranks.is_main() else []  # one rank writes its files
    monitor = make_monitor(run, buffer, stop, t.samples_per_step, cuda, print_progress,
                           lambda step, samples: tracking.publish_samples(trackers, step, samples),
                           launched=launch is not None)
    # Before the monitor: it adds to the step's logs.
    held_out = make_heldout_eval(config, run, tokenizer, data.eval, print_line=_say)
    # The trackers last: the step's logs reach them with the held-out checks' metrics in them.
    trainer = with_generation_timing(GRPOTrainer)(
        model=loaded.model, reward_funcs=build_reward_functions(config, buffer), args=args,
        train_dataset=train_dataset, processing_class=tokenizer, peft_config=loaded.peft_config,
        callbacks=[*plan.backend.callbacks(config), *(c for c in (held_out, monitor) if c is not None), *trackers])
    trainer.remove_callback(PrinterCallback)  # it prints each raw logs dict; our progress line replaces it
    return trainer, tokenizer, data


def use_triton_interpreter_without_gpu() -> None:
    """TRL 1.x computes GRPO log-probs with a Triton kernel; without a GPU, Triton's interpreter runs that same kernel
    on the CPU. Call before anything imports triton (transformers may): the JIT mode is fixed at import."""
    if not model_names.cuda_visible():
        os.environ.setdefault("TRITON_INTERPRET", "1")


def prepare_process(config: RunConfig, backend_name: str | None = None) -> None:
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
    if backend_name is None and launches_children(config, gpu.visible_gpus()):
        return  # `engine train` launches the training: each child imports its backend first, on its own GPUs
    backend = (backends.BACKENDS[backend_name] if backend_name
               else backends.backend_for(config, model_names.cuda_visible()))
    with contextlib.suppress(Exception):
        backend.prepare_process(config)


def _is_oom(error: BaseException) -> bool:
    text = f"{type(error).__name__}: {error}".lower()
    return "outofmemory" in text.replace(" ", "") or "out of memory" in text


def _is_vllm_cache_shortage(error: BaseException) -> bool:
    """vLLM's start-up errors when gpu_memory_utilization leaves no room for the KV cache of one sequence."""
    text = str(error).lower()
    return "no available memory for the cache blocks" in text or "larger than the available kv cache memory" in text


def begin(config: RunConfig, run: RunFolder, resume: bool = False) -> StopRequest:
    """The trainer's first writes, before anything heavy is imported: state starting with this process's identity
    (pid, create time, command line hash), so the app can tell its own trainer from a process that later reuses the
    pid; SIGTERM turned into a graceful stop; and a STOP file left from an earlier session removed. A STOP made after
    this process started is kept: a stop asked for while the run is still starting is honoured."""
    stop = StopRequest(run)
    stop.install()
    identity = trainer_process.own_identity()
    with contextlib.suppress(OSError):
        if run.stop_path.stat().st_mtime < identity["pid_create_time"]:
            run.stop_path.unlink()
    config.save(run.config_path)  # a listed run folder from its first moment
    previous = run.read_status()
    run.write_status(state="starting", **identity, model=config.model.name, preset=config.preset,
                     max_steps=config.train.max_steps, step=previous.step if resume else 0,
                     started=previous.started if resume and previous.started else time.time(), error=None,
                     finished=None, checkpoint=None)
    return stop


def _say(text: str) -> None:
    """Print to the log and terminal, from the main process only (every rank would repeat it); on a full disk the
    run's outcome is in status.json, so a lost line is fine."""
    if ranks.is_main():
        with contextlib.suppress(OSError):
            print(text, flush=True)


def _save_adapter(trainer, tokenizer, run: RunFolder) -> None:
    """The adapter and tokenizer into a staging folder, then renamed into adapter/: whole or absent. Every rank
    takes part in saving (FSDP and ZeRO-3 gather the sharded weights); the main one writes."""
    staged = run.path / ADAPTER_STAGING
    main = ranks.is_main()
    if main:
        shutil.rmtree(staged, ignore_errors=True)
    trainer.save_model(str(staged))
    if main:
        tokenizer.save_pretrained(str(staged))
        checkpoints.publish(staged, run.adapter_dir)


def finish_before_training(run: RunFolder) -> str:
    if ranks.is_main():
        run.write_status(state="stopped", finished=time.time())
        run.stop_path.unlink(missing_ok=True)
    _say("stopped before the first step (a stop was asked for while the run was starting)")
    return "stopped"


class RunFailure(Exception):
    """A failure whose message is already the sentence status.json gets (e.g. the vLLM server died)."""


def _is_vllm_profiling_race(error: BaseException) -> bool:
    """vLLM's start-up assertion when free memory grew while it profiled (vLLM assumes the GPU is its own then)."""
    text = str(error).lower()
    return "error in memory profiling" in text and "release gpu memory" in text


def _failure_sentence(error: BaseException, run: RunFolder) -> str:
    if disk_space.is_disk_full(error, run.path):
        return disk_space.full_disk_sentence(run.path)
    if isinstance(error, (ConfigError, RunFailure)):  # ConfigError: e.g. the data file changed since `check`
        return str(error)
    if isinstance(error, KeyboardInterrupt):
        return "interrupted (Ctrl-C); resume with --resume"
    if _is_oom(error):
        return OOM_ADVICE
    if _is_vllm_cache_shortage(error):
        return VLLM_MEMORY_ADVICE
    if _is_vllm_profiling_race(error):
        return VLLM_PROFILING_RACE
    return error_sentence(error)


def fail(run: RunFolder, error: BaseException) -> str:
    """Record a failure: temporary files and the disk reserve go first (on a full disk that is what makes room),
    then status.json gets the sentence, then the log gets the traceback and the sentence. A rank other than the
    main one only prints them (`engine train` shows the first such line if the main rank could not say)."""
    message = _failure_sentence(error, run)  # before the clean-up: the free space as the failing write saw it
    if not ranks.is_main():
        with contextlib.suppress(OSError):
            traceback.print_exception(error)
            print(f"failed: {message} (rank {ranks.rank()})", flush=True)
        return "failed"
    checkpoints.discard_incomplete(run.checkpoints_dir)
    shutil.rmtree(run.path / ADAPTER_STAGING, ignore_errors=True)
    disk_space.release(run.path)
    with contextlib.suppress(OSError):
        run.write_status(state="failed", error=message, finished=time.time())
    if isinstance(error, RunFailure):  # nothing raised it that a traceback would explain
        _say(f"failed: {message}")
        return "failed"
    with contextlib.suppress(OSError):
        traceback.print_exception(error)
    _say(f"failed: {message} (full traceback in {run.log_path})")
    return "failed"


@dataclass(frozen=True)
class Launched:
    """How `engine train` started this process (`engine train RUN --worker`): the backend it chose for the run, and
    the vLLM server it started (TRL's server mode) where there is one."""
    backend: str
    server: RolloutServerAddress | None = None


def train(config: RunConfig, run: RunFolder, resume: bool = False, grpo_overrides: dict | None = None,
          stop: StopRequest | None = None, launch: Launched | None = None) -> str:
    """Run GRPO into `run`; returns the final state (completed, stopped or failed). Never raises for a run error.
    `stop` is what `begin` returned when the caller (engine train) wrote the starting status already; `launch` is
    set in the processes `engine train` launched (engine/launcher.py), which wrote the starting status for them."""
    main = ranks.is_main()
    several = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if launch is None:
        log_to_run_folder(run)  # a launched process's output goes to `engine train`, which keeps the log
        stop = stop or begin(config, run, resume)
    else:
        stop = StopRequest(run)  # SIGTERM (torchrun passes its own on) as the same graceful stop
        stop.install()
    try:
        if main:
            disk_space.reserve(run.path)
        if launch is None:
            backend = backends.backend_for(config, model_names.cuda_visible())
            info = gpu.gpu_info()
            run.write_status(backend=backend.name, gpus=[info.index] if info else None)
            print(f"run folder: {run.path}\nbackend: {backend.name}; model: {config.model.name}")
        else:
            backend = backends.BACKENDS[launch.backend]
        # Ranks see a STOP file at different moments; before the process group exists they cannot agree, so the
        # early check is left to `engine train`, which made it before starting them.
        if not several and stop.requested:
            return finish_before_training(run)
        backend.prepare_process(config)
        resuming_from = run.last_checkpoint() if resume else None
        trainer, tokenizer, _ = build_trainer(config, run, backend, SampleBuffer(), stop,
                                              grpo_overrides=grpo_overrides, launch=launch,
                                              resume_step=checkpoints.step_of(resuming_from) if resuming_from else None)
        checkpoints.save_whole_checkpoints(trainer, run.checkpoints_dir)
        checkpoint = None
        if resume:
            if main:
                for name in checkpoints.discard_incomplete(run.checkpoints_dir):
                    _say(f"skipping {name}: its save never finished (the trainer was killed or the disk filled up)")
            ranks.barrier()
            checkpoint = run.last_checkpoint()
            if checkpoint is None:
                _say("no complete checkpoint to resume from: starting from step 0")
            else:
                _say(f"resuming from {checkpoint.name}")
            if main:  # the steps logged after the checkpoint are trained again: each is logged once
                run.forget_after(checkpoints.step_of(checkpoint) if checkpoint else 0)
                if checkpoint is not None:
                    run.write_status(checkpoint=checkpoint.name)
        if ranks.any_rank(stop.requested):
            return finish_before_training(run)
        trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
        _save_adapter(trainer, tokenizer, run)
        # Short of max_steps without a STOP of its own: another rank saw it first.
        state = "stopped" if stop.requested or trainer.state.global_step < trainer.state.max_steps else "completed"
        # The log's last line before the status: whoever sees the run ended (the page, a test, `watch`) finds it logged.
        _say(f"{state} at step {trainer.state.global_step}; adapter saved to {run.adapter_dir}")
        if main:
            run.write_status(state=state, step=trainer.state.global_step, finished=time.time())
            run.stop_path.unlink(missing_ok=True)  # honoured; a later resume must not stop at once
        return state
    except BaseException as error:  # KeyboardInterrupt too: the run folder must say what happened
        return fail(run, error)
    finally:
        if main:
            disk_space.release(run.path)
