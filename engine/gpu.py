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
    index: int = 0  # as nvidia-smi numbers it (NVML's index: PCI bus order)

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


def _visible_handles() -> list:
    """The GPUs this process may use, in CUDA_VISIBLE_DEVICES order (indices or UUIDs); every GPU when it is unset.
    Set but empty, or -1, means none, as CUDA reads it."""
    nvml = _nvml()
    if nvml is None:
        return []
    try:
        count = nvml.nvmlDeviceGetCount()
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        if visible is None:
            return [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        handles = []
        for entry in (part.strip() for part in visible.split(",")):
            if entry.startswith(("GPU-", "MIG-")):
                handles.append(nvml.nvmlDeviceGetHandleByUUID(entry))
            elif entry.isdigit() and int(entry) < count:
                handles.append(nvml.nvmlDeviceGetHandleByIndex(int(entry)))
            else:
                break  # CUDA stops at the first entry it cannot read ("-1" hides every GPU)
        return handles
    except nvml.NVMLError:
        return []


def _handle():
    """The GPU this process would train on: the first visible one."""
    handles = _visible_handles()
    return handles[0] if handles else None


def _describe(handle) -> GpuInfo:
    nvml = _nvml()
    name = nvml.nvmlDeviceGetName(handle)
    return GpuInfo(name=name.decode() if isinstance(name, bytes) else name,
                   total_mib=nvml.nvmlDeviceGetMemoryInfo(handle).total // MIB,
                   compute_capability=tuple(nvml.nvmlDeviceGetCudaComputeCapability(handle)),
                   driver=str(nvml.nvmlSystemGetDriverVersion()), index=nvml.nvmlDeviceGetIndex(handle))


def gpu_info() -> GpuInfo | None:
    handle = _handle()
    return _describe(handle) if handle is not None else None


def visible_gpus() -> list[GpuInfo]:
    """Every GPU this process may use (an empty list without an NVIDIA GPU)."""
    nvml = _nvml()
    if nvml is None:
        return []
    try:
        return [_describe(handle) for handle in _visible_handles()]
    except nvml.NVMLError:
        return []


def _reading(handle, pids: set[int] | None) -> dict:
    nvml = _nvml()
    memory = nvml.nvmlDeviceGetMemoryInfo(handle)
    reading = {"vram_used_mib": memory.used // MIB, "vram_total_mib": memory.total // MIB, "vram_process_mib": None}
    if pids:
        try:
            processes = nvml.nvmlDeviceGetComputeRunningProcesses(handle)
        except nvml.NVMLError:
            processes = []
        # usedGpuMemory is None where the driver cannot attribute memory (e.g. inside some containers).
        used = [p.usedGpuMemory for p in processes if p.pid in pids and p.usedGpuMemory is not None]
        reading["vram_process_mib"] = sum(used) // MIB if used else None
    return reading


def vram_reading(pid: int | None = None) -> dict:
    """Device used/total VRAM in MiB of the first visible GPU, and what process `pid` (and its children, e.g. vLLM
    workers) holds there."""
    handle = _handle()
    if handle is None:
        return {"vram_used_mib": None, "vram_total_mib": None, "vram_process_mib": None}
    return _reading(handle, {pid} | _child_pids(pid) if pid is not None else None)


def vram_readings(indices: list[int], pid: int | None = None) -> list[dict]:
    """One reading per GPU (nvidia-smi's numbers, whatever this process's CUDA_VISIBLE_DEVICES), each with its
    `index`: what a run of several GPUs holds on each. `pid`'s children count as its own (training ranks, the vLLM
    server). GPUs NVML cannot read are left out."""
    nvml = _nvml()
    if nvml is None:
        return []
    pids = {pid} | _child_pids(pid) if pid is not None else None
    readings = []
    for index in indices:
        try:
            readings.append({"index": index, **_reading(nvml.nvmlDeviceGetHandleByIndex(index), pids)})
        except nvml.NVMLError:
            continue
    return readings


# NVML's clock-event reasons that slow a busy GPU down (idle and the application-clock setting are left out).
SLOWDOWNS = {0x4: "power cap", 0x8: "hardware slowdown", 0x20: "software thermal", 0x40: "hardware thermal",
             0x80: "power brake"}


def clock_reading() -> dict | None:
    """The first visible GPU's SM and memory clocks (MHz), power (W), temperature (C) and the slowdowns it reports
    now: what can make the same work take longer on the same card (the benchmark records them). None without an
    NVIDIA GPU or where the driver does not say."""
    handle = _handle()
    if handle is None:
        return None
    nvml = _nvml()
    try:
        reasons = nvml.nvmlDeviceGetCurrentClocksThrottleReasons(handle)
        return {"sm_mhz": nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_SM),
                "sm_max_mhz": nvml.nvmlDeviceGetMaxClockInfo(handle, nvml.NVML_CLOCK_SM),
                "mem_mhz": nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_MEM),
                "power_w": round(nvml.nvmlDeviceGetPowerUsage(handle) / 1000, 1),
                "temperature_c": nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU),
                "slowdowns": [name for bit, name in SLOWDOWNS.items() if reasons & bit]}
    except nvml.NVMLError:
        return None


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
