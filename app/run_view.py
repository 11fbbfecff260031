"""Reading a run folder into what the Train and Results views draw: plot frames, the samples table, health hints,
status and progress text, VRAM and progress bars, the runs table and the eval table. Pure functions of the files'
contents (no Gradio), unit-tested on a small run-folder fixture."""

from __future__ import annotations

import html
import math
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from engine.config import RunConfig
from engine.export import human_size
from engine.rewards import verifier_audit
from engine.run_length import duration
from engine.runs.folder import ACTIVE_STATES, RunFolder
from engine.runs.health import health_hints, learnable_line
from engine.runs.progress import clock, eta_seconds

from app import strings

SAMPLE_ROWS = 12
QUESTION_CHARS = 160
# The gold column is narrow: a long gold (a whole worked solution, as in the bundled example's samples) made one row so
# tall that the table drew its other cells empty. Its end is kept: that is where a final answer stands ("#### 70").
GOLD_CHARS = 48
TOTAL_SERIES = "total"
MIN_STEP_SPAN = 20
PLOT_MARGIN = 0.08


def _number(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def reward_names(events: list[dict]) -> list[str]:
    """The rewards logged as rewards/<name>/mean, in first-seen order."""
    names: list[str] = []
    for event in events:
        for key in event:
            if key.startswith("rewards/") and key.endswith("/mean"):
                name = key[len("rewards/"):-len("/mean")]
                if name not in names:
                    names.append(name)
    return names


def _long_frame(events: list[dict], series: dict[str, str]) -> pd.DataFrame:
    """A step/value/series frame (what gr.LinePlot draws with color='series') from event keys -> series labels."""
    rows = [{"step": int(step), "value": value, "series": label}
            for event in events if (step := _number(event.get("step"))) is not None and math.isfinite(step)
            for key, label in series.items() if (value := _number(event.get(key))) is not None
            and math.isfinite(value)]
    return pd.DataFrame(rows, columns=["step", "value", "series"])


def reward_frame(events: list[dict]) -> pd.DataFrame:
    series = {"reward": TOTAL_SERIES} | {f"rewards/{name}/mean": name for name in reward_names(events)}
    return _long_frame(events, series)


def spread_frame(events: list[dict]) -> pd.DataFrame:
    return _long_frame(events, {"reward_std": "reward_std"})


def length_frame(events: list[dict]) -> pd.DataFrame:
    return _long_frame(events, {"completion_length": "mean", "completions/max_length": "longest"})


def loss_frame(events: list[dict]) -> pd.DataFrame:
    return _long_frame(events, {"loss": "loss"})


def heldout_frame(events: list[dict], metric: str = "accuracy") -> pd.DataFrame:
    """The held-out checks during training: accuracy (pass@1 for code) and format compliance, as shares."""
    return _long_frame(events, {"eval/accuracy": f"held-out {metric}", "eval/format": "held-out format"})


def step_axis(frame: pd.DataFrame) -> list[float]:
    """The x range: from 0 to the last step, at least MIN_STEP_SPAN long. Vega puts a tick every ~40 px, so a short
    range gets ticks at fractions of a step (1.5, 2.5); a longer one gets whole steps."""
    last = float(frame["step"].max()) if len(frame) else 0.0
    return [0, max(last, MIN_STEP_SPAN)]


def value_axis(frame: pd.DataFrame) -> list[float] | None:
    """The y range with a margin above and below: a line at its floor (a correctness reward at its penalty) is drawn
    inside the plot, not on its edge, and a flat line gets a readable range (no '0.000000' ticks)."""
    if not len(frame):
        return None
    low, high = float(frame["value"].min()), float(frame["value"].max())
    span = high - low
    margin = span * PLOT_MARGIN if span > 0 else max(abs(high) * 0.1, 0.1)
    return [low - margin, high + margin]


def _scores(sample: dict) -> dict:
    scores = sample.get("scores")
    return scores if isinstance(scores, dict) else {}


def _format_score(value) -> str:
    number = _number(value)
    return "—" if number is None else f"{number:.2f}"


def samples_frame(samples: list[dict], weights: dict[str, float] | None = None,
                  rows: int = SAMPLE_ROWS) -> pd.DataFrame:
    """The latest completions, newest first, with each reward's score and the weighted total."""
    recent = list(reversed(samples[-rows:]))
    names: list[str] = []
    for sample in recent:
        names += [str(n) for n in _scores(sample) if str(n) not in names]
    headers = strings.SAMPLES_HEADERS_FIXED + names + [strings.SAMPLES_TOTAL]
    table = []
    for sample in recent:
        scores = _scores(sample)
        question = str(sample.get("prompt", ""))
        if len(question) > QUESTION_CHARS:
            question = question[:QUESTION_CHARS] + "…"
        scored = [(n, _number(scores.get(n))) for n in names]
        total = sum((weights or {}).get(n, 1.0) * s for n, s in scored if s is not None)
        gold = "" if sample.get("answer") is None else " ".join(str(sample.get("answer")).split())
        if len(gold) > GOLD_CHARS:
            gold = "…" + gold[-(GOLD_CHARS - 1):]
        table.append([sample.get("step"), question, str(sample.get("completion", "")), gold]
                     + [_format_score(s) for _, s in scored] + [f"{total:.2f}"])
    return pd.DataFrame(table, columns=headers)


def samples_column_widths(frame: pd.DataFrame) -> list[str]:
    """Room for the text columns of a samples table (step, question, completion, gold), the rest for the scores."""
    scores = max(0, len(frame.columns) - 4)
    widths = ["56px", "22%", "38%", "7%"] + [f"{28 / max(1, scores):.1f}%"] * scores
    return widths[: len(frame.columns)]


# ---------------------------------------------------------------------------------------------------------------
# Health hints (engine/runs/health.py works them out; `engine watch` prints the same)

def hints_markdown(events: list[dict], samples: list[dict], config: RunConfig | None) -> str:
    """The share of groups GRPO could learn from, then each hint that fires (or that nothing stands out)."""
    hints = [hint.text for hint in health_hints(events, samples, config)]
    learnable = learnable_line(events, config)
    lines = [strings.HINTS_HEADING + (f" {learnable}" if learnable else "")]
    if hints:
        lines += [f"- {hint}" for hint in hints]
    else:
        lines[0] += f" {strings.HINT_ALL_GOOD}"
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------------
# Status, progress and VRAM

@dataclass
class RunStatus:
    header: str
    state: str
    state_text: str
    step_text: str
    times_text: str
    fraction: float
    error_text: str  # empty unless the run failed: its one sentence and where the log is
    log_path: Path


def run_status(run: RunFolder, events: list[dict] | None = None, now: float | None = None) -> RunStatus:
    status = run.status()
    state = status.state
    events = run.read_events() if events is None else events
    step, max_steps = status.step, status.max_steps or 0
    started = status.started
    end = status.finished if state not in ACTIVE_STATES and status.finished else (now or time.time())
    elapsed = (end - started) if started else None
    eta = eta_seconds(status, events[-1] if events else None) if state in ACTIVE_STATES else 0
    header = strings.TRAIN_RUN_HEADER.format(id=run.id, model=status.model or "?", preset=status.preset or "custom",
                                             backend=status.backend or "…")
    error = ""
    if state == "failed":
        error = (strings.TRAIN_FAILED.format(error=status.error or strings.TRAIN_FAILED_UNKNOWN) + "  \n"
                 + strings.TRAIN_LOG_PATH.format(path=run.log_path))
    elif state == "unreadable":
        error = strings.TRAIN_UNREADABLE.format(error=status.error)
    times = (strings.TRAIN_TIMES.format(elapsed=clock(elapsed), eta=clock(eta)) if state in ACTIVE_STATES
             else strings.TRAIN_TIME_TOTAL.format(elapsed=clock(elapsed)))  # no ETA once it has ended
    return RunStatus(header=header, state=state, state_text=strings.TRAIN_STATE.get(state, state),
                     step_text=strings.TRAIN_STEP.format(step=step, max_steps=max_steps or "?"),
                     times_text=times,
                     fraction=min(1.0, step / max_steps) if max_steps else 0.0, error_text=error,
                     log_path=run.log_path)


def bar_html(fraction: float, text: str, element_id: str, tone: str = "progress") -> str:
    """A horizontal bar with a caption: the run's progress or the GPU's memory."""
    percent = max(0.0, min(1.0, fraction)) * 100
    return (f'<div class="gs-bar gs-bar-{tone}" id="{element_id}"><div class="gs-bar-fill" '
            f'style="width:{percent:.1f}%"></div><div class="gs-bar-text">{html.escape(text)}</div></div>')


def vram_reading_from(event: dict | None, live: dict | None = None) -> dict:
    """The live NVML reading where there is one, else the latest event's."""
    for source in (live, event):
        if source and source.get("vram_total_mib"):
            return source
    return {}


def vram_html(reading: dict, index: int | None = None) -> str:
    """One GPU's bar; `index`: its number, on a run of several GPUs."""
    total = _number(reading.get("vram_total_mib"))
    if not total or total <= 0:
        return bar_html(0, strings.TRAIN_VRAM_NONE, "vram-bar", "vram")
    used = _number(reading.get("vram_used_mib")) or 0
    process = _number(reading.get("vram_process_mib"))
    process_text = strings.TRAIN_VRAM_PROCESS.format(process=process / 1024) if process else ""
    if index is None:
        text = strings.TRAIN_VRAM.format(used=used / 1024, total=total / 1024, process=process_text)
        return bar_html(used / total, text, "vram-bar", "vram")
    text = strings.TRAIN_VRAM_GPU.format(index=index, used=used / 1024, total=total / 1024, process=process_text)
    return bar_html(used / total, text, f"vram-bar-{index}", "vram")


def gpu_readings_from(event: dict | None, live: list[dict] | None = None) -> list[dict]:
    """Every GPU of the run: the live NVML readings where there are some, else the latest event's `gpus` list, else
    its single-GPU keys (runs logged before the list, or without a GPU)."""
    for source in (live, (event or {}).get("gpus")):
        if isinstance(source, list):
            readings = [r for r in source if isinstance(r, dict) and _number(r.get("vram_total_mib"))]
            if readings:
                return readings
    single = vram_reading_from(event)
    return [single] if single else []


def vram_bars_html(readings: list[dict]) -> str:
    """One VRAM bar per GPU of the run (the one bar of a single-GPU run as it always was)."""
    if len(readings) <= 1:
        return vram_html(readings[0] if readings else {})
    bars = []
    for position, reading in enumerate(readings):
        index = reading.get("index")
        bars.append(vram_html(reading, index if isinstance(index, int) and not isinstance(index, bool)
                              else position))
    return "".join(bars)


# ---------------------------------------------------------------------------------------------------------------
# Runs list and evaluation

def _reward_text(value) -> str:
    number = _number(value)
    return "" if number is None else f"{number:.3f}"


def _when(timestamp) -> str:
    try:
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp)) if timestamp else ""
    except (OverflowError, OSError, ValueError):  # a corrupt but well-typed time (year 10^300)
        return ""


