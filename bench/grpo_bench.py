"""The same GRPO workload four ways, on one GPU: start-up, step time, tokens/s, peak VRAM, where a step's time goes,
and how close decoding comes to the memory-bandwidth ceiling.

    python -m bench.grpo_bench --variants trl-vllm,unsloth-vllm --batch 64 --lengths 1024 --steps 6

Variants (each in its own subprocess, so that every VRAM figure is that process's alone; all run our engine, so the
workload, data, rewards and logging are identical and only the backend and rollout engine differ):
  trl           backend hf, rollout hf: transformers + peft + TRL's GRPOTrainer with HF generate (Unsloth never
                imported)
  trl-vllm      backend hf, rollout vllm: TRL's own colocate mode (vLLM in the training process with its own copy of
                the weights), at TRL's default vLLM share (0.3 of the card) unless --peer-share says otherwise. The
                honest peer: what a user who picks TRL gets at its fastest on one GPU.
  hf-vllm       backend hf, rollout vllm with vLLM's memory sized to the run: TRL's colocate path as our engine runs it
  trl-server    backend hf, rollout vllm_server: TRL's server mode as `engine train` runs it (its own `trl vllm-serve`
                on the last GPU, sized to the run, the trainer on the others; on one GPU both share it). Run it with
                --variants trl-server on 1, 2 or 4 GPUs (CUDA_VISIBLE_DEVICES) and compare with the colocate rows.
  unsloth       backend unsloth, rollout hf
  unsloth-vllm  backend unsloth, rollout vllm: ours (Unsloth's fast_inference, vLLM shares the training weights),
                vLLM's memory sized to the run unless --gpu-memory-utilization says otherwise
Workload: a random-init model of a real shape (bench/random_model.py; Qwen2.5-1.5B by default), LoRA r16 on all
linear layers, --batch completions per step = batch/8 prompts x 8 generations, the reasoning preset's rewards on the
GSM8K slice. Every completion is forced to the full length (HF generate: min_new_tokens, vLLM: min_tokens), so no run
is shortened by an early EOS; the table shows the mean length seen.

Columns:
  settings      optimizer, vLLM's share, experiments; "compile cache warm" when the engine's compile cache held kernels
                at the start, and "(N kernels compiled)" how many the run added: a cache warm only with another
                shape's kernels shows as such
  start-up      process start to the first step's start (imports, model load, vLLM engine and CUDA graphs)
  step 1        the first step, with its warm-up (compilation, allocator growth)
  s/step        the median of steps 2..N (steady state; N = --steps, at least 6 for a median of 5)
  gen / train   median seconds per step in generation (rollouts + reward scoring; engine metric timing/generation_s)
                and the rest of the step (log-probs, loss, backward, optimizer)
  tok/s         completion tokens per second of the steady step: batch x mean completion length / s/step
  decode %      decoded tokens/s during generation against the HBM ceiling. A decode step must read every weight and
                the whole KV cache once: bytes = weight bytes + batch x mean context x KV bytes per token (2 x layers x
                kv_dim x 2 bytes, mean context = prompt + length/2), so the ceiling is batch x bandwidth / bytes. The
                measured rate is batch x length / gen seconds (prefill and scoring included, so it is a lower bound).
  torch / NVML  peak torch.cuda.max_memory_allocated in the training process / the most NVML attributed to the
                process and its children (polled every 0.2 s); with vLLM both include its pool
  (JSON only)   generation_clocks: per step, the median SM clock and power during generation and any slowdown NVML
                reported (power cap, thermal): whether a slower step ran on a slower card
Results accumulate in a JSON file (--out), one entry per (GPU, shape, batch, length, variant, settings), so runs of
several calls make one table (--table prints it again). The "vs best peer" column divides ours by the best peer's
tokens/s (trl-vllm where it ran, else trl) of the same GPU, shape, batch and length, measured closest in time.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VARIANTS = {"trl": ("hf", "hf"), "trl-vllm": ("hf", "vllm"), "hf-vllm": ("hf", "vllm"),
            "trl-server": ("hf", "vllm_server"), "unsloth": ("unsloth", "hf"), "unsloth-vllm": ("unsloth", "vllm")}
PEERS = ("trl-vllm", "trl")  # the best peer first
GENERATIONS = 8
GIB = 1024.0
# HBM bandwidth by GPU name (vendor datasheets); --hbm-tbps overrides.
HBM_TBPS = {"H200": 4.8, "H100": 3.35, "A100": 2.0, "L40S": 0.864, "RTX 4090": 1.008}
TRL_DEFAULT_SHARE = 0.3  # GRPOConfig.vllm_gpu_memory_utilization's default in TRL 1.15


# ---------------------------------------------------------------------------------------------------------------
# Worker: one variant, one length, in this process.

def bench_config(args):
    """The worker's run config, from its command line."""
    from engine.config import build_config

    backend, rollout = VARIANTS[args.variant]
    return build_config({
        "preset": "reasoning",
        "model": {"name": args.model, "backend": backend, "rollout": rollout, "lora_rank": 16,
                  "max_seq_length": args.length + 512, "gpu_memory_utilization": args.share,
                  "vllm_standby": rollout == "vllm" and backend == "unsloth" and args.vllm_standby},
        "data": {"path": str(REPO / "tests" / "data" / "gsm8k_slice.jsonl")},
        "train": {"max_steps": args.steps, "num_generations": GENERATIONS, "batch_size": args.batch,
                  "max_completion_length": args.length, "save_steps": 1_000_000, "samples_per_step": 1,
                  "optim": args.optim, "eval_limit": 0},  # no held-out checks: they are not part of a step
    })


