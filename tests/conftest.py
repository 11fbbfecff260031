"""Shared test setup: no model hub, one built-in model cache for the session, run folders in tmp dirs."""

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"

# Set before any engine import: there is no hub here, and without a GPU TRL's Triton kernel runs interpreted.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TRITON_INTERPRET", "1")
# The tests' models are tiny: one thread per process beats torch's thread pool, which on a shared 2-core machine made
# generation ~50x slower (4 x 32 tokens: 6.7 s against 0.1 s) and the suite's processes fight for the same cores.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("GRPO_STUDIO_CACHE_DIR", str(REPO / ".pytest_cache" / "grpo-studio-models"))
# A test that trains owns its runs folder (the `runs_dir` fixture, or GRPO_STUDIO_RUNS_DIR in the env it passes): the
# one-run lock lives there. Behind that, a test that forgets still never writes the repo's runs/ nor shares a lock
# with another worker, nor touches a runs folder the shell names: each test process gets its own, removed at its end.
os.environ["GRPO_STUDIO_RUNS_DIR"] = tempfile.mkdtemp(prefix="grpo-studio-test-runs-")
atexit.register(shutil.rmtree, os.environ["GRPO_STUDIO_RUNS_DIR"], ignore_errors=True)


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    path = tmp_path / "runs"
    monkeypatch.setenv("GRPO_STUDIO_RUNS_DIR", str(path))
    return path


def run_engine(*args, cwd=REPO, timeout=600, env=None) -> subprocess.CompletedProcess:
    """`python -m engine ...` as a user runs it: a real subprocess, output captured."""
    return subprocess.run([sys.executable, "-m", "engine", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


def started_identity(process: subprocess.Popen) -> dict:
    """The trainer identity (pid, create time, command hash) of a child this test started, once the child runs its
    own program: right after Popen its command line can still be empty (seen: about one time in two), and an
    identity taken then never matches the running process."""
    from engine.runs import trainer_process

    expected = trainer_process.command_hash([str(arg) for arg in process.args])

    def identity():
        found = trainer_process.identity_of(process.pid)
        return found if found and found["pid_command"] == expected else None

    return wait_for(identity, timeout=60, what=f"process {process.pid} to start")


def run_check(config, overrides: list[str], capsys) -> tuple[int, str]:
    """`engine check CONFIG --set ...` through the CLI's own main() in this process (the same code path as
    `python -m engine check`, minus the interpreter start and its torch import): exit code and stderr."""
    from engine.cli import main

    code = main(["check", str(config)] + [arg for override in overrides for arg in ("--set", override)])
    return code, capsys.readouterr().err


def wait_for(condition, timeout: float = 180.0, what: str = "the condition", interval: float = 0.1):
    """The condition's first truthy value, polled every `interval` seconds; AssertionError after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")
