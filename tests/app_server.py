"""The web app as a user starts it, for the tests that talk to it over HTTP or through a browser: `python -m app` as
a subprocess on a free port, in its own process group, its output in <root>/app.log, stopped (group and all) when the
test module is done."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from engine.launch_plan import free_port

from tests.conftest import REPO

# Every app a test starts: no hub, no analytics call home.
QUIET_ENV = {"HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}


@dataclass
class AppServer:
    url: str  # http://127.0.0.1:<port>, no trailing slash
    log: Path
    process: subprocess.Popen


@contextmanager
def app_server(root: Path, env: dict[str, str], host: str = "127.0.0.1", start_timeout_s: float = 120,
               failure: str = "the app did not start", port: int | None = None) -> Iterator[AppServer]:
    """The app serving on `host` (on `port`, or a free one), with `env` as its whole environment (QUIET_ENV added),
    once its page answers 200; the test fails with the end of its log if it exits or does not answer within
    `start_timeout_s`. A restart on the same root appends to the same log."""
    port = port or free_port()
    log_path = root / "app.log"
    with open(log_path, "a") as log:  # the app keeps its own copy of the descriptor
        process = subprocess.Popen([sys.executable, "-m", "app", "--host", host, "--port", str(port)], cwd=REPO,
                                   env={**env, **QUIET_ENV}, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + start_timeout_s
    try:
        while True:
            try:
                if httpx.get(url + "/", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.time() > deadline:
                pytest.fail(f"{failure}:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.5)
        yield AppServer(url, log_path, process)
    finally:
        stop(process)


def stop(process: subprocess.Popen, timeout_s: float = 30) -> None:
    """SIGTERM to the app's own process group (start_new_session), so the runs and jobs it started stop with it."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:  # the whole group has already gone
        pass
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
