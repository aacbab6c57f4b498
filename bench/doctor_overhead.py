"""What the data doctor adds to the time from upload to the first epoch.

The held-out-sized dataset (245 photos, the sample's synthetic shapes), two ways, each from
the zip's bytes, as the page does it:

(a) extract, start training, until the first epoch is logged;
(b) extract, run the doctor (``doctor.child.examine``: the feature pass, copies, labels,
    lint, the learning curve), then start training, which reuses the doctor's features.

The converted backbone is cached by an uncounted warm-up first, as on any server after
its first run. Random weights (time does not depend on weight values). The LAST line is
(b) / (a); the issue's goal is at most 1.30.

    python bench/doctor_overhead.py [--photos 245] [--runs 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model_zoo.archive import write_zip
from model_zoo.datasets import extract_dataset
from model_zoo.doctor.child import examine
from model_zoo.finetune.jobs import TrainingJob
from model_zoo.finetune.settings import TrainConfig
from model_zoo.sample import SAMPLE_CLASSES, sample_photo
from model_zoo.weights import weights_source


def dataset_zip(photos: int) -> bytes:
    import io

    import numpy as np

    rng = np.random.default_rng(0)
    entries = []
    for i in range(photos):
        shape = SAMPLE_CLASSES[i % len(SAMPLE_CLASSES)]
        buf = io.BytesIO()
        sample_photo(shape, rng, side=256).save(buf, "JPEG", quality=90)
        entries.append((f"{shape}/{i:04d}.jpg", buf.getvalue()))
    return write_zip(entries)


def to_first_epoch(data: bytes, config: TrainConfig, doctor: bool) -> tuple[float, float]:
    """(seconds from the bytes to the first epoch, of which the doctor's)."""
    with tempfile.TemporaryDirectory() as job, tempfile.TemporaryDirectory() as own:
        start = time.perf_counter()
        dataset = extract_dataset(data, Path(job))
        doctor_seconds = 0.0
        if doctor:
            examine(dataset, config, "random", Path(own))
            doctor_seconds = time.perf_counter() - start
        run = TrainingJob.start(dataset, config, weights_source("random"))
        try:
            while not run.snapshot().history:
                if not run.running:
                    raise RuntimeError(run.snapshot().error or "training ended early")
                time.sleep(0.05)
            return time.perf_counter() - start, doctor_seconds
        finally:
            run.stop()
            run.join(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=245)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    data = dataset_zip(args.photos)
    config = TrainConfig(epochs=3)
    to_first_epoch(data, config, doctor=False)  # converts and caches the backbone once
    plain = [to_first_epoch(data, config, False)[0] for _ in range(args.runs)]
    checked = [to_first_epoch(data, config, True) for _ in range(args.runs)]
    a = statistics.median(plain)
    b = statistics.median(t for t, _ in checked)
    doc = statistics.median(d for _, d in checked)
    print(f"{args.photos} photos, {config.backbone}, upload → first epoch:")
    print(f"  without the doctor: {a:.1f} s (median of {args.runs})")
    print(f"  with the doctor:    {b:.1f} s, of which the doctor {doc:.1f} s")
    print(f"doctor overhead on upload → first epoch: {b / a:.2f}")


if __name__ == "__main__":
    main()
