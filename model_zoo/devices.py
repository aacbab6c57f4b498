"""What the training runs on: the device panel's data."""

from __future__ import annotations

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


def _nvml(index: int) -> tuple[float | None, float | None, float | None]:
    try:
        import pynvml

        pynvml.nvmlInit()
        handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
        util = pynvml.nvmlDeviceGetUtilizationRates(handle)
        return memory.used / 2**20, memory.total / 2**20, float(util.gpu)
    except Exception:  # not installed, no driver, or no permission: the panel shows less
        return None, None, None


def device_info() -> DeviceInfo:
    """GPUs TensorFlow sees (with nvidia-ml-py's figures where present), else CPU cores."""
    tf = runtime.tensorflow()
    gpus = []
    for index, device in enumerate(tf.config.list_physical_devices("GPU")):
        details = tf.config.experimental.get_device_details(device)
        used, total, util = _nvml(index)
        if used is None:
            try:
                used = tf.config.experimental.get_memory_info(f"GPU:{index}")["current"] / 2**20
            except (ValueError, RuntimeError):
                used = None
        gpus.append(GpuInfo(details.get("device_name", device.name), used, total, util))
    return DeviceInfo(tuple(gpus), runtime.available_cpus())
