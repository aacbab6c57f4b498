"""What a training process uses while it runs: CPU, memory and, where there is one, the GPU,
sampled from outside the process (psutil; nvidia-ml-py for the GPU). No Keras."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

import psutil

MAX_SAMPLES = 3600  # an hour at one a second; older samples drop off


@dataclass(frozen=True)
class Sample:
    """One reading.

    Attributes:
        seconds: Since the monitor started.
        cpu_percent: Of the whole machine (100 = every core busy), the process and its
            children together.
        rss_gb: Resident memory of the process and its children.
        gpu_percent: Utilisation of the busiest GPU, None without one.
        gpu_memory_gb: Memory used on all GPUs, None without one.
    """

    seconds: float
    cpu_percent: float
    rss_gb: float
    gpu_percent: float | None = None
    gpu_memory_gb: float | None = None


def gpu_usage() -> tuple[float | None, float | None]:
    """(utilisation % of the busiest GPU, GB used on all of them), or (None, None)."""
    try:
        import pynvml

        pynvml.nvmlInit()
        handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
        if not handles:
            return None, None
        busy = max(float(pynvml.nvmlDeviceGetUtilizationRates(h).gpu) for h in handles)
        used = sum(pynvml.nvmlDeviceGetMemoryInfo(h).used for h in handles) / 1e9
        return busy, used
    except Exception:  # not installed, no driver, no GPU: the chart shows CPU and memory
        return None, None


class ResourceMonitor:
    """Samples a process (and its children) every ``interval`` seconds in a daemon thread
    until it ends or ``stop`` is called."""

    def __init__(self, pid: int, interval: float = 1.0) -> None:
        self.pid, self.interval = pid, interval
        self._samples: deque[Sample] = deque(maxlen=MAX_SAMPLES)
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="model-zoo-resources", daemon=True)

    def start(self) -> ResourceMonitor:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._done.set()

    def samples(self) -> tuple[Sample, ...]:
        with self._lock:
            return tuple(self._samples)

    def _run(self) -> None:
        try:
            process = psutil.Process(self.pid)
        except psutil.Error:
            return
        cores = psutil.cpu_count() or 1
        seen: dict[int, psutil.Process] = {}  # cpu_percent counts from each object's last call
        start = time.monotonic()
        while not self._done.wait(self.interval):
            try:
                family = [process, *process.children(recursive=True)]
                cpu = rss = 0.0
                for member in family:
                    tracked = seen.setdefault(member.pid, member)
                    with member.oneshot():
                        cpu += tracked.cpu_percent()
                        rss += member.memory_info().rss
            except psutil.Error:  # the process ended
                return
            gpu, gpu_memory = gpu_usage()
            sample = Sample(time.monotonic() - start, cpu / cores, rss / 1e9, gpu, gpu_memory)
            with self._lock:
                self._samples.append(sample)
