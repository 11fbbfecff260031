"""Reward curves of GRPO runs from their events.jsonl (runs on a CPU, from files fetched off the GPU machine).

    python -m bench.plot_learning bench/learning-curves.png RUN_DIR [RUN_DIR ...]
    python -m bench.plot_learning --compare rewards/strict_format/mean bench/learning-rates.png RUN_DIR [RUN_DIR ...]

One column per run: the mean of each reward per step (and the total), the share of groups whose rewards were all
equal (GRPO learns nothing from those: every advantage is zero), and the mean completion length. A dotted line marks
where the run was stopped and resumed (a pause in the events' wall-clock times). With --compare, one panel: that
metric for every run, a 10-step moving average, labelled with each run's folder name.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path


def read_events(run: Path) -> list[dict]:
    """Each step once: a run killed after its last checkpoint logged steps again when resumed (before the engine
    dropped such steps itself on resume); the later record is the one the run continued from."""
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines() if line.strip()]
    by_step = {e["step"]: e for e in events}
    return [by_step[step] for step in sorted(by_step)]


def moving_average(values: list[float], window: int = 10) -> list[float]:
    return [statistics.fmean(values[max(0, i - window + 1):i + 1]) for i in range(len(values))]


def plot_compare(out: Path, runs: list[Path], key: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for run in runs:
        events = read_events(run)
        ax.plot([e["step"] for e in events], moving_average([e.get(key) or 0.0 for e in events]), label=run.name)
    ax.set_title(f"{key} (10-step moving average)")
    ax.set_xlabel("step")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def resume_steps(events: list[dict]) -> list[float]:
    """Steps after which the run paused (stopped, then resumed): a gap far longer than a step."""
    gaps = [(b["time"] - a["time"], a["step"]) for a, b in zip(events, events[1:])]
    if not gaps:
        return []
    typical = statistics.median(g for g, _ in gaps)
    return [step + 0.5 for gap, step in gaps if gap > max(30.0, 10 * typical)]


def plot(out: Path, runs: list[Path]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, len(runs), figsize=(6 * len(runs), 9), squeeze=False, sharex="col")
    for column, run in enumerate(runs):
        events = read_events(run)
        steps = [e["step"] for e in events]
        top, middle, bottom = axes[0][column], axes[1][column], axes[2][column]
        names = sorted({k[len("rewards/"):-len("/mean")] for e in events for k in e
                        if k.startswith("rewards/") and k.endswith("/mean")})
        for name in names:
            top.plot(steps, [e.get(f"rewards/{name}/mean") for e in events], marker=".", label=name)
        top.plot(steps, [e.get("reward") for e in events], color="black", linewidth=2, label="total reward")
        top.set_title(f"{run.name}: mean reward per step")
        top.legend(fontsize=8)
        middle.plot(steps, [e.get("frac_reward_zero_std") for e in events], marker=".", color="tab:red")
        middle.set_ylim(-0.05, 1.05)
        middle.set_title("share of groups with no reward variance (no gradient)")
        bottom.plot(steps, [e.get("completions/mean_length") for e in events], marker=".", color="tab:green")
        bottom.set_ylabel("mean tokens", color="tab:green")
        clipped = bottom.twinx()
        clipped.plot(steps, [e.get("completions/clipped_ratio") for e in events], linestyle=":", color="tab:gray")
        clipped.set_ylim(-0.05, 1.05)
        clipped.set_ylabel("share cut at max_completion_length", color="tab:gray")
        bottom.set_title("completion length")
        bottom.set_xlabel("step")
        for x in resume_steps(events):
            for ax in (top, middle, bottom):
                ax.axvline(x, linestyle="--", color="gray")
            top.annotate("stop / resume", (x, top.get_ylim()[1]), fontsize=8, ha="left", va="top")
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compare", metavar="KEY", help="one panel: this events.jsonl key for every run")
    parser.add_argument("out", type=Path)
    parser.add_argument("runs", type=Path, nargs="+")
    args = parser.parse_args()
    if args.compare:
        plot_compare(args.out, args.runs, args.compare)
    else:
        plot(args.out, args.runs)
    print(args.out)


if __name__ == "__main__":
    main()
