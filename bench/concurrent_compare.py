"""Many visitors at once: five-model Compare throughput and latency with 1, 2, 4 and 8
concurrent sessions (threads, as the server's script runs are), with the per-model
micro-batcher (``model_zoo.batching``) and without it (one request at a time, as before),
against OpenVINO's own throughput mode on the same models (the bound), then the same with
a training run going: as it runs (background priority, ``children.lower_priority``) and
put back to normal priority (the baseline; needs the right to lower a nice value, root).
Random weights (speed does not depend on weight values); every request is a new photo. The
LAST line is throughput at 8 sessions as a share of the bound.

    python bench/concurrent_compare.py [--seconds 8] [--no-training]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from model_zoo.compare.inference import MERGED_IMAGES, Classifier, compare, load_classifiers
from model_zoo.engine import engine_settings
from model_zoo.registry import MODELS

SESSIONS = (1, 2, 4, 8)


def photo(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (300, 400, 3), dtype=np.uint8)


def run_sessions(
    classifiers: list[Classifier], sessions: int, seconds: float
) -> tuple[float, float]:
    """(images per second, median latency in ms) of ``sessions`` threads comparing."""
    latencies: list[float] = []
    stop = time.monotonic() + seconds
    lock = threading.Lock()

    def session(index: int) -> None:
        n = 0
        while time.monotonic() < stop:
            image = photo(1000 * index + n)
            start = time.perf_counter()
            compare(classifiers, [image])
            with lock:
                latencies.append(time.perf_counter() - start)
            n += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=session, args=(i,)) for i in range(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    return len(latencies) / wall, 1000 * statistics.median(latencies)


def throughput_bound(classifiers: list[Classifier], seconds: float) -> float:
    """Five-model images/s of OpenVINO's THROUGHPUT mode (streams, its own request count)."""
    import openvino as ov

    core = ov.Core()
    total = 0.0
    for c in classifiers:
        xml = c.engine.xml  # type: ignore[attr-defined]
        compiled = core.compile_model(
            str(xml),
            "CPU",
            {"PERFORMANCE_HINT": "THROUGHPUT", "INFERENCE_PRECISION_HINT": c.engine.precision},  # type: ignore[attr-defined]
        )
        queue = ov.AsyncInferQueue(
            compiled, compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")
        )
        size = c.spec.input_size
        x = np.random.default_rng(0).uniform(0, 255, (1, size, size, 3)).astype(np.float32)
        for _ in range(len(queue)):  # warm
            queue.start_async(x)
        queue.wait_all()
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / len(classifiers):
            queue.start_async(x)
            done += 1
        queue.wait_all()
        total += (time.perf_counter() - start) / done  # seconds per image for this model
        del queue, compiled
    return 1 / total


def table(
    classifiers: list[Classifier], seconds: float, title: str
) -> dict[int, tuple[float, float]]:
    figures = {}
    for merged in (1, MERGED_IMAGES):
        for c in classifiers:
            c._batcher.max_images = merged
        for n in SESSIONS:
            rate, p50 = run_sessions(classifiers, n, seconds)
            if merged == MERGED_IMAGES:
                figures[n] = (rate, p50)
            label = "one at a time" if merged == 1 else f"merged up to {merged}"
            print(f"{title}: {n} sessions, {label:<16} {rate:5.1f} images/s, p50 {p50:5.0f} ms")
    return figures


def start_training() -> object:
    """A real training run (the worker child, as the page starts it), kept busy."""
    from model_zoo.datasets import extract_dataset
    from model_zoo.finetune.folders import new_job_folder
    from model_zoo.finetune.jobs import TrainingJob
    from model_zoo.finetune.settings import TrainConfig
    from model_zoo.weights import weights_source
    from tests.conftest import colour_class_zip

    folder = new_job_folder()
    dataset = extract_dataset(colour_class_zip(per_class=40, side=96), Path(folder.name))
    config = TrainConfig(
        backbone="resnet50", epochs=50, augment=True, batch_size=16, image_size=160
    )
    job = TrainingJob.start(dataset, config, weights_source("random"), time_limit=600)
    time.sleep(20)  # past TensorFlow's start: training proper
    return job, folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--no-training", action="store_true")
    args = parser.parse_args()
    classifiers = load_classifiers(list(MODELS), "random", engine_settings())
    print(f"engine: {classifiers[0].engine_label}")
    run_sessions(classifiers, 1, 2)  # warm
    bound = throughput_bound(classifiers, 4 * args.seconds)
    print(f"OpenVINO throughput mode (the bound): {bound:.1f} images/s")
    quiet = table(classifiers, args.seconds, "quiet")
    if not args.no_training:
        job, folder = start_training()
        try:
            table(classifiers, args.seconds, "training")
            pid = job._child.pid  # type: ignore[attr-defined]
            try:
                os.setpriority(os.PRIO_PROCESS, pid, 0)
                Path(f"/proc/{pid}/autogroup").write_text("0")
            except OSError as err:
                print(f"(cannot put training back to normal priority: {err})")
            else:
                table(classifiers, args.seconds, "training at normal priority")
        finally:
            job.cancel("bench done")  # type: ignore[attr-defined]
            job.join(30)  # type: ignore[attr-defined]
            folder.cleanup()  # type: ignore[attr-defined]
    print(
        f"throughput at 8 sessions {quiet[8][0]:.1f} images/s, bound {bound:.1f}: "
        f"{quiet[8][0] / bound:.2f} of the bound"
    )


if __name__ == "__main__":
    main()
