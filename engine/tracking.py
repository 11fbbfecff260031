"""Where a run's metrics and sampled completions go besides its own folder: `train.report_to`.

    tensorboard  event files in runs/<id>/tensorboard/: TRL's metrics through transformers' TensorBoardCallback,
                 and each logged step's sampled completions (those samples.jsonl keeps) as a text summary, so
                 TensorBoard's Text tab shows them step by step. The app can start TensorBoard on the runs folder.
    wandb        transformers' WandbCallback for the metrics; TRL's `log_completions` for a completions table per
    trackio      logged step (TRL sends that table to these two trackers only).
    mlflow       transformers' MLflowCallback for the metrics.

Each tracker but TensorBoard is optional: `check` says in one sentence what is missing (its package, or for wandb an
API key). Trackers that keep files locally keep them beside the runs, not in whatever folder the app started in.
"""

from __future__ import annotations

import importlib.util
import json
import netrc
import os
from urllib.parse import urlparse

from engine.config import RunConfig
from engine.problems import Problem
from engine.runs.folder import RunFolder

PROJECT = "grpo-studio"  # the project / experiment name a tracker files runs under, unless the environment says
SAMPLES_TAG = "completions"
TEXT_CHARS = 4000  # one completion in TensorBoard's text view; samples.jsonl keeps the whole text


def tracker_problems(config: RunConfig) -> list[Problem]:
    """What keeps the chosen tracker from working here, one sentence each."""
    tracker = config.train.report_to
    if tracker == "none":
        return []
    if importlib.util.find_spec(tracker) is None:
        return [Problem("train.report_to", f"{tracker} is not installed here; install it (pip install {tracker}) or "
                                           "choose tensorboard or none")]
    if tracker == "wandb" and not wandb_can_log():
        return [Problem("train.report_to", "wandb needs an API key: set WANDB_API_KEY (or run `wandb login`), or "
                                           "set WANDB_MODE=offline to keep its logs in the run folder")]
    return []


def wandb_can_log() -> bool:
    """An API key in the environment or in ~/.netrc (where `wandb login` puts it), or a mode that needs none."""
    if os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_MODE") in ("offline", "disabled", "dryrun"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL") or "https://api.wandb.ai").hostname
    try:
        return netrc.netrc().authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):  # no ~/.netrc, or one that cannot be read
        return False


def describe(config: RunConfig) -> str:
    """One line for `check`: where the metrics go."""
    return {"none": "only the run folder (train.report_to: none)",
            "tensorboard": "the run folder and TensorBoard (its tensorboard/ folder; the Results tab can open it)",
            "wandb": f"the run folder and Weights & Biases (project {os.environ.get('WANDB_PROJECT') or PROJECT})",
            "mlflow": "the run folder and MLflow (" + (os.environ.get("MLFLOW_TRACKING_URI")
                                                       or "sqlite:///<runs folder>/mlflow.db") + ")",
            "trackio": f"the run folder and Trackio (project {PROJECT})"}[config.train.report_to]


def prepare_environment(config: RunConfig, run: RunFolder) -> None:
    """Where each tracker keeps its files and which project it files the run under; a value the user set wins.
    In the training process, before the trainer (and its callbacks) are made."""
    tracker = config.train.report_to
    if tracker == "wandb":
        os.environ.setdefault("WANDB_PROJECT", PROJECT)
        os.environ.setdefault("WANDB_DIR", str(run.path))  # offline runs and wandb's own files: in the run folder
    elif tracker == "mlflow":
        os.environ.setdefault("MLFLOW_EXPERIMENT_NAME", PROJECT)
        # MLflow's default store is mlflow.db in the current folder (the app's, not the data volume's)
        os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{run.path.parent.resolve() / 'mlflow.db'}")


def grpo_arguments(config: RunConfig, run: RunFolder) -> dict:
    """GRPOConfig arguments. TensorBoard is not among report_to: `callbacks` adds its callback with a writer this
    module keeps (the completions go through it too)."""
    tracker = config.train.report_to
    arguments = {"report_to": [tracker] if tracker in ("wandb", "mlflow", "trackio") else "none",
                 "run_name": run.id}
    if tracker in ("wandb", "trackio"):
        # TRL's completions table for these two trackers; printing the same table to the log is left off.
        arguments.update(log_completions=True, num_completions_to_print=0)
    if tracker == "trackio":
        arguments.update(project=PROJECT, trackio_static_space_id=False)  # local unless TRACKIO_SPACE_ID is set
    return arguments


def callbacks(config: RunConfig, run: RunFolder, resume_step: int | None = None) -> list:
    """The TensorBoard callback for report_to tensorboard, else nothing. A resumed run drops what the killed session
    logged after its checkpoint (as events.jsonl does), so each step is drawn once."""
    if config.train.report_to != "tensorboard":
        return []
    from torch.utils.tensorboard import SummaryWriter
    from transformers.integrations import TensorBoardCallback

    class RunTensorBoard(TensorBoardCallback):
        """TensorBoard's callback, its `args` summary written whatever the arguments hold: it goes through JSON,
        which the objects among GRPOConfig's values (Unsloth's vLLM sampling settings on every unsloth + vLLM run)
        cannot, and the run failed at its start."""

        def on_train_begin(self, args, state, control, **kwargs):
            super().on_train_begin(json_safe_copy(args), state, control, **kwargs)

    run.tensorboard_dir.mkdir(parents=True, exist_ok=True)
    purge = resume_step + 1 if resume_step else None
    return [RunTensorBoard(tb_writer=SummaryWriter(log_dir=str(run.tensorboard_dir), purge_step=purge))]


def json_safe_copy(args):
    """A shallow copy of the training arguments with each value JSON cannot write replaced by its repr."""
    import copy
    import enum

    safe = copy.copy(args)
    for name, value in vars(args).items():
        try:
            json.dumps(value.value if isinstance(value, enum.Enum) else value)
        except (TypeError, ValueError):
            object.__setattr__(safe, name, repr(value))
    return safe


def publish_samples(trainer_callbacks: list, step: int, samples: list[dict]) -> None:
    """A logged step's sampled completions as one Markdown text summary (tag `completions`) in TensorBoard."""
    writer = next((getattr(c, "tb_writer", None) for c in trainer_callbacks if getattr(c, "tb_writer", None)), None)
    if writer is None or not samples:
        return
    writer.add_text(SAMPLES_TAG, samples_markdown(samples), step)
    writer.flush()


def samples_markdown(samples: list[dict]) -> str:
    """Each sample as a heading with its scores, the question, the gold answer and the completion verbatim."""
    parts = []
    for number, sample in enumerate(samples, 1):
        scores = sample.get("scores") if isinstance(sample.get("scores"), dict) else {}
        scored = ", ".join(f"{name} {value:g}" if isinstance(value, (int, float)) else f"{name} n/a"
                           for name, value in scores.items())
        completion = str(sample.get("completion", ""))
        if len(completion) > TEXT_CHARS:
            completion = completion[:TEXT_CHARS] + " …"
        gold = sample.get("answer")
        parts.append(f"### Sample {number}" + (f" ({scored})" if scored else "") + "\n\n"
                     f"**Question:** {_one_line(sample.get('prompt', ''))}\n\n"
                     + (f"**Gold answer:** {_one_line(gold)}\n\n" if gold not in (None, "") else "")
                     + "\n".join("    " + line for line in completion.splitlines() or [""]))
    return "\n\n".join(parts)


def _one_line(value) -> str:
    return " ".join(str(value).split())[:TEXT_CHARS]