def worker(args) -> int:
    from engine import training
    from engine.runs.folder import RunFolder

    training.use_triton_interpreter_without_gpu()  # CPU only (a dry run of this script); a no-op on a GPU
    config = bench_config(args)
    backend, rollout = VARIANTS[args.variant]
    training.prepare_process(config, backend)  # Unsloth before transformers, as `engine train` does
    forced = {"min_tokens": args.length} if rollout in ("vllm", "vllm_server") else {"min_new_tokens": args.length}
    run = RunFolder(Path(args.run_dir))
    run.path.mkdir(parents=True, exist_ok=True)
    overrides = {"generation_kwargs": forced, **grpo_settings(args.grpo)}
    if args.reverify_packing:  # Unsloth's own behaviour: re-verify packing whenever a batch is longer than before
        from engine.backends import unsloth_packing

        unsloth_packing.widen_verified_packing = lambda model, max_rows, max_seq_length: []
    if args.profile_steps:
        from bench.step_profile import profiled_trainer

        first, last = (int(n) for n in args.profile_steps.split("-"))
        timing = training.with_generation_timing
        training.with_generation_timing = lambda cls: profiled_trainer(timing(cls), first, last, run.path)
    if rollout == "vllm_server":  # as `engine train` runs it: the server and the trainer as child processes
        from engine import backends, gpu, launcher, settings
        from engine.model_shape import shape_for_training
        from engine.runs.lock import RunLock

        RunLock(settings.runs_dir()).acquire(run.id)  # the trainer it launches runs only under the lock's holder
        stop = training.begin(config, run)
        plan = backends.plan_for_machine(config, True, shape_for_training(args.model), gpu.visible_gpus(),
                                         gpu.free_gib())
        print(f"GPUs: {plan.split.describe()}; {plan.describe_vllm()}", flush=True)
        state = launcher.train_launched(config, run, plan, args.model, False, stop, grpo_overrides=overrides)
    else:
        state = training.train(config, run, grpo_overrides=overrides)
    print_stall_suspects()
    return 0 if state == "completed" else 1


