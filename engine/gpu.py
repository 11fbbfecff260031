"""What the NVIDIA GPU has and uses, read through NVML (nvidia-ml-py). No torch here: the app calls this too.

Every function answers None (or a dict of Nones) where there is no NVIDIA GPU or driver, so CPU machines get
`null` VRAM fields rather than errors.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

MIB = 1024 * 1024
FP8_MIN_CAPABILITY = (8, 9)


@dataclass(frozen=True)
class GpuInfo:
    name: str
    total_mib: int
    compute_capability: tuple[int, int]
    driver: str

    @property
    def supports_fp8(self) -> bool:
        return self.compute_capability >= FP8_MIN_CAPABILITY

    @property
    def total_gib(self) -> float:
        return self.total_mib / 1024

    def describe(self) -> str:
        major, minor = self.compute_capability
        return f"{self.name}, {self.total_gib:.0f} GiB, compute capability {major}.{minor}"


@lru_cache(maxsize=1)
def _nvml():
    """The initialised pynvml module, or None where NVML is missing (no driver, no GPU, CPU-only machine)."""
    try:
        import pynvml

        pynvml.nvmlInit()
        return pynvml
    except Exception:  # ImportError, NVMLError_LibraryNotFound, driver not loaded...: all mean "no NVIDIA GPU"
        return None


def _handle():
    """The GPU this process would train on: the first of CUDA_VISIBLE_DEVICES (index or UUID), else GPU 0."""
    nvml = _nvml()
    if nvml is None:
        return None
    # Unset means every GPU (we take the first); set but empty means none, as CUDA reads it.
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "0").split(",")[0].strip()
    try:
        if visible.startswith(("GPU-", "MIG-")):
            return nvml.nvmlDeviceGetHandleByUUID(visible)
        if visible.isdigit():
            if nvml.nvmlDeviceGetCount() == 0:
                return None
            return nvml.nvmlDeviceGetHandleByIndex(int(visible))
        return None  # CUDA_VISIBLE_DEVICES empty, -1 or similar: no GPU on purpose
    except nvml.NVMLError:
        return None


def gpu_info() -> GpuInfo | None:
    handle = _handle()
    if handle is None:
        return None
    nvml = _nvml()
    name = nvml.nvmlDeviceGetName(handle)
    return GpuInfo(name=name.decode() if isinstance(name, bytes) else name,
                   total_mib=nvml.nvmlDeviceGetMemoryInfo(handle).total // MIB,
                   compute_capability=tuple(nvml.nvmlDeviceGetCudaComputeCapability(handle)),
                   driver=str(nvml.nvmlSystemGetDriverVersion()))


def vram_reading(pid: int | None = None) -> dict:
    """Device used/total VRAM in MiB, and what process `pid` (and its children, e.g. vLLM workers) holds."""
    reading = {"vram_used_mib": None, "vram_total_mib": None, "vram_process_mib": None}
    handle = _handle()
    if handle is None:
        return reading
    nvml = _nvml()
    memory = nvml.nvmlDeviceGetMemoryInfo(handle)
    reading["vram_used_mib"] = memory.used // MIB
    reading["vram_total_mib"] = memory.total // MIB
    if pid is not None:
        pids = {pid} | _child_pids(pid)
        try:
            processes = nvml.nvmlDeviceGetComputeRunningProcesses(handle)
        except nvml.NVMLError:
            processes = []
        # usedGpuMemory is None where the driver cannot attribute memory (e.g. inside some containers).
        used = [p.usedGpuMemory for p in processes if p.pid in pids and p.usedGpuMemory is not None]
        reading["vram_process_mib"] = sum(used) // MIB if used else None
    return reading


def free_gib() -> float | None:
    """Memory free on the GPU now, as NVML sees it (None without one)."""
    reading = vram_reading()
    if reading["vram_total_mib"] is None:
        return None
    return (reading["vram_total_mib"] - reading["vram_used_mib"]) / 1024


def _child_pids(pid: int) -> set[int]:
    try:
        import psutil

        return {child.pid for child in psutil.Process(pid).children(recursive=True)}
    except Exception:  # psutil missing or the process gone: the parent alone is still a fair reading
        return set()
