"""The same GRPO workload three ways, on one GPU: peak VRAM, seconds per step, completion tokens per second.

    python -m bench.grpo_bench --lengths 1024 --variants trl,unsloth,unsloth-vllm --steps 2

Variants (each in its own subprocess, so that every VRAM figure is that process's alone):
  trl           plain TRL: transformers + peft + TRL's GRPOTrainer with HF generate; Unsloth is never imported
                (our engine's `hf` backend, which is exactly that)
  unsloth       our engine's `unsloth` backend with HF generate (fast_inference false)
  unsloth-vllm  our engine's `unsloth` backend with vLLM rollouts (fast_inference true)
Workload: a random-init model of a real shape (bench/random_model.py; Qwen2.5-1.5B by default), LoRA r16 on all
linear layers, 8 generations of one prompt per step (batch 8), the reasoning preset's rewards on the GSM8K slice.
Every completion is forced to the full length: HF generate gets min_new_tokens = length and vLLM min_tokens = length
(TRL's generation_kwargs), so no run is shortened by an early EOS; the table shows the mean length seen.
Step 1 includes warm-up (compilation, CUDA graphs, allocator growth) and is reported apart; "s/step" is the last step.
Peak VRAM: torch = torch.cuda.max_memory_allocated in the training process; NVML = the most that NVML attributed to
the process (and its children), polled every 0.2 s; with vLLM it includes the KV-cache pool that
gpu_memory_utilization reserves up front.
--leave-free-gib N plays a smaller card: a helper process holds all of the GPU's free memory but N GiB while the
variant runs (a run that does not fit then fails with out-of-memory, as it would on that card).
Memory settings (--optim, --vllm-standby, --gpu-memory-utilization, --leave-free-gib) are recorded with each run and
shown in the table's "settings" column; a run is replaced only by one of the same variant, length and settings. The
ratios against TRL use the TRL run of the same length.
Results accumulate in a JSON file (--out), so runs of several calls make one table (--table prints it again).
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VARIANTS = ("trl", "unsloth", "unsloth-vllm")
GENERATIONS = 8
GIB = 1024.0


# ---------------------------------------------------------------------------------------------------------------
# Worker: one variant, one length, in this process.

def bench_config(args):
    """The worker's run config, from its command line."""
    from engine.config import build_config

    vllm = args.variant == "unsloth-vllm"
    return build_config({
        "preset": "reasoning",
        "model": {"name": args.model, "backend": "hf" if args.variant == "trl" else "unsloth", "fast_inference": vllm,
                  "lora_rank": 16, "max_seq_length": args.length + 512,
                  "gpu_memory_utilization": args.gpu_memory_utilization, "vllm_standby": vllm and args.vllm_standby},
        "data": {"path": str(REPO / "tests" / "data" / "gsm8k_slice.jsonl")},
        "train": {"max_steps": args.steps, "num_generations": GENERATIONS, "batch_size": GENERATIONS,
                  "max_completion_length": args.length, "save_steps": 1_000_000, "samples_per_step": 1,
                  "optim": args.optim},
    })


def run_settings(args, variant: str) -> dict:
    """The memory settings that apply to this variant (vLLM's only to the vLLM variant)."""
    settings = {"optim": args.optim}
    if variant == "unsloth-vllm":
        settings.update(gpu_memory_utilization=args.gpu_memory_utilization, vllm_standby=args.vllm_standby)
    if args.leave_free_gib:
        settings["leave_free_gib"] = args.leave_free_gib
    return settings


def settings_label(settings: dict) -> str:
    parts = [settings["optim"]]
    if "gpu_memory_utilization" in settings:
        # In standby Unsloth sizes vLLM's share itself (0.88 of an 80 GiB card) and ignores the one asked for.
        parts.append("standby, vLLM share set by Unsloth" if settings["vllm_standby"]
                     else f"vLLM share {settings['gpu_memory_utilization']}")
    if settings.get("leave_free_gib"):
        parts.append(f"only {settings['leave_free_gib']} GiB free")
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


