"""GPU preflight of the GRPO Studio container, then `exec` of the app (the command given after the options).

The image runs CUDA 13 code (the wheels of torch 2.11.0, the version requirements/gpu.lock pins), so the host needs an
NVIDIA driver >= 580 and a GPU the NVIDIA Container Toolkit hands to the container. When that is missing the app still
starts, in CPU demo mode (GRPO_STUDIO_CPU_DEMO=1), after one paragraph in the container log says what to change. The
reason is also passed to the app as GRPO_STUDIO_CPU_DEMO_REASON so the UI can show it.

Standard library only: it runs before anything heavy is imported. The decision is a pure function (`check`) of what
`nvidia-smi` printed, so tests feed it outputs of real cards and broken setups.

    python docker/preflight.py python -m app
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass

# CUDA 13.x needs an R580 driver or newer (NVIDIA's minor-version compatibility table).
MIN_DRIVER_MAJOR = 580
# GRPO on a 4-bit 1-2B model with LoRA peaks at 4-8 GiB (DESIGN.md figures). "8 GB" cards report a little less than
# 8192 MiB (e.g. 8188 MiB), so the cut sits at 7.5 GiB: it keeps 8 GB cards and turns away 6 GB ones.
MIN_VRAM_MIB = 7680
NVIDIA_SMI_QUERY = ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader,nounits"]
NVIDIA_SMI_TIMEOUT_S = 30
DATA_DIR_VARIABLES = ("GRPO_STUDIO_RUNS_DIR", "GRPO_STUDIO_CACHE_DIR", "GRPO_STUDIO_UPLOADS_DIR", "HF_HOME")

HOW_TO_GET_A_GPU = (
    "To train on your GPU: install the NVIDIA driver (580 or newer) and the NVIDIA Container Toolkit on the host, "
    "then start the container with `docker compose up -d` (docker-compose.yml reserves the GPU) or "
    "`docker run --gpus all ...`; as a check, `docker run --rm --gpus all ubuntu nvidia-smi` must list your GPU."
)


@dataclass(frozen=True)
class Gpu:
    name: str
    driver_version: str
    memory_mib: int | None  # None when nvidia-smi reports "[N/A]"

    @property
    def driver_major(self) -> int | None:
        head = self.driver_version.split(".")[0]
        return int(head) if head.isdigit() else None


@dataclass(frozen=True)
class Verdict:
    use_gpu: bool
    message: str  # one paragraph: a status line when the GPU is usable, what to do when it is not


def parse_gpus(csv_text: str) -> list[Gpu]:
    """Rows of `nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader[,nounits]`."""
    gpus = []
    for line in csv_text.splitlines():
        fields = [field.strip() for field in line.rsplit(",", 2)]  # rsplit: the name is the only free-text field
        if len(fields) != 3 or not fields[0]:
            continue
        name, driver, memory = fields
        memory_number = memory.split()[0] if memory else ""  # "8188 MiB" without nounits
        gpus.append(Gpu(name, driver, int(memory_number) if memory_number.isdigit() else None))
    return gpus


def check(gpus: list[Gpu], smi_problem: str = "", visible_devices: str | None = None) -> Verdict:
    """The decision. `smi_problem` is why nvidia-smi gave no answer ("" when it ran); `visible_devices` is
    CUDA_VISIBLE_DEVICES, whose first entry is the GPU training uses."""
    if smi_problem or not gpus:
        cause = smi_problem or "nvidia-smi lists no GPU"
        return Verdict(
            False,
            f"No NVIDIA GPU is visible inside the container ({cause}), so GRPO Studio starts in CPU demo mode: "
            "the app works for trying things out with tiny models, but real training needs the GPU. "
            f"{HOW_TO_GET_A_GPU}",
        )
    first = (visible_devices or "").split(",")[0].strip()
    gpu = gpus[int(first)] if first.isdigit() and int(first) < len(gpus) else gpus[0]
    if gpu.driver_major is not None and gpu.driver_major < MIN_DRIVER_MAJOR:
        return Verdict(
            False,
            f"The NVIDIA driver on this computer is {gpu.driver_version}, but this image runs CUDA 13, which needs "
            f"driver {MIN_DRIVER_MAJOR} or newer, so GRPO Studio starts in CPU demo mode. Update the host's driver "
            "(Ubuntu: `sudo ubuntu-drivers install`, or install "
            f"nvidia-driver-{MIN_DRIVER_MAJOR} or newer; Windows/WSL: "
            "the latest Game Ready or Studio driver), reboot, and start the container again.",
        )
    if gpu.memory_mib is not None and gpu.memory_mib < MIN_VRAM_MIB:
        gib = gpu.memory_mib / 1024
        return Verdict(
            False,
            f"The GPU {gpu.name} has {gib:.1f} GiB of memory; GRPO training needs a GPU with at least 8 GB, so "
            "GRPO Studio starts in CPU demo mode. Run it on a machine with an 8 GB or larger NVIDIA GPU; if this "
            "machine has a larger GPU too, hand only that one to the container (in docker-compose.yml, "
            '`device_ids: ["1"]` in place of `count: all`).',
        )
    memory = "unknown memory" if gpu.memory_mib is None else f"{gpu.memory_mib / 1024:.1f} GiB"
    return Verdict(True, f"GRPO Studio preflight: {gpu.name}, {memory}, driver {gpu.driver_version}: OK.")


def query_nvidia_smi() -> tuple[str, str]:
    """(output, problem): problem is "" when nvidia-smi ran and exited 0."""
    try:
        done = subprocess.run(NVIDIA_SMI_QUERY, capture_output=True, text=True, timeout=NVIDIA_SMI_TIMEOUT_S)
    except FileNotFoundError:
        return "", "nvidia-smi is missing, so no GPU was handed to the container"
    except subprocess.TimeoutExpired:
        return "", f"nvidia-smi did not answer within {NVIDIA_SMI_TIMEOUT_S} s"
    except OSError as error:
        return "", f"nvidia-smi could not run: {error}"
    if done.returncode != 0:
        said = (done.stdout + done.stderr).strip().splitlines()
        return "", f"nvidia-smi failed: {said[0] if said else f'exit code {done.returncode}'}"
    return done.stdout, ""


def unwritable_data_dirs(environ: dict[str, str]) -> list[str]:
    """Data folders (created if missing) that this user cannot write: a host folder mounted at /data with the wrong
    owner, typically."""
    bad = []
    for variable in DATA_DIR_VARIABLES:
        path = environ.get(variable)
        if not path:
            continue
        try:
            os.makedirs(path, exist_ok=True)
        except OSError:
            pass
        if not os.access(path, os.W_OK):
            bad.append(path)
    return bad


def say(paragraph: str) -> None:
    print("\n" + textwrap.fill(paragraph, width=110, break_on_hyphens=False) + "\n", flush=True)


def main(argv: list[str]) -> None:
    command = argv or [sys.executable, "-m", "app"]
    environ = dict(os.environ)
    if environ.get("GRPO_STUDIO_CPU_DEMO") == "1":
        say("GRPO Studio preflight: CPU demo mode was asked for (GRPO_STUDIO_CPU_DEMO=1); GPU checks skipped.")
    else:
        output, problem = query_nvidia_smi()
        verdict = check(parse_gpus(output), problem, environ.get("CUDA_VISIBLE_DEVICES"))
        say(verdict.message)
        if not verdict.use_gpu:
            environ["GRPO_STUDIO_CPU_DEMO"] = "1"
            environ["GRPO_STUDIO_CPU_DEMO_REASON"] = verdict.message
    bad = unwritable_data_dirs(environ)
    if bad:
        say(
            f"GRPO Studio cannot write to {', '.join(bad)} as user id {os.getuid()}, so runs and downloads will fail. "
            "If you mounted a host folder at /data, give it to that user: `sudo chown -R 1000:1000 <host folder>`; "
            "or use the named volume from docker-compose.yml."
        )
    os.execvpe(command[0], command, environ)


if __name__ == "__main__":
    main(sys.argv[1:])
