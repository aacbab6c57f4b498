"""What the training runs on: the device panel's data."""

from __future__ import annotations

import os
from dataclasses import dataclass

from model_zoo import runtime


@dataclass(frozen=True)
class GpuInfo:
    """One visible GPU; memory in MiB and utilisation in % when nvidia-ml-py can tell."""

    name: str
    memory_used_mib: float | None = None
    memory_total_mib: float | None = None
    utilization_percent: float | None = None


@dataclass(frozen=True)
class DeviceInfo:
    gpus: tuple[GpuInfo, ...]
    cpu_cores: int

    @property
    def summary(self) -> str:
        if not self.gpus:
            return f"CPU · {self.cpu_cores} cores"
        names = ", ".join(g.name for g in self.gpus)
        return f"{len(self.gpus)} GPU{'s' if len(self.gpus) > 1 else ''} · {names}"


def _visible(count: int) -> list[int]:
    """The GPU indices a child process may use: ``$CUDA_VISIBLE_DEVICES`` where it lists
    indices (empty: none), else all."""
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is None:
        return list(range(count))
    chosen = []
    for part in listed.split(","):
        part = part.strip()
        if not part.isdigit():
            break  # CUDA stops at the first entry it cannot read
        if int(part) < count:
            chosen.append(int(part))
    return chosen


def _gpus() -> list[GpuInfo]:
    try:
        import pynvml

        pynvml.nvmlInit()
        found = []
        for index in _visible(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            name = pynvml.nvmlDeviceGetName(handle)
            memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
            util = pynvml.nvmlDeviceGetUtilizationRates(handle)
            found.append(
                GpuInfo(
                    name.decode() if isinstance(name, bytes) else str(name),
                    memory.used / 2**20,
                    memory.total / 2**20,
                    float(util.gpu),
                )
            )
        return found
    except Exception:  # not installed, no driver, or no permission: no GPU to show
        return []


def device_info() -> DeviceInfo:
    """The GPUs a training process can use (NVIDIA's management library, nvidia-ml-py,
    where installed and a driver answers), else the CPU cores. No TensorFlow: the server
    asks, and TensorFlow stays in the training process."""
    return DeviceInfo(tuple(_gpus()), runtime.available_cpus())