def worker(args) -> int:
    from engine import model_loading, training
    from engine.run_folder import RunFolder

    training.use_triton_interpreter_without_gpu()  # CPU only (a dry run of this script); a no-op on a GPU
    config = bench_config(args)
    if args.variant != "trl":
        model_loading.import_unsloth_first(config.model)  # before transformers, as `engine train` does
    forced = {"min_tokens": args.length} if args.variant == "unsloth-vllm" else {"min_new_tokens": args.length}
    run = RunFolder(Path(args.run_dir))
    run.path.mkdir(parents=True, exist_ok=True)
    state = training.train(config, run, grpo_overrides={"generation_kwargs": forced})
    return 0 if state == "completed" else 1


# ---------------------------------------------------------------------------------------------------------------
# Parent: model, subprocesses, VRAM polling, table.

class PeakPoller(threading.Thread):
    """NVML's reading of a process (and its children) every `interval` seconds; keeps the peaks."""

    def __init__(self, pid: int, interval: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.process_peak = self.device_peak = 0
        self.done = threading.Event()

    def run(self):
        from engine import gpu

        while not self.done.is_set():
            reading = gpu.vram_reading(self.pid)
            self.process_peak = max(self.process_peak, reading["vram_process_mib"] or 0)
            self.device_peak = max(self.device_peak, reading["vram_used_mib"] or 0)
            self.done.wait(self.interval)


def ensure_model(shape: str, root: Path) -> Path:
    folder = root / f"qwen2-{shape}-random"
    if not (folder / "random_model.json").is_file():
        # In a subprocess: the parent never touches CUDA, so it holds no GPU memory while it measures.
        subprocess.run([sys.executable, "-m", "bench.random_model", shape, str(folder)], cwd=REPO, check=True)
    return folder


def run_variant(args, variant: str, length: int, model: Path) -> dict:
    run_dir = Path(args.work_dir) / f"{variant}-{length}"
    subprocess.run(["rm", "-rf", str(run_dir)], check=True)
    command = [sys.executable, "-m", "bench.grpo_bench", "--worker", "--variant", variant, "--length", str(length),
               "--steps", str(args.steps), "--model", str(model), "--run-dir", str(run_dir),
               "--gpu-memory-utilization", str(args.gpu_memory_utilization), "--optim", args.optim]
    command += ["--vllm-standby"] if args.vllm_standby else []
    holder = hold_all_but(args.leave_free_gib) if args.leave_free_gib else None
    started = time.time()
    log = (Path(args.work_dir) / f"{variant}-{length}.out").open("w")
    process = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
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
    wall = time.time() - started
    from engine.run_folder import RunFolder

    run = RunFolder(run_dir)
    events = run.read_events() if run.events_path.exists() else []
    status = run.read_status()
    result = {"variant": variant, "length": length, "settings": run_settings(args, variant), "steps_asked": args.steps,
              "exit": code, "wall_s": round(wall, 1), "state": status.state, "error": status.error,
              "steps": len(events),
              "nvml_process_peak_mib": poller.process_peak, "nvml_device_peak_mib": poller.device_peak}
    if events:
        first, last = events[0], events[-1]
        result.update({
            "first_step_s": round(first["step_time"], 1), "step_s": round(last["step_time"], 1),
            "startup_s": round(first["time"] - first["step_time"] - started, 1),
            "completion_length": last.get("completion_length"),
            "completion_tokens_per_s": round(GENERATIONS * (last.get("completion_length") or 0) / last["step_time"], 1),
            "torch_peak_mib": max(e["torch_peak_allocated_mib"] or 0 for e in events),
        })
    return result


def load_results(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {"runs": []}


def speed_vs(trl: dict, r: dict) -> str:
    """TRL's step time over this run's: steady steps where both have one, else both first steps (warm-up)."""
    if trl is r:
        return "1.00x" if r["steps"] > 1 else "1.00x (step 1)"
    if trl["steps"] > 1 and r["steps"] > 1:
        return f"{trl['step_s'] / r['step_s']:.2f}x faster"
    return f"{trl['first_step_s'] / r['first_step_s']:.2f}x faster (step 1)"


def table(results: dict) -> str:
    rows = ["| length | variant | settings | peak VRAM torch (GiB) | peak VRAM NVML (GiB) | step 1 (s) | s/step | "
            "completion tok/s | mean completion length | vs TRL: VRAM (torch) | vs TRL: speed |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    runs = sorted(results["runs"],
                  key=lambda r: (r["length"], VARIANTS.index(r["variant"]), settings_label(r["settings"])))
    for r in runs:
        head = f"| {r['length']} | {r['variant']} | {settings_label(r['settings'])} |"
        if "step_s" not in r:
            rows.append(f"{head} did not finish: {r.get('state')} {r.get('error') or ''} (exit {r['exit']}) "
                        "| | | | | | | |")
            continue
        trl = next((t for t in runs if t["length"] == r["length"] and t["variant"] == "trl" and "step_s" in t
                    and t["settings"]["optim"] == "adamw_torch"), None)
        vram_ratio = f"{r['torch_peak_mib'] / trl['torch_peak_mib']:.2f}x" if trl and trl["torch_peak_mib"] else "n/a"
        speed_ratio = speed_vs(trl, r) if trl else "n/a"
        steady = r["step_s"] if r["steps"] > 1 else f"({r['step_s']}, 1 step only)"
        rows.append(f"{head} {r['torch_peak_mib'] / GIB:.2f} | "
                    f"{r['nvml_process_peak_mib'] / GIB:.2f} | {r['first_step_s']} | {steady} | "
                    f"{r['completion_tokens_per_s']} | {r['completion_length']} | {vram_ratio} | {speed_ratio} |")
    return "\n".join(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="GRPO: plain TRL vs our Unsloth backend, without and with vLLM.")
    parser.add_argument("--lengths", default="1024", help="completion lengths, comma-separated (e.g. 1024,4096)")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"some of {', '.join(VARIANTS)}")
    parser.add_argument("--steps", type=int, default=2, help="GRPO steps per variant (step 1 is warm-up)")
    parser.add_argument("--shape", default="1.5b", help="random model shape (bench/random_model.py)")
    parser.add_argument("--gpu-memory-utilization", type=float, default=0.3, help="vLLM's share of the GPU")
    parser.add_argument("--vllm-standby", action="store_true", help="Unsloth's standby: vLLM frees its KV cache "
                        "while training (UNSLOTH_VLLM_STANDBY=1)")
    parser.add_argument("--leave-free-gib", type=float, default=0,
                        help="play a smaller card: hold the GPU's memory but this many GiB while each variant runs")
    parser.add_argument("--optim", default="adamw_torch", help="optimizer (adamw_torch, TRL's default, or adamw_8bit)")
    parser.add_argument("--work-dir", default="/tmp/grpo-bench", help="run folders and worker logs")
    parser.add_argument("--out", default=str(REPO / "bench" / "results.json"), help="results JSON (accumulates)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per variant before it is stopped")
    parser.add_argument("--table", action="store_true", help="only print the table of --out")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument("--length", type=int, help=argparse.SUPPRESS)
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

    from engine import gpu, settings

    info = gpu.gpu_info()
    results["gpu"] = info.describe() if info else "no NVIDIA GPU"
    results["date"] = datetime.date.today().isoformat()
    Path(args.work_dir).mkdir(parents=True, exist_ok=True)
    model = ensure_model(args.shape, settings.cache_dir() / "random-models")
    for length in [int(x) for x in args.lengths.split(",")]:
        for variant in args.variants.split(","):
            assert variant in VARIANTS, variant
            print(f"== {variant}, {length}-token completions, {args.steps} steps", flush=True)
            result = {**run_variant(args, variant, length, model), "shape": args.shape,
                      "date": datetime.datetime.now().isoformat(timespec="seconds")}
            print(json.dumps(result), flush=True)
            same = (variant, length, result["settings"])
            results["runs"] = [r for r in results["runs"] if (r["variant"], r["length"], r["settings"]) != same]
            results["runs"].append(result)
            out.write_text(json.dumps(results, indent=2))
    print(f"\n{results['gpu']}, {results['date']}\n{table(results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
