"""One progress line for a run, from its status.json and latest event: `train` prints it as it goes and
`watch` redraws it from the files, so both show the same thing."""

from __future__ import annotations

import math
import sys
import time

from engine.config import load_config
from engine.problems import ConfigError
from engine.runs.folder import FINAL_STATES, RunFolder, RunStatus
from engine.runs.health import health_hints

BAR_WIDTH = 20


def clock(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(max(0, seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"


def _number(value) -> float | None:
    """A finite number from an event (a corrupt line may hold text, true or NaN)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def eta_seconds(status: RunStatus, event: dict | None) -> float | None:
    """Remaining time at this session's pace. The pace is measured from the first logged step on (the first step
    carries the warm-up: compilation, vLLM's CUDA graphs), falling back to the session start until a second step is
    logged; a resumed run restarts the clock at its resume step."""
    step, max_steps = status.step, status.max_steps or 0
    now = _number(event.get("time")) if event else None
    if now is None or not max_steps:
        return None
    if status.pace_from_time is not None and step > (status.pace_from_step or step):
        since, first_step = status.pace_from_time, status.pace_from_step
    else:
        since, first_step = status.session_started, status.session_start_step
    done = step - first_step
    if since is None or done <= 0:
        return None
    return (now - since) / done * (max_steps - step)


def reward_parts(event: dict) -> str:
    parts = [f"{k.split('/')[1]} {v:.2f}" for k, v in event.items()
             if k.startswith("rewards/") and k.endswith("/mean") and _number(v) is not None]
    return ", ".join(parts)


def vram_text(event: dict | None) -> str:
    used, total = (_number(event.get("vram_used_mib")), _number(event.get("vram_total_mib"))) if event else (None, None)
    if used is None or not total:
        return "VRAM n/a (no NVIDIA GPU)"
    return f"VRAM {used / 1024:.1f}/{total / 1024:.0f} GiB"


def progress_line(status: RunStatus, event: dict | None, now: float | None = None) -> str:
    step, max_steps = status.step, status.max_steps or 0
    filled = max(0, min(BAR_WIDTH, int(BAR_WIDTH * step / max_steps))) if max_steps else 0
    bar = "#" * filled + "-" * (BAR_WIDTH - filled)
    started = status.started
    elapsed = ((time.time() if now is None else now) - started) if started is not None else None
    pieces = [f"step {step}/{max_steps} [{bar}]", f"{clock(elapsed)} elapsed, ETA {clock(eta_seconds(status, event))}"]
    reward = _number(event.get("reward")) if event else None
    if reward is not None:
        detail = reward_parts(event)
        pieces.append(f"reward {reward:.3f}" + (f" ({detail})" if detail else ""))
    pieces.append(vram_text(event))
    pieces.append(status.state)
    return " | ".join(pieces)


def _samples_size(run: RunFolder) -> int:
    try:
        return run.samples_path.stat().st_size
    except OSError:
        return 0


def watch(run: RunFolder, interval: float = 1.0, stream=sys.stdout) -> str:
    """Redraw the progress line until the run reaches a final state (or its status cannot be read: a sentence says
    why); returns that state. A health hint is printed as a line of its own when it starts to fire."""
    interactive = stream.isatty()
    last_printed = None
    try:
        config = load_config(run.config_path)
    except ConfigError:  # a deleted data file or preset: the hints that need the config stay quiet
        config = None
    firing: set[str] = set()
    read = None  # (events, samples size) the hints were last worked out from
    while True:
        status = run.status()
        state = status.state
        if state == "unreadable":
            stream.write(f"{status.error}; the run folder is damaged, so there is nothing to follow\n")
            return state
        events = run.read_events()
        line = progress_line(status, events[-1] if events else None)
        new_hints = []
        if read != (len(events), _samples_size(run)):
            read = (len(events), _samples_size(run))
            hints = health_hints(events, run.read_samples(), config)
            new_hints = [hint for hint in hints if hint.code not in firing]
            firing = {hint.code for hint in hints}
        hint_lines = "".join(f"hint: {hint.text}\n" for hint in new_hints)
        if interactive:
            stream.write("\r\033[K" + hint_lines + line)
        else:
            stream.write((line + "\n" if line != last_printed else "") + hint_lines)
        stream.flush()
        last_printed = line
        if state in FINAL_STATES:
            if interactive:
                stream.write("\n")
            if state == "failed":
                stream.write(f"failed: {status.error or 'the trainer process ended unexpectedly'}\n")
            return state
        time.sleep(interval)