def print_stall_suspects() -> None:
    """What could make some steps slower than others, for the worker's log: recompilations (torch.compile on a new
    shape), allocator retries (cudaFree + cudaMalloc storms when memory is tight) and the allocator's growth."""
    import torch

    if not torch.cuda.is_available():
        return
    from torch._dynamo.utils import counters

    memory = torch.cuda.memory_stats()
    suspects = {"num_alloc_retries": memory.get("num_alloc_retries"), "num_ooms": memory.get("num_ooms"),
                "reserved_peak_gib": round(memory.get("reserved_bytes.all.peak", 0) / 2**30, 2),
                "dynamo": {group: dict(values) for group, values in counters.items()
                           if group in ("stats", "recompiles", "graph_break", "frames")}}
    print("stall suspects: " + json.dumps(suspects, default=str), flush=True)


# ---------------------------------------------------------------------------------------------------------------
# Parent: model, subprocesses, VRAM polling, table.

def grpo_settings(pairs: list[str]) -> dict:
    """--grpo key=value pairs (values as YAML) for experiments with GRPOConfig, e.g. pad_to_multiple_of=64."""
    import yaml

    return {key: yaml.safe_load(value) for key, value in (pair.split("=", 1) for pair in pairs)}


def run_settings(args, variant: str) -> dict:
    """The settings that apply to this variant (vLLM's only to vLLM variants), recorded with its result."""
    settings = {"optim": args.optim}
    if args.grpo:
        settings["grpo"] = grpo_settings(args.grpo)
    backend, rollout = VARIANTS[variant]
    if rollout == "vllm_server":
        from engine import gpu

        settings["gpus"] = len(gpu.visible_gpus())  # 1: server and trainer share it; N: 1 server + N - 1 training
    if rollout in ("vllm", "vllm_server"):
        settings["vllm_share"] = args.peer_share if variant == "trl-vllm" else args.gpu_memory_utilization
        if backend == "unsloth" and args.vllm_standby:
            settings["vllm_standby"] = True
    if args.leave_free_gib:
        settings["leave_free_gib"] = args.leave_free_gib
    if backend == "unsloth" and args.reverify_packing:
        settings["reverify_packing"] = True
    return settings


def settings_label(settings: dict) -> str:
    parts = [settings["optim"]]
    if settings.get("gradient_checkpointing"):  # an experiment of 2026-11-29 (bench/RESULTS.md)
        parts.append(f"checkpointing {settings['gradient_checkpointing']}")
    if settings.get("vllm_standby"):
        parts.append("standby, vLLM share set by Unsloth")
    elif "vllm_share" in settings:
        share = settings["vllm_share"]
        parts.append("vLLM sized to the run" if share is None else f"vLLM share {share}")
    if settings.get("reverify_packing"):
        parts.append("packing re-verified as batches grow (Unsloth's default)")
    if settings.get("compile_cache"):
        parts.append(f"compile cache {settings['compile_cache']}")
    if settings.get("leave_free_gib"):
        parts.append(f"only {settings['leave_free_gib']} GiB free")
    if settings.get("gpus") == 1:
        parts.append("server and trainer share 1 GPU")
    elif settings.get("gpus"):
        parts.append(f"server on 1 GPU, trainer on {settings['gpus'] - 1} (DDP)")
    parts += [f"{key}={value}" for key, value in settings.get("grpo", {}).items()]
    return ", ".join(parts)


def hold_all_but(gib: float) -> subprocess.Popen:
    """A helper process that takes all free GPU memory but `gib` GiB and keeps it until it is killed."""
    script = ("import time, torch; torch.cuda.init(); free, _ = torch.cuda.mem_get_info(); "
              f"held = torch.empty(free - int({gib} * 2**30), dtype=torch.uint8, device='cuda'); "
              "print(round(held.numel() / 2**30, 2), flush=True); time.sleep(10**6)")
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    held_gib = holder.stdout.readline().strip()
    if not held_gib:
        raise RuntimeError(f"could not leave only {gib} GiB free (helper exited {holder.wait()})")
    print(f"   (holding {held_gib} GiB so that {gib} GiB stay free)", flush=True)
    return holder