def runs_frame(summaries: list[dict]) -> pd.DataFrame:
    """One row per run; a summary's "disk" (bytes on disk) shows as a size, and a queued run's "queued" position
    replaces its state."""
    rows = []
    for s in summaries:
        started = _when(s.get("started"))
        state = strings.RUN_STATE_QUEUED.format(position=s["queued"]) if s.get("queued") else s["state"]
        disk = human_size(s["disk"]) if isinstance(s.get("disk"), int) else ""
        rows.append([s["id"], state, f"{s.get('step') or 0}/{s.get('max_steps') or '?'}",
                     _reward_text(s.get("best_reward")), _reward_text(s.get("last_reward")), s.get("model") or "",
                     s.get("preset") or "", started, disk])
    return pd.DataFrame(rows, columns=strings.RUNS_HEADERS)


def logged_steps(samples: list[dict]) -> list[int]:
    """The steps samples.jsonl has completions for, in order."""
    return sorted({int(step) for sample in samples if (step := _number(sample.get("step"))) is not None
                   and math.isfinite(step)})


def samples_at_step(samples: list[dict], step: int | float | None) -> tuple[int | None, list[dict]]:
    """The completions of the logged step nearest to `step` at or before it (the first logged step for an earlier
    one), and that step; (None, []) without samples."""
    steps = logged_steps(samples)
    if not steps:
        return None, []
    wanted = steps[-1] if step is None else step
    shown = max((s for s in steps if s <= wanted), default=steps[0])
    return shown, [sample for sample in samples if _number(sample.get("step")) == shown]


