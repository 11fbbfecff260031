"""The vLLM server of `model.rollout: vllm_server` (TRL's server mode), as `engine train` runs it: started as a child
process group (engine/child_group.py) with its own log in the run folder, ready once vLLM's /health answers 200,
watched while the run trains, stopped with the run.

Its failures are one sentence each, naming its log, with the last error line of that log where there is one.
"""

from __future__ import annotations

import contextlib
import time
import urllib.error
import urllib.request
from pathlib import Path

import regex

from engine.child_group import ChildGroup
from engine.launch_plan import ChildCommand

# A first start downloads the model, loads it, compiles and captures CUDA graphs: minutes for a 14B model.
START_TIMEOUT_S = 1800.0
POLL_S = 1.0
ERROR_LINE = regex.compile(r"^(?:\S+ )*?(?P<error>[A-Za-z_.]*(?:Error|Exception): .+)$")


class RolloutServer:
    def __init__(self, command: ChildCommand, health_url: str, log_path: Path):
        self.command, self.health_url, self.log_path = command, health_url, Path(log_path)
        self.group = ChildGroup("vLLM server")

    def start(self) -> None:
        with self.log_path.open("ab") as log:  # the child keeps its own descriptor
            self.group.start(self.command.argv, self.command.environment(), log)

    @property
    def alive(self) -> bool:
        return self.group.alive

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.health_url, timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def wait_ready(self, stop_requested, timeout_s: float = START_TIMEOUT_S) -> str:
        """"ready", or why not: "exited", "stopped" (a stop was asked for meanwhile) or "timeout"."""
        deadline = time.monotonic() + timeout_s
        while True:
            if not self.alive:
                return "exited"
            if self.healthy():
                return "ready"
            if stop_requested():
                return "stopped"
            if time.monotonic() > deadline:
                return "timeout"
            time.sleep(POLL_S)

    def stop(self) -> None:
        self.group.stop()

    def last_error(self) -> str | None:
        """The last 'SomeError: message' line of the server's log (vLLM logs its tracebacks there)."""
        with contextlib.suppress(OSError):
            with self.log_path.open("rb") as f:
                f.seek(0, 2)
                f.seek(max(0, f.tell() - 64_000))
                lines = f.read().decode("utf-8", "replace").splitlines()
            for line in reversed(lines):
                found = ERROR_LINE.match(line.strip())
                if found:
                    return found.group("error")[:300]
        return None

    def failure(self, when: str) -> str:
        """One sentence for status.json: what happened to the server `when` (e.g. 'before it was ready')."""
        if self.alive:
            what = f"the vLLM server did not answer {self.health_url} within {START_TIMEOUT_S / 60:.0f} minutes"
        else:
            what = f"the vLLM server exited (code {self.group.exit_code}) {when}"
        error = self.last_error()
        return f"{what}{f' ({error})' if error else ''}; see {self.log_path}"