class PeakPoller(threading.Thread):
    """NVML's reading of a process (and its children) every `interval` seconds; keeps the peaks."""

    def __init__(self, pid: int, interval: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.process_peak = self.device_peak = 0
        self.gpu_peaks: dict[int, int] = {}  # every visible GPU: the most the process tree held there
        self.clocks: list[dict] = []  # the first GPU's clocks, power and slowdowns, once a second, timestamped
        self.done = threading.Event()

    def run(self):
        from engine import gpu

        indices = [g.index for g in gpu.visible_gpus()]
        next_clock = 0.0
        while not self.done.is_set():
            if time.time() >= next_clock:
                clock = gpu.clock_reading()
                if clock:
                    self.clocks.append({"time": round(time.time(), 2), **clock})
                next_clock = time.time() + 1.0
            reading = gpu.vram_reading(self.pid)
            self.process_peak = max(self.process_peak, reading["vram_process_mib"] or 0)
            self.device_peak = max(self.device_peak, reading["vram_used_mib"] or 0)
            for each in gpu.vram_readings(indices, self.pid):
                self.gpu_peaks[each["index"]] = max(self.gpu_peaks.get(each["index"], 0),
                                                    each["vram_process_mib"] or 0)
            self.done.wait(self.interval)


def ensure_model(shape: str, root: Path) -> Path:
    folder = root / f"qwen2-{shape}-random"
    if not (folder / "random_model.json").is_file():
        # In a subprocess: the parent never touches CUDA, so it holds no GPU memory while it measures.
        subprocess.run([sys.executable, "-m", "bench.random_model", shape, str(folder)], cwd=REPO, check=True)
    return folder


def mean_prompt_tokens(model: Path) -> float:
    """The mean prompt length of the workload in the model's tokenizer (the decode ceiling's context)."""
    from engine.config import build_config
    from engine.data import prepare_data, prompt_token_count, start_answers_with_prefix
    from engine.model_names import load_tokenizer

    config = build_config({"preset": "reasoning", "model": {"name": str(model)},
                           "data": {"path": str(REPO / "tests" / "data" / "gsm8k_slice.jsonl")}})
    tokenizer = load_tokenizer(str(model))
    start_answers_with_prefix(tokenizer, config.prompt)
    prompts = [row["prompt"] for row in prepare_data(config, tokenizer).train]
    return statistics.mean(prompt_token_count(tokenizer, p) for p in prompts)


def clocks_in_generation(clocks: list[dict], events: list[dict]) -> list[dict]:
    """Per step, the median SM clock and power while it generated, and any slowdown NVML reported then: whether a
    slower generation ran on a slower card. TRL generates at the start of a step (its _prepare_inputs), so a step's
    generation is [end - step_time, end - step_time + generation_s]."""
    per_step = []
    for event in events:
        if "timing/generation_s" not in event:
            continue
        start = event["time"] - event["step_time"]
        inside = [c for c in clocks if start <= c["time"] <= start + event["timing/generation_s"]]
        if inside:
            per_step.append({"step": event.get("step"), "generation_s": round(event["timing/generation_s"], 2),
                             "sm_mhz": statistics.median(c["sm_mhz"] for c in inside),
                             "power_w": statistics.median(c["power_w"] for c in inside),
                             "slowdowns": sorted({name for c in inside for name in c["slowdowns"]})})
    return per_step


def decode_ceiling_share(model: Path, batch: int, length: int, generation_s: float, prompt_tokens: float,
                         hbm_tbps: float) -> float:
    """Measured decode tokens/s over the HBM ceiling (see the module docstring)."""
    from engine.model_shape import ModelShape

    shape = ModelShape.from_config_json(model / "config.json")
    kv_bytes_per_token = 2 * shape.layers * shape.kv_dim * 2
    bytes_per_step = shape.parameters * 2 + batch * (prompt_tokens + length / 2) * kv_bytes_per_token
    ceiling = batch * hbm_tbps * 1e12 / bytes_per_step
    return batch * length / generation_s / ceiling


def compiled_kernels(folder: Path) -> int:
    """Compiled kernels (shared objects: Triton's and Inductor's) in the engine's compile cache."""
    return sum(1 for _ in folder.rglob("*.so")) if folder.is_dir() else 0


def run_variant(args, variant: str, length: int, model: Path, prompt_tokens: float, hbm_tbps: float | None) -> dict:
    run_dir = Path(args.work_dir) / f"{variant}-{args.batch}-{length}"
    subprocess.run(["rm", "-rf", str(run_dir)], check=True)
    settings = run_settings(args, variant)
    from engine import settings as engine_settings

    # Compiled kernels kept from an earlier run (the engine's cache folder) shorten start-up and step 1.
    compiled = engine_settings.cache_dir() / "compile"
    kernels_before = compiled_kernels(compiled)
    settings["compile_cache"] = "warm" if kernels_before else "cold"
    command = [sys.executable, "-m", "bench.grpo_bench", "--worker", "--variant", variant, "--length", str(length),
               "--steps", str(args.steps), "--batch", str(args.batch), "--model", str(model),
               "--run-dir", str(run_dir), "--optim", args.optim]
    if settings.get("vllm_share") is not None:
        command += ["--share", str(settings["vllm_share"])]
    command += ["--vllm-standby"] if settings.get("vllm_standby") else []
    command += [arg for pair in args.grpo for arg in ("--grpo", pair)]
    command += ["--profile-steps", args.profile_steps] if args.profile_steps else []
    command += ["--reverify-packing"] if args.reverify_packing else []
    holder = hold_all_but(args.leave_free_gib) if args.leave_free_gib else None
    started = time.time()
    log = (Path(args.work_dir) / f"{variant}-{args.batch}-{length}.out").open("w")
    # Recompilations are logged with the step they happen in (the progress line follows each step).
    env = {**os.environ, **({"TORCH_LOGS": "recompiles", "UNSLOTH_ENABLE_LOGGING": "1"} if args.profile else {})}
    process = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env)
    poller = PeakPoller(process.pid)
    poller.start()
    try:
        code = process.wait(timeout=args.timeout)
    except subprocess.TimeoutExpired:
        process.terminate()
        code = process.wait()
    poller.done.set()
    poller.join()
    if holder:
        holder.kill()
        holder.wait()
    from engine.runs.folder import RunFolder

    run = RunFolder(run_dir)
    events = run.read_events() if run.events_path.exists() else []
    if run_dir.is_dir():  # the raw samples, for the worker logs (bench/speed_device.sh)
        (run_dir / "clocks.jsonl").write_text("".join(json.dumps(c) + "\n" for c in poller.clocks))
    status = run.read_status()
    result = {"variant": variant, "length": length, "batch": args.batch, "settings": settings,
              "steps_asked": args.steps, "exit": code, "wall_s": round(time.time() - started, 1),
              "state": status.state, "error": status.error, "steps": len(events),
              "nvml_process_peak_mib": poller.process_peak, "nvml_device_peak_mib": poller.device_peak,
              "nvml_gpu_peaks_mib": poller.gpu_peaks,
              "step_times": [round(e["step_time"], 2) for e in events if "step_time" in e],
              "generation_times": [round(e["timing/generation_s"], 2) for e in events if "timing/generation_s" in e],
              "generation_clocks": clocks_in_generation(poller.clocks, events),
              # "warm" says only that the cache held kernels; how many this run had to compile says whether they fit
              "compiled_kernels": {"before": kernels_before, "added": compiled_kernels(compiled) - kernels_before}}
    if events:
        first, steady = events[0], events[1:] or events[:1]
        step_s = statistics.median(e["step_time"] for e in steady)
        generation_s = statistics.median(e.get("timing/generation_s") or 0 for e in steady) or None
        length_seen = statistics.mean(e.get("completion_length") or 0 for e in steady)
        result.update({
            "startup_s": round(first["time"] - first["step_time"] - started, 1),
            "first_step_s": round(first["step_time"], 1), "step_s": round(step_s, 2),
            "generation_s": round(generation_s, 2) if generation_s else None,
            "training_s": round(step_s - generation_s, 2) if generation_s else None,
            "completion_length": round(length_seen, 1),
            "completion_tokens_per_s": round(args.batch * length_seen / step_s, 1),
            "torch_peak_mib": max(e["torch_peak_allocated_mib"] or 0 for e in events),
            "prompt_tokens": round(prompt_tokens, 1),
        })
        if generation_s and hbm_tbps:
            result["decode_ceiling_share"] = round(decode_ceiling_share(
                model, args.batch, length_seen, generation_s, prompt_tokens, hbm_tbps), 3)
    return result