def _percent(value) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def eval_markdown(result: dict) -> str:
    """The eval.json of a run as a table; a file that is not what `engine eval` writes says so."""
    if not isinstance(result, dict) or not all(isinstance(result.get(n, {}), dict) for n in ("base", "tuned")):
        return strings.EVAL_UNREADABLE
    rows = [strings.EVAL_ROW.format(name=name, accuracy=_percent(_number(result[name].get("accuracy"))),
                                    format=_percent(_number(result[name].get("format_compliance"))),
                                    reward=_number(result[name].get("mean_reward")) or 0.0,
                                    n=int(_number(result[name].get("n")) or 0))
            for name in ("base", "tuned") if name in result]
    data = Path(str(result.get("data", ""))).name or "held-out rows"
    table = strings.EVAL_TABLE.format(rows="\n".join(rows), data=data, tokens=result.get("max_new_tokens", "?"),
                                      seconds=result.get("seconds", "?"),
                                      metric=result.get("accuracy_metric", "accuracy"))
    adapter = result.get("tuned_adapter")
    return table + (f"  \n{strings.EVAL_TUNED_ADAPTER.format(adapter=adapter)}" if isinstance(adapter, str) else "")


# ---------------------------------------------------------------------------------------------------------------
# Which adapter: the best checkpoint by held-out eval, or the last

