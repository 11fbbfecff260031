"""Where a GRPO step's time goes, for `bench/grpo_bench.py --profile-steps A-B` (a benchmark tool, never loaded by the
engine). Three views of the same steps, written to the run folder:

- phases: wall seconds per step in generation (rollouts + scoring), the loss's forward, the rest of training_step
  (backward), the optimizer, and whatever is left (callbacks, logging). The GPU is synchronised at each boundary, so
  a phase's seconds include the GPU work it queued.
- stacks: the training thread's Python stack sampled every 10 ms (a sampling profiler in a thread: py-spy needs
  ptrace, which the lent GPU machine may not give). Per step, the functions that held the most samples, inclusive
  and innermost; all steps also as collapsed stacks (one line per stack and its count, flamegraph.pl's input).
- kernels: torch.profiler over the training side of the last profiled step (after its generation: vLLM's thousands
  of decode graphs would swamp the trace), as key_averages tables and a gzipped Chrome trace.
"""

from __future__ import annotations

import collections
import gzip
import shutil
import sys
import threading
import time
from pathlib import Path

INTERVAL_S = 0.01


def _sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _frame_name(frame) -> str:
    path = Path(frame.f_code.co_filename)
    return f"{path.parent.name}/{path.name}:{frame.f_code.co_name}"


class StackSampler(threading.Thread):
    """Samples one thread's Python stack every INTERVAL_S seconds, counting stacks per step (`self.step`; None
    pauses sampling)."""

    def __init__(self, thread_id: int):
        super().__init__(daemon=True)
        self.thread_id = thread_id
        self.step: int | None = None
        self.stacks: dict[int, collections.Counter] = collections.defaultdict(collections.Counter)
        self.done = threading.Event()

    def run(self):
        while not self.done.wait(INTERVAL_S):
            step = self.step
            frame = sys._current_frames().get(self.thread_id)
            if step is None or frame is None:
                continue
            names = []
            while frame is not None:
                names.append(_frame_name(frame))
                frame = frame.f_back
            self.stacks[step][tuple(reversed(names))] += 1


def _top(counter: collections.Counter, count: int) -> list[str]:
    return [f"{n * INTERVAL_S:8.2f} s  {name}" for name, n in counter.most_common(count)]


def stack_report(stacks: dict[int, collections.Counter]) -> str:
    lines = []
    for step in sorted(stacks):
        inclusive, innermost = collections.Counter(), collections.Counter()
        for stack, n in stacks[step].items():
            for name in set(stack):
                inclusive[name] += n
            innermost[stack[-1]] += n
        total = sum(stacks[step].values()) * INTERVAL_S
        lines += [f"== step {step}: {total:.2f} s sampled", "-- inclusive", *_top(inclusive, 45),
                  "-- innermost", *_top(innermost, 20), ""]
    return "\n".join(lines)


def collapsed(stacks: dict[int, collections.Counter]) -> str:
    merged = collections.Counter()
    for counter in stacks.values():
        merged.update(counter)
    return "\n".join(f"{';'.join(stack)} {n}" for stack, n in merged.most_common())


def profiled_trainer(trainer_class, first: int, last: int, out: Path):
    """`trainer_class` with phase timers, the stack sampler and torch.profiler on steps first..last."""
    from transformers import TrainerCallback

    phases: dict[int, collections.Counter] = collections.defaultdict(collections.Counter)
    sampler = StackSampler(threading.get_ident())
    state = {"step": None, "started": 0.0, "optimizer": 0.0, "torch": None}

    def timed(name, function):
        def wrapper(*args, **kwargs):
            if state["step"] is None:
                return function(*args, **kwargs)
            _sync()
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                _sync()
                phases[state["step"]][name] += time.perf_counter() - started
        return wrapper

    def start_torch_profiler():
        import torch

        try:
            profiler = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU,
                                                          torch.profiler.ProfilerActivity.CUDA])
            profiler.__enter__()
            state["torch"] = profiler
        except Exception as error:  # CUPTI may be unavailable on the machine; the other views still stand
            print(f"step profile: torch.profiler did not start: {error!r}", flush=True)

    def stop_torch_profiler():
        profiler, state["torch"] = state["torch"], None
        if profiler is None:
            return
        profiler.__exit__(None, None, None)
        averages = profiler.key_averages()
        tables = [averages.table(sort_by=key, row_limit=40) for key in
                  ("self_cuda_time_total", "self_cpu_time_total", "cpu_time_total")]
        (out / "profile-kernels.txt").write_text("\n\n".join(tables))
        trace = out / "profile-trace.json"
        profiler.export_chrome_trace(str(trace))
        with trace.open("rb") as raw, gzip.open(str(trace) + ".gz", "wb") as packed:
            shutil.copyfileobj(raw, packed)
        trace.unlink()

    class StepProfile(TrainerCallback):  # the GPU is synchronised at each boundary: phases include their GPU work
        def on_step_begin(self, args, train_state, control, **kwargs):
            step = train_state.global_step + 1
            if first <= step <= last:
                _sync()
                state.update(step=step, started=time.perf_counter())
                sampler.step = step

        def on_pre_optimizer_step(self, args, train_state, control, **kwargs):
            if state["step"] is not None:
                _sync()
                state["optimizer"] = time.perf_counter()

        def on_optimizer_step(self, args, train_state, control, **kwargs):
            if state["step"] is not None:
                _sync()
                phases[state["step"]]["optimizer"] += time.perf_counter() - state["optimizer"]

        def on_step_end(self, args, train_state, control, **kwargs):
            step = state["step"]
            if step is None:
                return
            _sync()
            phases[step]["step"] = time.perf_counter() - state["started"]
            sampler.step = state["step"] = None
            write_reports()  # after every step: a run stopped by the benchmark's time limit keeps what it saw
            if step == last:
                try:
                    stop_torch_profiler()
                except Exception as error:
                    print(f"step profile: torch.profiler's export failed: {error!r}", flush=True)

    def write_reports():
        lines = ["step  total  generation  loss-forward  backward+rest  optimizer  outside-training_step"]
        for step in sorted(phases):
            p = phases[step]
            backward = p["training_step"] - p["generation"] - p["loss_forward"]
            outside = p["step"] - p["training_step"] - p["optimizer"]
            lines.append(f"{step:4d} {p['step']:6.2f} {p['generation']:11.2f} {p['loss_forward']:13.2f} "
                         f"{backward:14.2f} {p['optimizer']:10.2f} {outside:22.2f}")
        (out / "profile-phases.txt").write_text("\n".join(lines) + "\n")
        (out / "profile-stacks.txt").write_text(stack_report(sampler.stacks))
        (out / "profile-collapsed.txt").write_text(collapsed(sampler.stacks))

    class ProfiledTrainer(trainer_class):
        def __init__(self, *args, callbacks=None, **kwargs):
            super().__init__(*args, callbacks=[*(callbacks or []), StepProfile()], **kwargs)
            self._generate_and_score_completions = timed("generation", self._generate_and_score_completions)
            self.compute_loss = timed("loss_forward", self.compute_loss)
            self.training_step = timed("training_step", self.training_step)
            original = self._generate_and_score_completions

            def then_profile(*args, **kwargs):  # the last profiled step: kernels of its training side only
                result = original(*args, **kwargs)
                if state["step"] == last:
                    start_torch_profiler()
                return result
            self._generate_and_score_completions = then_profile
            sampler.start()

    return ProfiledTrainer
