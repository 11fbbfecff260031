"""Which isolation layers hold on this machine, found at run time, and one plain sentence that says so.

`isolation()` starts one probe child (child.py's probe role) that applies each kernel layer to itself and checks
that it holds (after Landlock, listing / must be refused; after seccomp, socket() must be). Jobs then ask their
children for exactly the layers that held, and a child that cannot apply one refuses to run.

The layers, strongest last:
- "process": always. A fresh interpreter per program, spawned (not forked from the trainer, so none of its memory
  is inherited), in its own session and killed as a group; rlimits (CPU, address space, file size, open files,
  no core dumps, no new processes); output read with a cap; a clean environment; stdin at EOF; a throw-away
  working folder (also HOME and TMPDIR) whose size the runner watches; dies with its parent. The verdict is made
  by a second process (judge_side.py) that receives only plain data from the program's.
- "seccomp" (seccomp.py): no sockets of any family, no new processes or threads, no exec, no signals beyond the
  process itself, no ptrace, no chmod/chown/xattr, no namespaces or mounts.
- "landlock" (landlock.py): reads only the Python installation and system libraries, writes only the throw-away
  folder; "landlock-network" (ABI 4+) also refuses TCP; "landlock-signals" (ABI 6+) also refuses signals and
  abstract UNIX sockets beyond the sandbox.
- "no-capabilities": when the app runs as root, the children drop every capability.

What a default Docker container allows (our image runs as uid 1000, no added capabilities, Docker's default
seccomp profile, moby profiles/seccomp/default.json):
- seccomp() and prctl() are allowed, so a process can add its own filter: our seccomp layer works.
- landlock_create_ruleset / add_rule / restrict_self are allowed since moby PR 43199 (2022); on an older engine
  they fail with EPERM and the probe reports it. Landlock also needs the host kernel to have it (5.13+, and in
  the boot-time LSM list, as Ubuntu's kernels since 22.04 have it); the container cannot change that.
- unshare, setns, mount and clone with namespace flags are refused without CAP_SYS_ADMIN (and clone3 answers
  ENOSYS), so a process in the container cannot make user, network, PID or mount namespaces. bubblewrap and
  nsjail build on exactly those and fail there ("No permissions to create new namespace") unless the container
  runs with `--security-opt seccomp=unconfined` or CAP_SYS_ADMIN, which we do not ask users for. For the same
  reason there is no network namespace, and cgroups are read-only inside the container: hence rlimits plus
  seccomp instead of a cgroup, and seccomp plus Landlock instead of a network namespace.
- RLIMIT_NPROC counts all processes and threads of uid 1000 (the trainer's included), so it cannot express "this
  program may start N processes": the sandbox allows none (rlimits.py).
These points come from moby's profile and its issue threads (moby 42441, bubblewrap 505): no Docker engine ran in
the workplace where this was written. The sandbox itself was checked on Linux 6.18 (Landlock ABI 7) as root, as
an unprivileged user, and under a seccomp profile that refuses the Landlock calls as an older Docker's does
(tests/test_sandbox.py); `python -m engine sandbox` inside the image prints what holds there.
"""

from __future__ import annotations

import functools
import json
import subprocess
import tempfile
from dataclasses import dataclass

from engine.sandbox.spawn import job_basics, spawn

PROBE_TIMEOUT_S = 60
MISSING_MEANS = {"seccomp": "so the program could open network connections and start processes",
                 "landlock": "so the program can read and change every file this user can"}


@dataclass(frozen=True)
class Isolation:
    layers: tuple[str, ...]
    missing: tuple[tuple[str, str], ...] = ()  # (layer, why it is not active here)
    landlock_abi: int = 0

    def describe(self) -> str:
        layers = set(self.layers)
        parts = [("model-written code runs in a fresh process with time, CPU, memory, output and file limits, a clean "
                  "environment and a throw-away folder, judged by a separate process that receives only plain data")]
        if "seccomp" in layers:
            parts.append("seccomp blocks network sockets, new processes, exec and signals to other processes")
        if "landlock" in layers:
            extra = [what for layer, what in (("landlock-network", "TCP"), ("landlock-signals", "signals"))
                     if layer in layers]
            parts.append(f"Landlock (ABI {self.landlock_abi}) limits files to reading the Python installation and "
                         "writing the throw-away folder" + (f" and also blocks {' and '.join(extra)}" if extra else ""))
        if "no-capabilities" in layers:
            parts.append("the app runs as root, so the sandbox drops every capability")
        for layer, why in self.missing:
            parts.append(f"{layer} is unavailable ({why}), {MISSING_MEANS.get(layer, '')}".rstrip(", "))
        sentence = "; ".join(parts) + "."
        return sentence[0].upper() + sentence[1:]

    def warnings(self) -> list[str]:
        """One sentence per layer that does not hold here: what it is, why, and what that lets a program do."""
        return [f"the code sandbox runs without {layer} ({why}), {MISSING_MEANS.get(layer, '')}".rstrip(", ")
                for layer, why in self.missing]


def from_probe(found: dict) -> Isolation:
    layers, missing = ["process"], []
    for layer in ("seccomp", "landlock"):
        why = found.get(layer)
        if why == "":
            layers.append(layer)
        else:
            missing.append((layer, str(why or "the probe did not say")))
    abi = int(found.get("landlock_abi") or 0) if "landlock" in layers else 0
    if abi >= 4:
        layers.append("landlock-network")
    if abi >= 6:
        layers.append("landlock-signals")
    if found.get("root"):
        layers.append("no-capabilities")
    return Isolation(tuple(layers), tuple(missing), abi)


@functools.cache
def isolation() -> Isolation:
    """What holds here (probed once per process)."""
    with tempfile.TemporaryDirectory(prefix="grpo-sandbox-probe-") as folder:
        try:
            child = spawn("probe", folder)
        except OSError as error:
            return _probe_failed(error)
        try:
            output, _ = child.communicate(json.dumps(job_basics()).encode(), timeout=PROBE_TIMEOUT_S)
            found = json.loads(output.decode(errors="replace").strip().splitlines()[-1])
        except (ValueError, IndexError, subprocess.TimeoutExpired) as error:
            child.kill()
            child.wait()
            return _probe_failed(error)
    return from_probe(found)


def _probe_failed(error: Exception) -> Isolation:
    why = f"the probe failed: {error}"
    return Isolation(("process",), (("seccomp", why), ("landlock", why)))