def best_text(best: dict | None) -> str | None:
    """best.json in words: 'step 40, held-out accuracy 62%'; None when there is none."""
    if not best:
        return None
    metric, value = str(best.get("metric", "")), _number(best.get("value"))
    what = metric.removeprefix("eval/").replace("_", " ")
    shown = "?" if value is None else f"{value:.0%}" if metric in ("eval/accuracy", "eval/format") else f"{value:.3g}"
    return strings.BEST_TEXT.format(step=best.get("step", "?"), what=what, value=shown)


def adapter_choices(best: dict | None, last_step: int | None) -> list[tuple[str, str]]:
    """The adapter radio's (label, value) pairs: the best checkpoint first (the default), the last one a click away."""
    best_label = (strings.ADAPTER_BEST.format(best=best_text(best)) if best
                  else strings.ADAPTER_BEST_NONE)
    return [(best_label, "best"), (strings.ADAPTER_LAST.format(step=last_step if last_step is not None else "?"),
                                   "last")]


# ---------------------------------------------------------------------------------------------------------------
# The learnability probe's report (probe.json) in words

def applicable_change(report: dict | None, settings: list[str]) -> dict | None:
    """The verdict's change when the form can apply it (a setting with a value, and those that go with it), else
    None: "pick a larger model" or "use harder questions" is the user's to do."""
    verdict = report.get("verdict") if isinstance(report, dict) else None
    change = verdict.get("change") if isinstance(verdict, dict) else None
    if not isinstance(change, dict) or change.get("value") is None or change.get("key") not in settings:
        return None
    also = [a for a in change.get("also") or [] if isinstance(a, dict) and a.get("key") in settings
            and a.get("value") is not None]
    return {"key": change["key"], "value": change["value"], "sentence": str(change.get("sentence", "")),
            "also": also}


def _audit_lines(audit) -> list[str]:
    """Where numeric and math-verify disagree on the probe's answers (a report of an older probe has no audit)."""
    if not isinstance(audit, dict):
        return []
    try:
        lines = [strings.PROBE_AUDIT.format(headline=verifier_audit.headline(audit))]
        lines += [strings.PROBE_AUDIT_CASE.format(case=verifier_audit.case_sentence(case, quote="`"))
                  for case in audit["cases"]]
    except (KeyError, TypeError):
        return []
    skipped = verifier_audit.skipped_sentence(audit)
    return lines + ([skipped] if skipped else [])


def probe_markdown(report: dict) -> str:
    """The verdict in plain words first, what to change, the other findings, then what was probed and how long a
    training step will take here."""
    if not isinstance(report, dict) or not isinstance(report.get("verdict"), dict):
        return strings.PROBE_UNREADABLE
    verdict = report["verdict"]
    icon = "✓" if verdict.get("code") == "ready" else "⚠"
    title, text = str(verdict.get("title", "")), str(verdict.get("text", ""))
    # The engine's text starts with its title ("Too hard: none of…"): bold it there rather than say it twice.
    said = text.replace(title, f"**{title}**", 1) if title and text.startswith(title) else f"**{title}** — {text}"
    lines = [strings.PROBE_VERDICT.format(icon=icon, text=said)]
    change = verdict.get("change")
    if isinstance(change, dict) and change.get("sentence"):
        lines.append(strings.PROBE_CHANGE.format(sentence=change["sentence"]))
    for other in report.get("findings") or []:
        if isinstance(other, dict) and other.get("code") != verdict.get("code") and other.get("text"):
            lines.append(strings.PROBE_ALSO.format(text=other["text"]))
    lines += _audit_lines(report.get("verifier_audit"))
    estimate = report.get("step_estimate") if isinstance(report.get("step_estimate"), dict) else {}
    train = (report.get("config") or {}).get("train") if isinstance(report.get("config"), dict) else None
    steps = _number((train or {}).get("max_steps") if isinstance(train, dict) else None)
    lines.append(strings.PROBE_FOOTER.format(
        prompts=report.get("prompts", "?"), k=report.get("generations_per_prompt", "?"),
        model=report.get("model", "?"), seconds=_number(report.get("seconds")) or 0.0,
        step=_number(estimate.get("seconds")) or 0.0, steps=f"{steps:,.0f}" if steps else "?",
        run=duration(_number(estimate.get("run_seconds")) or 0.0)))
    return "  \n".join(lines)
