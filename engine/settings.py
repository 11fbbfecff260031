"""Where things live on disk. Every location can be moved with an environment variable (the Docker image points
them all under the /data volume), so the engine, the app and the CLI agree without passing paths around."""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def _dir(variable: str, default: Path) -> Path:
    return Path(os.environ.get(variable) or default).expanduser()


def runs_dir() -> Path:
    """Run folders: one per training run (config, metrics, samples, checkpoints, adapter)."""
    return _dir("GRPO_STUDIO_RUNS_DIR", Path("runs"))


def cache_dir() -> Path:
    """Built-in models are built or converted once and kept here."""
    return _dir("GRPO_STUDIO_CACHE_DIR", Path.home() / ".cache" / "grpo-studio")


def uploads_dir() -> Path:
    """Data files uploaded through the app."""
    return _dir("GRPO_STUDIO_UPLOADS_DIR", Path("uploads"))


def models_dir() -> Path:
    """Model folders the web page may name (by folder name); engineers name any folder in YAML and the CLI."""
    return _dir("GRPO_STUDIO_MODELS_DIR", Path("models"))


def password_file() -> Path:
    """Where the app keeps the login password it made (listening beyond loopback with no password set)."""
    return _dir("GRPO_STUDIO_PASSWORD_FILE", cache_dir() / "login-password")


def presets_dir() -> Path:
    """The preset YAML files; the repo's presets/ unless moved."""
    return _dir("GRPO_STUDIO_PRESETS_DIR", REPO_ROOT / "presets")


def examples_dir() -> Path:
    """The example configs shipped with GRPO Studio: not the user's folder, so nothing is written beside them."""
    return REPO_ROOT / "examples"


def probe_reports_dir() -> Path:
    """Where `engine probe` of a bundled example config writes its report."""
    return cache_dir() / "probes"


def sample_data_path() -> Path:
    """The bundled GSM8K slice used when the user brings no data."""
    return REPO_ROOT / "tests" / "data" / "gsm8k_slice.jsonl"


def code_sample_data_path() -> Path:
    """The bundled HumanEval problems (prompt, test, entry_point; MIT) for the rlvr-code preset."""
    return REPO_ROOT / "tests" / "data" / "humaneval" / "humaneval.jsonl"


def arithmetic_samples_dir() -> Path:
    """Where the bundled arithmetic task (engine.arithmetic_task) is written on first use: made in code, not shipped."""
    return cache_dir() / "samples"


def bundled_samples() -> tuple[Path, ...]:
    """Every bundled data file the app offers (besides uploads): the shipped samples, and the arithmetic task's
    files once written."""
    return (sample_data_path(), code_sample_data_path(),
            *sorted(arithmetic_samples_dir().glob("arithmetic-*.jsonl")))