def load_results(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {"runs": []}


def _group(r: dict) -> tuple:
    return (r.get("gpu", ""), r.get("shape", "1.5b"), r.get("batch", GENERATIONS), r["length"])


def best_peer(runs: list[dict], r: dict) -> dict | None:
    """The best peer of the same GPU, shape, batch and length, measured closest in time to `r`: the bench runs the
    peer in the same call, on the same card, so that is the one to divide by (another lease's card can differ)."""
    same = [p for p in runs if _group(p) == _group(r) and "step_s" in p and not p["settings"].get("leave_free_gib")]
    for name in PEERS:
        peers = [p for p in same if p["variant"] == name]
        if peers:
            return min(peers, key=lambda p: abs(_when(p) - _when(r)))
    return None


def _when(r: dict) -> float:
    return datetime.datetime.fromisoformat(r["date"]).timestamp() if r.get("date") else 0.0


def table(results: dict) -> str:
    rows = ["| GPU | shape | batch | length | variant | settings | start-up (s) | step 1 (s) | s/step | gen / train "
            "(s) | tok/s | decode % of ceiling | torch peak (GiB) | NVML peak (GiB) | vs best peer |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    order = list(VARIANTS)
    runs = sorted(results["runs"], key=lambda r: (*_group(r), order.index(r["variant"]), settings_label(r["settings"])))
    for r in runs:
        gpu, shape, batch, length = _group(r)
        label = settings_label(r["settings"])
        if r.get("compiled_kernels"):
            label += f" ({r['compiled_kernels']['added']} kernels compiled)"
        head = f"| {gpu} | {shape} | {batch} | {length} | {r['variant']} | {label} |"
        if "step_s" not in r:
            rows.append(f"{head} did not finish: {r.get('state')} {r.get('error') or ''} (exit {r['exit']}) "
                        "| | | | | | | | |")
            continue
        steady = r["step_s"] if r["steps"] > 1 else f"({r['step_s']}, 1 step only)"
        split = (f"{r['generation_s']} / {r['training_s']}" if r.get("generation_s") else "n/a")
        ceiling = f"{r['decode_ceiling_share']:.0%}" if r.get("decode_ceiling_share") else "n/a"
        peer = best_peer(results["runs"], r)
        ratio = "n/a"
        if peer is r:
            ratio = "(peer)"
        elif peer is not None:
            ratio = (f"{r['completion_tokens_per_s'] / peer['completion_tokens_per_s']:.2f}x tok/s vs "
                     f"{peer['variant']}, {r['nvml_process_peak_mib'] / max(1, peer['nvml_process_peak_mib']):.2f}x "
                     "NVML")
        rows.append(f"{head} {r.get('startup_s', 'n/a')} | {r['first_step_s']} | {steady} | {split} | "
                    f"{r['completion_tokens_per_s']} | {ceiling} | {r['torch_peak_mib'] / GIB:.2f} | "
                    f"{r['nvml_process_peak_mib'] / GIB:.2f} | {ratio} |")
    return "\n".join(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="GRPO on one GPU: TRL (HF generate, vLLM colocate) vs ours.")
    parser.add_argument("--lengths", default="1024", help="completion lengths, comma-separated (e.g. 1024,4096)")
    parser.add_argument("--variants", default="trl-vllm,unsloth-vllm", help=f"some of {', '.join(VARIANTS)}")
    parser.add_argument("--batch", type=int, default=GENERATIONS, help="completions per step (8 per prompt)")
    parser.add_argument("--steps", type=int, default=6, help="GRPO steps per variant (step 1 is warm-up)")
    parser.add_argument("--shape", default="1.5b", help="random model shape (bench/random_model.py)")
    parser.add_argument("--gpu-memory-utilization", type=float, default=None,
                        help="vLLM's share for our variants (default: sized to the run)")
    parser.add_argument("--peer-share", type=float, default=TRL_DEFAULT_SHARE,
                        help="vLLM's share for trl-vllm (default: TRL's own default, 0.3 of the card)")
    parser.add_argument("--vllm-standby", action="store_true", help="Unsloth's standby: vLLM frees its KV cache "
                        "while training (UNSLOTH_VLLM_STANDBY=1)")
    parser.add_argument("--leave-free-gib", type=float, default=0,
                        help="play a smaller card: hold the GPU's memory but this many GiB while each variant runs")
    parser.add_argument("--optim", default="adamw_torch", help="optimizer (adamw_torch, TRL's default, or adamw_8bit)")
    parser.add_argument("--hbm-tbps", type=float, default=None, help="HBM bandwidth for the decode ceiling "
                        "(default: from the GPU's name)")
    parser.add_argument("--work-dir", default="/tmp/grpo-bench", help="run folders and worker logs")
    parser.add_argument("--out", default=str(REPO / "bench" / "results.json"), help="results JSON (accumulates)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per variant before it is stopped")
    parser.add_argument("--grpo", action="append", default=[], metavar="KEY=VALUE",
                        help="a GRPOConfig argument for an experiment (repeatable), recorded in the settings")
    parser.add_argument("--profile", action="store_true", help="log recompilations (TORCH_LOGS=recompiles) and "
                        "Unsloth's own logging (UNSLOTH_ENABLE_LOGGING=1) in the worker logs under --work-dir")
    parser.add_argument("--profile-steps", metavar="A-B", help="phase timers, sampled Python stacks and torch.profiler "
                        "on steps A..B, written to each run folder (bench/step_profile.py)")
    parser.add_argument("--reverify-packing", action="store_true", help="Unsloth's own packing checks: re-verify "
                        "sequence packing whenever a batch is longer than any before (the engine trusts the first "
                        "verification for the run's whole length range)")
    parser.add_argument("--table", action="store_true", help="only print the table of --out")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument("--length", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--share", type=float, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--run-dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)
    out = Path(args.out)
    results = load_results(out)
    if args.table:
        print(table(results))
        return 0
    unknown = [v for v in args.variants.split(",") if v not in VARIANTS]
    if unknown or args.batch % GENERATIONS:
        parser.error(f"unknown variant {unknown}" if unknown else f"--batch must be a multiple of {GENERATIONS}")

    from engine import gpu, settings

    info = gpu.gpu_info()
    gpu_name = info.name if info else "no NVIDIA GPU"
    hbm = args.hbm_tbps or next((tbps for name, tbps in HBM_TBPS.items() if name in gpu_name), None)
    Path(args.work_dir).mkdir(parents=True, exist_ok=True)
    model = ensure_model(args.shape, settings.cache_dir() / "random-models")
    prompt_tokens = mean_prompt_tokens(model)
    for length in [int(x) for x in args.lengths.split(",")]:
        for variant in args.variants.split(","):
            print(f"== {variant}, batch {args.batch}, {length}-token completions, {args.steps} steps", flush=True)
            result = {**run_variant(args, variant, length, model, prompt_tokens, hbm), "shape": args.shape,
                      "gpu": gpu_name, "date": datetime.datetime.now().isoformat(timespec="seconds")}
            print(json.dumps(result), flush=True)
            key = (*_group(result), variant, json.dumps(result["settings"], sort_keys=True))
            results["runs"] = [r for r in results["runs"]
                               if (*_group(r), r["variant"], json.dumps(r["settings"], sort_keys=True)) != key]
            results["runs"].append(result)
            out.write_text(json.dumps(results, indent=2))
    print(f"\n{gpu_name}, {datetime.date.today().isoformat()}\n{table(results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
