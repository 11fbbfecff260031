"""How long a run will take, said before it starts: the seconds of one step on this machine times the steps.

A step's time is measured, never guessed: by the learnability probe (its step_estimate: one step's generation plus
one timed training step), or by an earlier run with the same step shape in the runs folder (its pace from the first
logged step on; a run that logged one step gives that step, warm-up included). The step shape is what decides a
step's time: the model and how it is loaded, the batch, the completions per question and the longest answer. A probe
report or a run of another shape says nothing about this one, so it is not used. Without a measurement the length is
"not measured yet", and a step count far beyond what GRPO runs take is a warning on its own.

`engine check` and the app's Train tab both say it (`describe`), so the terminal and the page show the same figure.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from engine import settings
from engine.config import RunConfig, load_config
from engine.problems import ConfigError
from engine.runs.folder import list_runs

LONG_RUN_S = 24 * 3600  # longer than a day: a plain warning before Launch
MANY_STEPS = 10_000  # GRPO runs take a few hundred to a few thousand steps; beyond this, a warning even unmeasured
STEP_SHAPE = ("model.name", "model.backend", "model.rollout", "model.load_in_4bit", "model.load_in_fp8",
              "model.lora_rank", "model.max_seq_length", "model.gradient_checkpointing", "train.batch_size",
              "train.gradient_accumulation_steps", "train.num_generations", "train.max_completion_length",
              "hardware.gpus", "hardware.rollout_gpus", "hardware.strategy")


@dataclass(frozen=True)
class StepTime:
    seconds: float
    source: str  # where the figure comes from, in words: "the probe of 2026-12-07 14:02"


@dataclass(frozen=True)
class Expectation:
    text: str  # "about 2 h 30 min (1,000 steps × 9.0 s a step, measured by ...)", or why it is not known
    warning: str | None  # a run longer than a day, or a step count far beyond what GRPO runs take


def step_shape(dump: dict) -> tuple:
    """The values of STEP_SHAPE in a config's model_dump (what probe.json's "config" holds)."""
    def value(key: str):
        section, name = key.split(".")
        found = (dump.get(section) or {}).get(name) if isinstance(dump.get(section), dict) else None
        return tuple(found) if isinstance(found, list) else found
    return tuple(value(key) for key in STEP_SHAPE)


def _when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))


def from_probe_report(path: Path, shape: tuple) -> StepTime | None:
    """A probe report's step estimate, when the probe ran a config of this step shape."""
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
        seconds = float(report["step_estimate"]["seconds"])
        probed = report["config"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if seconds <= 0 or not isinstance(probed, dict) or step_shape(probed) != shape:
        return None
    return StepTime(seconds, f"the probe of {_when(path.stat().st_mtime)}")


def run_pace(events: list[dict]) -> float | None:
    """Seconds a step from a run's events: the pace from the first logged step on (the first carries the warm-up),
    else the one step it logged (TRL's step_time, warm-up included)."""
    timed = [(e["step"], e["time"]) for e in events
             if isinstance(e.get("step"), int) and isinstance(e.get("time"), (int, float))]
    if len(timed) >= 2 and timed[-1][0] > timed[0][0] and timed[-1][1] > timed[0][1]:
        return (timed[-1][1] - timed[0][1]) / (timed[-1][0] - timed[0][0])
    first = events[0].get("step_time") if events else None
    return float(first) if isinstance(first, (int, float)) and first > 0 else None


def from_runs(root: Path, shape: tuple) -> StepTime | None:
    """The newest run of this step shape that logged a step."""
    for run in list_runs(root):
        try:
            config = load_config(run.config_path)
        except ConfigError:
            continue
        if step_shape(config.model_dump(mode="json")) != shape:
            continue
        pace = run_pace(run.read_events())
        if pace is not None:
            return StepTime(pace, f"the measured steps of run {run.id}")
    return None


def measured_step(config: RunConfig, probe_reports: list[Path] = ()) -> StepTime | None:
    """The freshest measurement of this config's step: the newest matching probe report (those given, and the
    probes of the app's cache), else the newest matching run."""
    shape = step_shape(config.model_dump(mode="json"))
    folder = settings.probe_reports_dir()
    found = [*probe_reports, *folder.glob("*.probe.json"), *folder.glob("*/probe.json")] if folder.is_dir() \
        else list(probe_reports)
    reports = sorted((path for path in found if path.is_file()), key=lambda path: path.stat().st_mtime, reverse=True)
    for path in reports:
        step = from_probe_report(path, shape)
        if step is not None:
            return step
    return from_runs(settings.runs_dir(), shape)


def duration(seconds: float) -> str:
    """A length in words a person reads at a glance: '45 s', '12 min', '3 h 20 min', '11 days 14 h'."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} day{'s' if days > 1 else ''} {hours} h" if hours else f"{days} day{'s' if days > 1 else ''}"


def describe(config: RunConfig, step: StepTime | None) -> Expectation:
    steps = config.train.max_steps
    if step is None:
        text = (f"{steps:,} steps; how long a step takes on this machine is not measured yet: the probe ('Will it "
                "learn?', or `engine probe`) measures one")
        warning = (f"{steps:,} training steps is far more than GRPO runs usually take (a few hundred to a few "
                   "thousand); check the number of training steps (train.max_steps)") if steps > MANY_STEPS else None
        return Expectation(text, warning)
    total = steps * step.seconds
    text = (f"about {duration(total)} ({steps:,} steps × {step.seconds:.1f} s a step, from {step.source}), plus "
            "loading the model")
    warning = None
    if total > LONG_RUN_S:
        warning = (f"this run would take about {duration(total)}, more than a day: lower the number of training "
                   f"steps (train.max_steps) unless you mean to wait that long")
    return Expectation(text, warning)
