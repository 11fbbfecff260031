"""What this machine offers, read once: the GPU (NVML, no torch) and whether the app runs in CPU demo mode."""

from __future__ import annotations

import os
from functools import lru_cache

from engine import gpu

CPU_DEMO_VARIABLE = "GRPO_STUDIO_CPU_DEMO"
CPU_DEMO_REASON_VARIABLE = "GRPO_STUDIO_CPU_DEMO_REASON"  # the Docker preflight's paragraph on why


def cpu_demo_requested() -> bool:
    return os.environ.get(CPU_DEMO_VARIABLE, "").strip().lower() in ("1", "true", "yes")


def hide_gpu_in_cpu_demo() -> None:
    """CPU demo asked for (or the preflight found the GPU unusable): hide any GPU from this process and the runs it
    starts, so that nothing tries CUDA. -1 rather than empty: CUDA and engine.gpu both read -1 as "no GPU"."""
    if cpu_demo_requested():
        os.environ["CUDA_VISIBLE_DEVICES"] = "-1"


@lru_cache(maxsize=1)
def gpu_info() -> gpu.GpuInfo | None:
    return None if cpu_demo_requested() else gpu.gpu_info()


@lru_cache(maxsize=1)
def visible_gpus() -> tuple[gpu.GpuInfo, ...]:
    return () if cpu_demo_requested() else tuple(gpu.visible_gpus())


def has_gpu() -> bool:
    return gpu_info() is not None


def cpu_demo_mode() -> bool:
    return cpu_demo_requested() or not has_gpu()


def cpu_demo_reason() -> str:
    return os.environ.get(CPU_DEMO_REASON_VARIABLE, "").strip()
