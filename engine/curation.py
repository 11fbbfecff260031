"""`engine curate`: keep the questions this model can learn from, before the run.

GRPO learns only from a group whose answers score differently: a question the model always gets wrong (or always
right) gives every answer the same score, and so no gradient. DAPO's dynamic sampling drops such groups inside
training; curation does the same before training, where the user can see it: it samples K completions for every
training question exactly as the rollouts will (the probe's samplers: vLLM where training uses it, else HF
generate), scores them with the run's own rewards, and keeps the questions whose pass rate lies strictly inside the
band (by default 0 < pass rate < 1).

A pass is a right answer (every correctness reward at its maximum); for a config without a correctness reward, an
answer in the format (every format reward at its maximum). Only the training rows are sampled: the held-out split
is never looked at, so an evaluation on it stays honest.

It writes the kept rows, with every column of the user's file as it was, as a new JSONL file, and beside it
curation.json: each question's pass rate, the counts, a histogram and how it was sampled.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

from engine import backends, model_names, settings
from engine.arithmetic_task import write_jsonl
from engine.config import RunConfig
from engine.data import prepare_data
from engine.probe import passed, sample_hf, sample_vllm, score_groups
from engine.problems import ConfigError, Problem
from engine.rewards import Row

DEFAULT_BAND = (0.0, 1.0)
MAX_SAMPLES = 64
REPORT_NAME = "curation.json"
VLLM_CHUNK = 256


def parse_band(text: str) -> tuple[float, float]:
    """'LOW,HIGH' -> (low, high) with 0 <= low < high <= 1; ValueError with a sentence otherwise."""
    parts = text.split(",")
    try:
        low, high = (float(p) for p in parts)
    except ValueError:
        raise ValueError(f"give the band as two numbers LOW,HIGH between 0 and 1, such as 0,1 (not '{text}')") from None
    if not 0.0 <= low < high <= 1.0:
        raise ValueError(f"the band needs 0 <= LOW < HIGH <= 1 (got {low:g},{high:g})")
    return low, high


def default_output(config: RunConfig) -> Path:
    """uploads/curated/<source>-<time>/<source>-learnable.jsonl: in the uploads folder, so the web page may use it,
    in a folder of its own, so its curation.json sits beside it."""
    source = Path(config.data.path.replace(":", "_")).stem or "data"
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return settings.uploads_dir() / "curated" / f"{source}-{stamp}" / f"{source}-learnable.jsonl"


def _check_output(out: Path) -> None:
    if out.suffix.lower() != ".jsonl":
        raise ConfigError([Problem("--out", f"{out.name} must end in .jsonl (the curated rows are JSON Lines)")])
    if out.is_dir():
        raise ConfigError([Problem("--out", f"{out} is a folder; give a file name such as {out / 'learnable.jsonl'}")])


def curate(config: RunConfig, samples: int | None = None, band: tuple[float, float] = DEFAULT_BAND,
           out: Path | None = None, limit: int | None = None, progress=None) -> dict:
    """Sample, score and keep the learnable questions; returns the report that curation.json holds.
    `progress(done, total)` is told as questions are sampled. Raises ConfigError for what the user must fix."""
    samples = samples or config.train.num_generations
    if not 2 <= samples <= MAX_SAMPLES:
        raise ConfigError([Problem("--samples", f"give from 2 to {MAX_SAMPLES} completions per question "
                                                f"(got {samples}); one completion has no pass rate to speak of")])
    out = Path(out) if out else default_output(config)
    _check_output(out)
    started = time.perf_counter()
    sampling = config.model_copy(update={"train": config.train.model_copy(update={"num_generations": samples})})
    cuda = model_names.cuda_visible()
    vllm = backends.choose_rollout(config.model, cuda) in ("vllm", "vllm_server")

    def training_rows(tokenizer) -> list[dict]:
        rows = prepare_data(config, tokenizer).train
        if not rows:
            raise ConfigError([Problem("data.eval_fraction", "no rows are left for training; lower "
                                                             "data.eval_fraction or add rows")])
        return rows

    count = limit or 10**9
    # vLLM schedules a long queue best itself: a few hundred questions per call, not one training step's.
    sampled = (sample_vllm(sampling, training_rows, count, progress, per_chunk=VLLM_CHUNK) if vllm
               else sample_hf(sampling, training_rows, count, cuda, time_step=False, progress=progress))
    verdicts = passed(sampling, score_groups(sampling, sampled))
    if not verdicts:
        raise ConfigError([Problem("rewards", "no reward says what a right or well-formed answer is (no correctness "
                                              "or format reward with a known maximum); add one to curate")])
    rates = []
    for i in range(len(sampled.rows)):
        group = [v for v in verdicts[i * samples:(i + 1) * samples] if v is not None]
        rates.append(sum(group) / len(group) if group else None)
    low, high = band
    kept = [row for row, rate in zip(sampled.rows, rates) if rate is not None and low < rate < high]
    if kept:
        write_jsonl([Row.from_example(row).columns for row in kept], out)
    scored = [r for r in rates if r is not None]
    report = {
        "data": config.data.path, "model": config.model.name, "generator": sampled.generator,
        "samples_per_question": samples, "band": [low, high],
        "pass": "right answer" if any(v is not None for v in verdicts) and _has_correctness(config) else "in format",
        "sampling": {"temperature": config.train.temperature, "top_p": config.train.top_p,
                     "min_p": config.train.min_p, "max_completion_length": config.train.max_completion_length},
        "questions": len(rates), "learnable": len(kept),
        "too_easy": sum(r >= high for r in scored), "too_hard": sum(r <= low for r in scored),
        "unscored": len(rates) - len(scored),
        "histogram": {f"{k}/{samples}": n for k, n in sorted(Counter(round(r * samples) for r in scored).items())},
        "output": str(out) if kept else None,
        "seconds": round(time.perf_counter() - started, 1),
        "questions_and_pass_rates": [{"question": row["prompt"][-1]["content"], "answer": row["answer"],
                                      "pass_rate": rate} for row, rate in zip(sampled.rows, rates)],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    (out.parent / REPORT_NAME).write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    return report


def _has_correctness(config: RunConfig) -> bool:
    from engine.evaluation import reward_category

    return any(reward_category(spec) == "correctness" for spec in config.rewards)


def summary(report: dict) -> str:
    """One sentence a user reads first."""
    n, m = report["learnable"], report["questions"]
    text = (f"{n} of {m} questions are learnable for this model (too easy: {report['too_easy']}, too hard: "
            f"{report['too_hard']})")
    if report["output"]:
        return text + f"; the learnable ones are in {report['output']}"
    return text + "; none to train on: try an easier task, a lower temperature or a larger model"
