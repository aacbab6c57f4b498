"""The training process's resource samples: CPU and memory from psutil, GPU from NVML."""

import subprocess
import sys
import time
import types

from model_zoo.finetune import resources
from model_zoo.finetune.resources import ResourceMonitor


def test_a_busy_child_shows_cpu_and_memory_and_the_monitor_ends_with_it():
    # About 200 MB held and one core busy for ~2 s.
    code = 'import time; a = b"x" * 200_000_000; t = time.time()\nwhile time.time() - t < 2: pass'
    child = subprocess.Popen([sys.executable, "-c", code])
    monitor = ResourceMonitor(child.pid, interval=0.2).start()
    child.wait(timeout=30)
    time.sleep(0.5)
    samples = monitor.samples()
    assert len(samples) >= 3
    assert max(s.rss_gb for s in samples) > 0.18
    assert max(s.cpu_percent for s in samples) > 20  # one core of this machine's cores
    assert all(0 <= s.cpu_percent <= 100.5 for s in samples)
    assert [s.seconds for s in samples] == sorted(s.seconds for s in samples)
    assert not monitor._thread.is_alive()  # the process ended, so did the sampling


def test_gpu_figures_come_from_nvml_when_there_is_one(monkeypatch):
    handles = ["gpu0", "gpu1"]
    fake = types.SimpleNamespace(
        nvmlInit=lambda: None,
        nvmlDeviceGetCount=lambda: len(handles),
        nvmlDeviceGetHandleByIndex=lambda i: handles[i],
        nvmlDeviceGetUtilizationRates=lambda h: types.SimpleNamespace(
            gpu={"gpu0": 40, "gpu1": 90}[h]
        ),
        nvmlDeviceGetMemoryInfo=lambda h: types.SimpleNamespace(used=2_000_000_000),
    )
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    assert resources.gpu_usage() == (90.0, 4.0)  # the busiest GPU, memory of all of them
    handles.clear()
    assert resources.gpu_usage() == (None, None)


def test_no_nvml_means_no_gpu_figures(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import fails
    assert resources.gpu_usage() == (None, None)
